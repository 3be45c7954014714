"""Load a dataset source into a persistent FiftyOne dataset with FiftyOne's own importers.

Splits become sample tags (``train`` / ``val`` / ``test``), FiftyOne's convention.
Loading the same source again reuses the persistent dataset: new files are added,
vanished ones removed, the rest kept with their review tags and fields.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from workbench._fo import fiftyone
from workbench.errors import SourceError
from workbench.io.boundary import is_within
from workbench.io.box_checks import check_boxes
from workbench.io.coco_checks import validate_coco
from workbench.io.instance_masks import add_coco_mask_shapes
from workbench.io.reload import merge_into
from workbench.io.sources import SourceSpec, coco_images_dir, read_json, resolve_source
from workbench.io.yolo_labels import read_yolo_dataset

log = logging.getLogger(__name__)

LABEL_FIELD = "ground_truth"
INFO_KEY = "workbench"


def default_dataset_name(root: Path) -> str:
    """A stable dataset name for a source path: ``wb-<folder>-<hash of the absolute path>``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", root.name).strip("-")[:40] or "dataset"
    return f"wb-{slug}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}"


def load(source: str | Path, format: str = "auto", *, name: str | None = None,
         images: str | Path | None = None, label_field: str = LABEL_FIELD,
         refresh: bool = True, overwrite: bool = False, allow_outside_root: bool = False) -> Any:
    """Load ``source`` into a persistent FiftyOne dataset and return it.

    Args:
        source: a folder or annotation file (see :func:`workbench.io.sources.resolve_source`),
            or the name of an existing FiftyOne dataset.
        format: ``auto`` (recognised by content) or a registered format (:mod:`workbench.io.formats.registry`).
        name: the FiftyOne dataset name; default derived from the source path.
        images: COCO only: the folder the JSON's ``file_name`` entries are relative to.
        label_field: the field the labels are loaded into.
        refresh: when the dataset exists, re-read the source and merge changes by filepath.
        overwrite: delete an existing dataset of that name and load from scratch.
        allow_outside_root: read annotation files that resolve outside the dataset folder (YOLO
            label files and image lists); by default they are reported, never read.

    Returns:
        A persistent ``fiftyone.core.dataset.Dataset``. Annotation problems found while
        loading are kept in ``dataset.info["workbench"]["load_problems"]``.

    Raises:
        SourceError: the source is missing, unrecognised or its annotations can't be read.

    Example:
        >>> ds = load("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> ds.count_sample_tags()  # doctest: +SKIP
        {'train': 1105, 'test': 285}
    """
    fo = fiftyone()
    if not Path(source).expanduser().exists() and fo.dataset_exists(str(source)):
        return fo.load_dataset(str(source))
    spec = resolve_source(source, format, images=images)
    name = name or default_dataset_name(spec.root)

    if fo.dataset_exists(name):
        if overwrite:
            fo.delete_dataset(name)
        else:
            dataset = fo.load_dataset(name)
            _check_same_source(dataset, spec)
            if refresh and spec.format == "imagefolder":
                # Labels and splits follow from the paths: only files not in the dataset are read.
                problems = _refresh_imagefolder(dataset, spec, label_field)
                _record_source(dataset, spec, problems, label_field)
            elif refresh:
                fresh, problems = _import(spec, label_field, persistent=False, allow_outside_root=allow_outside_root)
                try:
                    merge_into(dataset, fresh)
                finally:
                    fresh.delete()
                _record_source(dataset, spec, problems, label_field)
            return dataset

    dataset, problems = _import(spec, label_field, persistent=True, name=name,
                                allow_outside_root=allow_outside_root)
    _record_source(dataset, spec, problems, label_field)
    log.info("loaded %d samples from %s (%s) into FiftyOne dataset %r",
             len(dataset), spec.root, spec.format, dataset.name)
    return dataset


def _check_same_source(dataset: Any, spec: SourceSpec) -> None:
    """Refuse to refresh a dataset from another source: that would delete its samples and review tags."""
    recorded = dataset.info.get(INFO_KEY, {}).get("source")
    if recorded == str(spec.root):
        return
    origin = f"was loaded from {recorded}" if recorded else "was not loaded by workbench"
    raise SourceError(f"FiftyOne dataset {dataset.name!r} already exists and {origin}, not {spec.root}; "
                      "loading this source into it would replace its samples and review tags. Pass another "
                      "--name, or --overwrite to delete it and load afresh")


