"""Dataset layouts workbench reads, each recognised by what its files hold.

Every layout is one :class:`Layout`: its ``--format`` name, a line saying what ``SRC`` is,
and a detector that looks inside the files and returns a :class:`SourceSpec` or ``None``.
:func:`detect_layout` asks the detectors in :data:`LAYOUTS` order (layouts with a manifest
first, bare folders of images last), then looks into split folders (``train/``, ``val/``,
``test/``); :func:`force_layout` applies one layout and says what is missing when it
doesn't fit. Nothing here imports FiftyOne or pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from workbench.errors import SourceError
from workbench.io.formats import coco, cvat, fiftyone_exports, huggingface, images, segmentation, voc, yolo
from workbench.io.sources import FORMATS, SPLIT_NAMES, SourceSpec


@dataclass(frozen=True)
class Layout:
    """One dataset layout: its ``--format`` name, what ``SRC`` is, and its content detector."""

    name: str
    what: str
    detect: Callable[[Path], SourceSpec | None]
    #: Used when the format is forced: may accept what ``detect`` doubts, or raise saying what is missing.
    force: Callable[[Path], SourceSpec | None] | None = None
    #: Whether a folder of split folders (``train/``, ``val/``) each in this layout is read as one source.
    per_split: bool = True


#: Detection order: layouts with a manifest first, bare folders of images last.
LAYOUTS: tuple[Layout, ...] = (
    Layout("fiftyone", "a FiftyOneDataset export: samples.json + metadata.json", fiftyone_exports.detect_dataset),
    Layout("huggingface", "a Hugging Face datasets folder: save_to_disk output (dataset_dict.json or state.json "
           "+ .arrow files) or .parquet files with an image column", huggingface.detect, huggingface.force),
    Layout("yolo", "a YOLOv5/YOLOv8 dataset: data.yaml or dataset.yaml naming classes and train/val/test images",
           yolo.detect, yolo.force, per_split=False),
    Layout("voc", "a Pascal VOC dataset: Annotations/*.xml + JPEGImages/ (or labels/*.xml + data/), splits from "
           "ImageSets/Main/*.txt", voc.detect),
    Layout("cvat", "a CVAT image export: annotations.xml (or labels.xml) + images/ (or data/)", cvat.detect),
    Layout("fiftyone-classification", "a FiftyOneImageClassificationDataset export: data/ + labels.json",
           fiftyone_exports.detect_classification),
    Layout("fiftyone-detection", "a FiftyOneImageDetectionDataset export: data/ + labels.json",
           fiftyone_exports.detect_detection),
    Layout("coco", "a COCO detection JSON, or annotations/instances_<split>.json next to <split>2017/ or images/",
           coco.detect, coco.force, per_split=False),
    Layout("segmentation", "an image segmentation directory: data/ + labels/ (or images/ + masks/) of same-named "
           "images and masks", segmentation.detect),
    Layout("imagefolder", "class folders of images, optionally under train/ val/ test/", images.detect_class_tree,
           images.force_class_tree),
    Layout("imagedir", "a folder of unlabelled images (audited without labels)", images.detect_flat,
           images.force_flat),
)
_BY_NAME = {layout.name: layout for layout in LAYOUTS}
assert set(_BY_NAME) == set(FORMATS) - {"auto"}, "FORMATS and LAYOUTS disagree"


def supported_layouts() -> str:
    """One line per layout: the ``--format`` value that forces it and what ``SRC`` is."""
    return "\n".join(f"  --format {layout.name:<24} {layout.what}" for layout in LAYOUTS)


def detect_layout(root: Path) -> SourceSpec:
    """Recognise the layout of ``root`` (a folder or an annotation file) by content.

    Raises:
        SourceError: nothing recognisable; the message lists the supported layouts.

    Example:
        >>> detect_layout(Path("data/demo/fashion-mnist")).format  # doctest: +SKIP
        'imagefolder'
    """
    if root.is_file():
        for detect in (coco.detect_file, yolo.detect_file, cvat.detect_file):
            spec = detect(root)
            if spec is not None:
                return spec
        raise SourceError(f"{root} is not an annotation file workbench reads (a COCO detection JSON, a YOLO "
                          "data.yaml or a CVAT annotations.xml); pass the dataset folder instead, or one of:\n"
                          + supported_layouts())
    spec = _detect_folder(root)
    if spec is not None:
        return spec
    spec = coco.force(root, quiet=True)  # a COCO JSON whose images weren't found: its images are reported missing
    if spec is not None:
        return spec
    if not any(root.iterdir()):
        raise SourceError(f"{root} is empty; pass the folder that holds the dataset")
    notes = yolo.diagnose(root) + coco.diagnose(root) + _datasets_below(root)
    seen = "".join(f"\n  - {note}" for note in notes)
    raise SourceError(f"can't tell what {root} holds: none of the layouts workbench reads fits."
                      + (f" What was seen:{seen}\n" if notes else " ")
                      + f"Supported layouts (force one with --format):\n{supported_layouts()}")


def _detect_folder(root: Path) -> SourceSpec | None:
    """The first layout whose detector recognises ``root``, then split folders; None if none does."""
    split_dirs = _split_dirs(root)
    for layout in LAYOUTS:
        if split_dirs and layout.name in ("imagefolder", "imagedir"):
            break  # a folder of split folders: read each split below
        spec = layout.detect(root)
        if spec is not None:
            return spec
    return _detect_per_split(root, split_dirs) if split_dirs else None


def _datasets_below(root: Path, *, limit: int = 20) -> list[str]:
    """Sub-folders of ``root`` that hold a recognisable dataset (the user may have meant one of them)."""
    found = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))[:limit]:
        spec = _detect_folder(folder)
        if spec is not None:
            found.append(f"{folder.name}/ looks like a dataset ({spec.format}): pass {folder} as SRC")
    return found


def force_layout(root: Path, name: str) -> SourceSpec:
    """Read ``root`` as layout ``name`` (``--format``), or say why it isn't one.

    Raises:
        SourceError: ``root`` is not in that layout; the message says what the layout needs.
    """
    layout = _BY_NAME[name]
    if root.is_file():
        detect = {"coco": coco.force_file, "yolo": yolo.detect_file, "cvat": cvat.detect_file}.get(name)
        spec = detect(root) if detect else None
        if spec is None:
            raise SourceError(f"{root} is not {layout.what}; pass the dataset folder, or --format auto")
        return spec
    spec = layout.detect(root) or (layout.force(root) if layout.force else None)
    if spec is None and layout.per_split:
        spec = _detect_per_split(root, _split_dirs(root), only=layout)
    if spec is None:
        raise SourceError(f"--format {name}: {root} is not {layout.what}. Use --format auto to recognise the "
                          f"layout, or one of:\n{supported_layouts()}")
    return spec


def _split_dirs(root: Path) -> list[tuple[str, Path]]:
    return sorted((SPLIT_NAMES[d.name.lower()], d) for d in root.iterdir()
                  if d.is_dir() and d.name.lower() in SPLIT_NAMES)


def _detect_per_split(root: Path, split_dirs: list[tuple[str, Path]], *, only: Layout | None = None
                      ) -> SourceSpec | None:
    """Split folders that each hold the same layout, read as one source with a split per folder.

    A split folder without any image is ignored; one that holds images in another layout (or in
    none) makes the whole folder unrecognised rather than half read.
    """
    found: list[tuple[str, SourceSpec]] = []
    for split, folder in split_dirs:
        spec = None
        for layout in (only,) if only else LAYOUTS:
            if layout.per_split:
                spec = layout.detect(folder) or (layout.force(folder) if only and layout.force else None)
            if spec is not None:
                found.append((split, spec))
                break
        if spec is None and images.has_any_image(folder):
            return None
    if not found or len({(s.format, s.locations) for _, s in found}) != 1:
        return None
    parts = tuple((split, path) for split, spec in found for _, path in spec.parts)
    return replace(found[0][1], root=root, parts=parts)
