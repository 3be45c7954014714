"""Dataset formats by name: what ``--format`` offers, how each layout is recognised and how it is loaded.

Each format is one :class:`FormatSpec`: its ``--format`` name, a line saying what ``SRC`` is, and
the ``"module:function"`` paths of its detector and its importer (imported the first time they
run: listing the formats imports nothing). :func:`workbench.io.formats.detect_layout` asks the
detectors in :func:`layouts` order: the registration order, except that the layouts any folder of
images fits (``catch_all``: class folders, bare images) come after every layout with a manifest.
To add a format, write a detector and an importer and register them::

    register_format(FormatSpec("kitti", "a KITTI object export: image_2/ + label_2/*.txt",
                               detect="my_package.kitti:detect", importer="my_package.kitti:import_part"))

It is then offered by ``workbench audit --format``, recognised by ``--format auto`` and listed in
the message that refuses a folder nothing fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.errors import SourceError
from workbench.registry import Registry, check_object_path, load_object

#: The ``--format`` value that recognises the layout by content.
AUTO = "auto"

#: The fields of :class:`FormatSpec` that name a function.
_FUNCTIONS = ("detect", "importer", "force", "detect_file", "force_file", "diagnose")


@dataclass(frozen=True)
class FormatSpec:
    """One dataset layout. Every function is a ``"package.module:function"`` path, run by :meth:`call`.

    Example:
        >>> get_format("coco").per_split
        False
    """

    #: The ``--format`` value that forces this layout, and ``SourceSpec.format`` once recognised.
    name: str
    #: What ``SRC`` is, for the list of supported layouts: "a Pascal VOC dataset: Annotations/*.xml + ...".
    what: str
    #: ``detect(folder) -> SourceSpec | None``: the layout recognised by what the files hold, else None.
    detect: str
    #: ``importer(dataset, spec, split, path, label_field, tags, *, allow_outside_root) -> problems``:
    #: adds one part of the source to a FiftyOne dataset (:data:`workbench.io.importers.Importer`).
    importer: str
    #: ``force(folder) -> SourceSpec | None`` for ``--format NAME`` when ``detect`` doubts: may accept
    #: the folder anyway, or raise :class:`SourceError` saying what is missing.
    force: str | None = None
    #: Whether a folder of split folders (``train/``, ``val/``) each in this layout is read as one source.
    per_split: bool = True
    #: Any folder of images fits: asked after every layout with a manifest, and not on a folder of
    #: split folders (each split is looked into instead).
    catch_all: bool = False
    #: ``detect_file(path) -> SourceSpec | None``: an annotation file given as ``SRC``.
    detect_file: str | None = None
    #: What such a file is ("a COCO detection JSON"), for the message refusing a file.
    file_what: str | None = None
    #: ``force_file(path) -> SourceSpec`` for ``--format NAME`` on a file (default: ``detect_file``).
    force_file: str | None = None
    #: ``diagnose(folder) -> list[str]``: why files that look like this layout were not read.
    diagnose: str | None = None
    #: FiftyOne's importer parses the boxes itself: their bounds are checked after the import.
    check_boxes: bool = False

    def __post_init__(self) -> None:
        for role in _FUNCTIONS:
            path = getattr(self, role)
            if path is not None or role in ("detect", "importer"):
                check_object_path(path, what=f"{role} of format {self.name!r}")
        if (self.detect_file is None) != (self.file_what is None):
            raise ValueError(f"format {self.name!r}: detect_file and file_what go together")

    def call(self, role: str, *args: Any, **kwargs: Any) -> Any:
        """Run the function named by field ``role`` (``force_file`` falls back to ``detect_file``);
        ``None`` when the format has none."""
        if role not in _FUNCTIONS:
            raise ValueError(f"{role!r} is not a function of a format; one of {', '.join(_FUNCTIONS)}")
        path = getattr(self, role) or (self.detect_file if role == "force_file" else None)
        return None if path is None else load_object(path)(*args, **kwargs)


#: The registered formats. Change it through :func:`register_format` / :func:`unregister_format`.
REGISTRY: Registry[FormatSpec] = Registry("format", error=SourceError, reserved=(AUTO,))


#: The registry's own methods under names that say what they hold; ``get_format`` raises
#: :class:`SourceError` listing the registered names.
register_format = REGISTRY.register
unregister_format = REGISTRY.unregister
get_format = REGISTRY.get


def layouts() -> tuple[FormatSpec, ...]:
    """Every format in detection order: layouts with a manifest first, bare folders of images last."""
    specs = tuple(REGISTRY)
    return tuple(s for s in specs if not s.catch_all) + tuple(s for s in specs if s.catch_all)


def format_names() -> tuple[str, ...]:
    """The registered formats, in detection order."""
    return tuple(spec.name for spec in layouts())


def format_choices() -> tuple[str, ...]:
    """The ``--format`` values: ``auto`` and every registered format.

    Example:
        >>> format_choices()[:4]
        ('auto', 'fiftyone', 'huggingface', 'yolo')
    """
    return (AUTO, *format_names())


def _builtin(name: str, what: str, module: str, detect: str, importer: str, **options: str | bool) -> None:
    """Register a layout whose detectors live in ``workbench.io.formats.<module>``."""
    here = f"workbench.io.formats.{module}"
    paths = {k: f"{here}:{v}" if k in _FUNCTIONS else v for k, v in options.items()}
    register_format(FormatSpec(name, what, detect=f"{here}:{detect}", importer=importer, **paths))


_LOADING, _IMPORTERS = "workbench.io.loading", "workbench.io.importers"
# Registration order is detection order (the two catch-all layouts go last whatever the order).
_builtin("fiftyone", "a FiftyOneDataset export: samples.json + metadata.json", "fiftyone_exports", "detect_dataset",
         f"{_IMPORTERS}:import_fiftyone_dataset")
_builtin("huggingface", "a Hugging Face datasets folder: save_to_disk output (dataset_dict.json or state.json "
         "+ .arrow files) or .parquet files with an image column", "huggingface", "detect",
         "workbench.io.hf_tables:import_huggingface", force="force")
_builtin("yolo", "a YOLOv5/YOLOv8 dataset: data.yaml or dataset.yaml naming classes and train/val/test images",
         "yolo", "detect", f"{_LOADING}:import_yolo", force="force", per_split=False, detect_file="detect_file",
         file_what="a YOLO data.yaml", diagnose="diagnose")
_builtin("yolov4", "a YOLOv4 (Darknet) dataset: obj.names + images.txt (or data/), labels beside the images",
         "yolo", "detect_darknet", f"{_LOADING}:import_yolo")
_builtin("voc", "a Pascal VOC dataset: Annotations/*.xml + JPEGImages/ (or labels/*.xml + data/), splits from "
         "ImageSets/Main/*.txt", "voc", "detect", f"{_IMPORTERS}:import_voc", check_boxes=True)
_builtin("cvat", "a CVAT image export: annotations.xml (or labels.xml) + images/ (or data/)", "cvat", "detect",
         f"{_IMPORTERS}:import_cvat", detect_file="detect_file", file_what="a CVAT annotations.xml",
         check_boxes=True)
_builtin("fiftyone-classification", "a FiftyOneImageClassificationDataset export: data/ + labels.json",
         "fiftyone_exports", "detect_classification", f"{_IMPORTERS}:import_fiftyone_labels")
_builtin("fiftyone-detection", "a FiftyOneImageDetectionDataset export: data/ + labels.json",
         "fiftyone_exports", "detect_detection", f"{_IMPORTERS}:import_fiftyone_labels", check_boxes=True)
_builtin("coco", "a COCO detection JSON, or annotations/instances_<split>.json next to <split>2017/ or images/",
         "coco", "detect", f"{_LOADING}:import_coco", force="force", detect_file="detect_file",
         file_what="a COCO detection JSON", force_file="force_file", diagnose="diagnose")
_builtin("segmentation", "an image segmentation directory: data/ + labels/ (or images/ + masks/) of same-named "
         "images and masks", "segmentation", "detect", f"{_IMPORTERS}:import_segmentation")
_builtin("imagefolder", "class folders of images, optionally under train/ val/ test/", "images", "detect_class_tree",
         f"{_LOADING}:import_class_tree", force="force_class_tree", catch_all=True)
_builtin("imagedir", "a folder of unlabelled images (audited without labels)", "images", "detect_flat",
         f"{_IMPORTERS}:import_imagedir", force="force_flat", catch_all=True)