def _record_source(dataset: Any, spec: SourceSpec, problems: list[dict], label_field: str) -> None:
    info = dict(dataset.info.get(INFO_KEY, {}))
    roots = [str(spec.root)] + ([str(spec.images_dir)] if spec.images_dir is not None else [])
    info.update({"source": str(spec.root), "roots": roots, "format": spec.format, "label_field": label_field,
                 "load_problems": problems[:1000], "n_load_problems": len(problems)})
    dataset.info[INFO_KEY] = info
    dataset.save()


def _refresh_imagefolder(dataset: Any, spec: SourceSpec, label_field: str) -> list[dict]:
    """Add the files that are new in an image-folder source and drop the vanished ones.

    The folders are listed by :func:`_class_tree` (the rules of FiftyOne's
    ``ImageClassificationDirectoryTree`` importer: the first folder is the class, folders
    starting with ``.`` are skipped, ``_unlabeled`` means no label; its class list is recorded
    the same way), and only the samples whose paths the dataset lacks are created: the rest keep
    their fields and review tags untouched, and a 1% change costs about 1% of a full import. A
    test checks the result against a fresh load. Returns the listing's problems.
    """
    from fiftyone.utils.data.importers import parse_dataset_info

    fo = fiftyone()
    ids, paths = dataset.values(["id", "filepath"])
    known = set(paths)
    listed: set[str] = set()
    problems: list[dict] = []
    added = 0
    for split, root in spec.parts:
        found, classes, found_problems = _class_tree(root)
        problems += found_problems
        listed.update(path for path, _ in found)
        new_samples = [fo.Sample(filepath=path, tags=[split] if split else [],
                                 **({label_field: fo.Classification(label=label)} if label is not None else {}))
                       for path, label in found if path not in known]
        if new_samples:
            added += len(dataset.add_samples(new_samples, progress=False))
        if classes:
            parse_dataset_info(dataset, {"classes": classes})
    gone = [sid for sid, fp in zip(ids, paths) if fp not in listed]
    if gone:
        log.info("removing %d samples whose files are no longer in the source", len(gone))
        dataset.delete_samples(gone)
    log.info("refreshed %r from %s: %d new, %d removed", dataset.name, spec.root, added, len(gone))
    return problems


def _class_tree(root: Path) -> tuple[list[tuple[str, str | None]], list[str], list[dict]]:
    """``([(path, class or None)], classes, problems)`` of a class-folder tree, as FiftyOne's importer lists it.

    Unlike FiftyOne's ``ImageClassificationDirectoryTree`` importer, which stops the whole import
    at the first file that isn't an image (``Thumbs.db``, ``README.txt``, ``notes.json``), files
    whose names FiftyOne doesn't take for images are skipped (hidden ones silently, the others
    with a warning naming the first few), and a file name that isn't valid UTF-8 (which FiftyOne's
    database can't store) is reported by its escaped name instead of aborting the import.
    """
    import eta.core.utils as etau
    from fiftyone.core.media import IMAGE, get_media_type
    from fiftyone.core.storage import normalize_path

    found: list[tuple[str, str | None]] = []
    classes: set[str] = set()
    problems: list[dict] = []
    skipped: list[str] = []
    for rel in etau.list_files(str(root), recursive=True):
        chunks = rel.split(os.path.sep, 1)
        if len(chunks) == 1 or chunks[0].startswith("."):
            continue
        path = os.path.join(str(root), rel)
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            problems.append({"source": shown, "kind": "annotation", "file_name": shown,
                             "message": "the file name is not valid UTF-8, which FiftyOne can't store; the file "
                                        "was not loaded: rename it"})
            continue
        if os.path.basename(rel).startswith("."):
            continue  # .DS_Store and the like
        if get_media_type(path) != IMAGE:
            skipped.append(rel)
            continue
        label = None if chunks[0] == "_unlabeled" else chunks[0]
        if label is not None:
            classes.add(label)
        found.append((normalize_path(path), label))
    if skipped:
        log.warning("%s: %d files in the class folders are not images and were skipped (%s%s)", root, len(skipped),
                    ", ".join(skipped[:5]), ", ..." if len(skipped) > 5 else "")
    return found, sorted(classes), problems


def _import(spec: SourceSpec, label_field: str, *, persistent: bool, name: str | None = None,
            allow_outside_root: bool = False) -> tuple[Any, list[dict]]:
    """Each part of ``spec`` added by its format's registered importer (:mod:`workbench.io.formats.registry`)."""
    from workbench.io.formats.registry import get_format

    layout = get_format(spec.format)
    fo = fiftyone()
    dataset = fo.Dataset(name=name, persistent=persistent)
    problems: list[dict] = []
    try:
        for split, path in spec.parts:
            problems += layout.call("importer", dataset, spec, split, path, label_field, [split] if split else None,
                                    allow_outside_root=allow_outside_root)
        if layout.check_boxes:  # boxes parsed by FiftyOne itself: bounds checked here
            problems += check_boxes(dataset, label_field, source=str(spec.root))
    except SourceError:
        dataset.delete()
        raise
    except Exception as exc:  # FiftyOne's importers raise many types on bad input
        dataset.delete()
        raise SourceError(f"FiftyOne could not import {spec.format} data from {spec.root}: "
                          f"{type(exc).__name__}: {exc}; check the annotations or pass --format") from exc
    return dataset, problems


def import_class_tree(dataset: Any, spec: SourceSpec, split: str | None, root: Path, label_field: str,
                      tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """Class folders listed by :func:`_class_tree` (stray files skipped), as FiftyOne's tree importer adds them."""
    from fiftyone.utils.data.importers import parse_dataset_info

    fo = fiftyone()
    found, classes, problems = _class_tree(root)
    samples = [fo.Sample(filepath=path, tags=list(tags or []),
                         **({label_field: fo.Classification(label=label)} if label is not None else {}))
               for path, label in found]
    if samples:
        dataset.add_samples(samples, progress=False)
    if classes:
        parse_dataset_info(dataset, {"classes": classes})
    return problems


def import_coco(dataset: Any, spec: SourceSpec, split: str | None, labels_path: Path, label_field: str,
                tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """A COCO detection JSON, validated first: bad entries are dropped and reported, the file is never changed.

    Segmentations are not loaded as masks: each is summarised on its object (``wb_mask``, see
    :mod:`workbench.io.instance_masks`) for the objects check's mask/box comparison."""
    fo = fiftyone()
    raw = read_json(labels_path)
    images_dir = spec.images_dir or coco_images_dir(labels_path, split)

    def measure(file_name: str) -> tuple[int, int] | None:  # for images whose JSON entry lacks a size
        from PIL import Image

        path = images_dir / file_name
        if not is_within(str(path), [os.path.realpath(r) for r in (spec.root, images_dir)]):
            return None  # the dataset root is a boundary: a file outside it is never opened
        try:
            with Image.open(path) as img:
                return img.size
        except (OSError, ValueError, Image.DecompressionBombError):  # missing or not an image
            return None

    clean, problems = validate_coco(raw, source=str(labels_path), measure=measure)
    clean, not_images = _drop_non_image_entries(clean, labels_path, images_dir, (spec.root, images_dir))
    problems += not_images
    clean = add_coco_mask_shapes(clean)  # instance masks summarised on each annotation (wb_mask)
    with tempfile.TemporaryDirectory(prefix="workbench-coco-") as tmp:
        path = labels_path
        if problems or clean != raw:
            # Import a cleaned copy (entries dropped, boxes clipped, sizes filled in, masks summarised);
            # the user's annotation file is never modified.
            path = Path(tmp) / labels_path.name
            path.write_text(json.dumps(clean), encoding="utf-8")
            if problems:
                log.warning("%s: %d annotation problems (bad entries dropped, boxes clipped; see the audit's "
                            "file problems)", labels_path, len(problems))
        # A file_name -> path map (FiftyOne accepts a dict) keeps images whose files are
        # missing as samples, so the integrity check reports them instead of the import failing.
        data_map = {img["file_name"]: str(images_dir / img["file_name"]) for img in clean["images"]}
        dataset.add_dir(dataset_type=fo.types.COCODetectionDataset, data_path=data_map,
                        labels_path=str(path), label_types=["detections"], label_field=label_field,
                        tags=tags)
    if split is None and not tags:
        _tag_image_splits(dataset, clean["images"], images_dir)
    _set_image_licences(dataset, clean["images"], images_dir)
    return problems


def _set_image_licences(dataset: Any, images: list[dict], images_dir: Path) -> None:
    """Each image's COCO ``license`` id, as text, in the sample field ``license`` (the licences check counts them)."""
    def text(value: object) -> str | None:
        if isinstance(value, bool) or value is None or value == "":
            return None
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else None
        return str(value) if isinstance(value, (int, str)) else None

    wanted = {os.path.normpath(os.path.abspath(images_dir / str(img["file_name"]))): lid
              for img in images if (lid := text(img.get("license"))) is not None}
    if not wanted:
        return
    values = {sid: wanted[path] for sid, path in zip(*dataset.values(["id", "filepath"])) if path in wanted}
    if values:
        dataset.set_values("license", values, key_field="id")


def _image_split(img: dict) -> str | None:
    """A COCO image entry's split: its ``split`` key, else the first folder of its ``file_name``
    (``train/0001.jpg``), when either is a split's name (``train``, ``val``, ``test`` and their synonyms)."""
    from workbench.io.sources import SPLIT_NAMES

    parts = Path(str(img.get("file_name", ""))).parts
    for value in (img.get("split"), parts[0] if len(parts) > 1 else None):
        if isinstance(value, str) and value.strip().lower() in SPLIT_NAMES:
            return SPLIT_NAMES[value.strip().lower()]
    return None


def _tag_image_splits(dataset: Any, images: list[dict], images_dir: Path) -> None:
    """Tag the samples of one split-less COCO JSON with each image's own split (:func:`_image_split`)."""
    wanted = {os.path.normpath(os.path.abspath(images_dir / str(img["file_name"]))): s
              for img in images if (s := _image_split(img))}
    if not wanted:
        return
    by_split: dict[str, list[str]] = {}
    for sid, path in zip(*dataset.values(["id", "filepath"])):
        if path in wanted:
            by_split.setdefault(wanted[path], []).append(sid)
    for split_name, ids in by_split.items():
        dataset.select(ids).tag_samples(split_name)


def _drop_non_image_entries(coco: dict, labels_path: Path, images_dir: Path, roots: tuple[Path, ...]
                            ) -> tuple[dict, list[dict]]:
    """Leave out (and report) COCO images whose ``file_name`` FiftyOne can't take for an image.

    FiftyOne decides an image by its file name's extension and stops the whole import at the
    first other one (``../../etc/hostname``, ``notes``). Such an entry is reported, naming its
    ``file_name``: as lying outside the dataset folder when it resolves there (it is never
    opened), as missing when there is no such file, else as not an image file name. Its
    annotations are left out with it.
    """
    from fiftyone.core.media import IMAGE, get_media_type

    real_roots = [os.path.realpath(r) for r in roots]
    dropped: set[Any] = set()
    problems: list[dict] = []
    for img in coco.get("images", []):
        name = str(img.get("file_name"))
        path = images_dir / name
        if get_media_type(str(path)) == IMAGE:
            continue
        dropped.add(img.get("id"))
        if not is_within(str(path), real_roots):
            why = "resolves outside the dataset folder, so it is never opened (and its name is not an image file's)"
        elif not path.is_file():
            why = "does not exist, and its name has no image extension"
        else:
            why = "has no image file extension (FiftyOne takes only image file names); rename the file"
        problems.append({"source": str(labels_path), "kind": "annotation", "file_name": os.path.normpath(path),
                         "message": f"{labels_path.name}: image id {img.get('id')!r} file_name {name!r} {why}; "
                                    "the entry and its annotations were left out"})
    if not dropped:
        return coco, []
    kept = dict(coco, images=[i for i in coco["images"] if i.get("id") not in dropped],
                annotations=[a for a in coco.get("annotations", []) if a.get("image_id") not in dropped])
    return kept, problems


def import_yolo(dataset: Any, spec: SourceSpec, split: str | None, yaml_path: Path, label_field: str,
                tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """A YOLO dataset from its ``data.yaml`` (each image tagged with the split the YAML gives it), or a YOLOv4
    one from its ``obj.names`` (tagged ``tags``: the split folder it is in, if any)."""
    # Parsed here rather than by FiftyOne's YOLOv5 importer, which aborts on the first bad line,
    # names unknown class ids after the id and skips images without a label file.
    from fiftyone.utils.data.importers import parse_dataset_info

    from workbench.io.formats.yolo import darknet_config

    fo = fiftyone()
    darknet = spec.format == "yolov4"  # obj.names: no split
    parsed = read_yolo_dataset(yaml_path, allow_outside_root=allow_outside_root,
                               config=darknet_config(yaml_path) if darknet else None)
    samples = []
    for img in parsed.images:  # an image without a label file is a negative: empty Detections
        objects = [fo.Detection(label=b.label, bounding_box=list(b.bounding_box), confidence=b.confidence)
                   for b in img.boxes]
        samples.append(fo.Sample(filepath=img.filepath, tags=list(tags or []) if darknet else [img.split],
                                 **{label_field: fo.Detections(detections=objects)}))
    dataset.add_samples(samples, progress=False)
    parse_dataset_info(dataset, {"classes": list(parsed.classes)})
    if parsed.n_without_labels == len(parsed.images):
        log.warning("%s: none of the %d images has a label file (looked for labels/... beside images/, or a "
                    ".txt beside each image); all were kept as images without objects", yaml_path, len(parsed.images))
    elif parsed.n_without_labels:
        log.info("%s: %d images have no label file and were kept as images without objects",
                 yaml_path, parsed.n_without_labels)
    if parsed.problems:
        log.warning("%s: %d annotation problems (bad lines skipped, boxes dropped or clipped; see the audit's "
                    "file problems)", yaml_path, len(parsed.problems))
    return list(parsed.problems)
