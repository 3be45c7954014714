"""Importers for the layouts beyond image folders, COCO and YOLO (those are in :mod:`workbench.io.loading`).

Each takes one part of a :class:`~workbench.io.sources.SourceSpec` and adds its samples to a
FiftyOne dataset with FiftyOne's own importer (``VOCDetectionDataset``, ``CVATImageDataset``,
``ImageSegmentationDirectory``, ``FiftyOneImage{Classification,Detection}Dataset``,
``ImageDirectory``), or with :mod:`workbench.io.hf_tables` for Hugging Face tables. Like the
COCO path, images whose files are missing stay samples (the integrity check reports them)
and unreadable annotation files are reported as load problems instead of stopping the import.
The user's files are only read; anything cleaned is a temporary copy.
"""

from __future__ import annotations

import logging
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Protocol

from workbench._fo import fiftyone
from workbench.errors import SourceError
from workbench.io.formats._probe import iter_images
from workbench.io.formats.voc import split_lists
from workbench.io.sources import SourceSpec, read_json, split_of_name

log = logging.getLogger(__name__)

class Importer(Protocol):
    """What a format registers as its ``importer`` (:mod:`workbench.io.formats.registry`): adds one part of a
    source (``path``, tagged ``tags``) to ``dataset`` and returns the annotation problems met. An importer
    that follows paths named in annotation files opens ones outside the dataset folder only when
    ``allow_outside_root``."""

    def __call__(self, dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                 tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]: ...


def _problem(source: Path, message: str) -> dict:
    return {"source": str(source), "kind": "annotation", "message": message, "file_name": str(source)}


def _media_map(data_dir: Path) -> dict[str, str]:
    """``{path relative to data_dir: absolute path}`` of its images, FiftyOne's ``data_path`` dict."""
    return {str(p.relative_to(data_dir)): str(p) for p in iter_images(data_dir)}


def _key(folder: Path, path: Path) -> str:
    return str(path.relative_to(folder).with_suffix(""))


# --- Pascal VOC -------------------------------------------------------------------------------

def _image_size(path: Path | None) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as img:  # type: ignore[arg-type]
            return img.size
    except (OSError, ValueError, TypeError, Image.DecompressionBombError):
        return None


def _voc_copy(xml: Path, target: Path, image: Path | None) -> tuple[str | None, list[str]]:
    """Copy ``xml`` to ``target`` for FiftyOne's VOC parser: ``(why it was skipped or None, object problems)``.

    An object FiftyOne's parser would stop on (no name, no numeric box, an empty box) is left out
    of the copy and named; the image keeps its other objects. A missing or unusable ``<size>`` is
    filled in from the image's header (FiftyOne needs it to place the boxes). The user's file is
    never modified.
    """
    try:
        tree = ET.parse(xml)
    except (ET.ParseError, OSError) as exc:
        return f"{xml.name} is not readable XML ({exc}); skipped, and its image with it", []
    root = tree.getroot()
    if root.tag != "annotation":
        return f"{xml.name} is not a VOC annotation (its root element is <{root.tag}>, not <annotation>); skipped, and its image with it", []
    dropped: list[str] = []
    for k, obj in enumerate(list(root.iter("object"))):
        why = _voc_object_problem(obj)
        if why is not None:
            dropped.append(f"{xml.name}: object {k} {why}; dropped")
            for parent in root.iter():
                if obj in list(parent):
                    parent.remove(obj)
                    break
    try:
        ok = all(float(root.findtext(f"size/{t}") or 0) > 0 for t in ("width", "height"))
    except ValueError:
        ok = False
    if not ok:
        measured = _image_size(image)
        if measured is None:
            return f"{xml.name} has no usable <size> and its image can't be measured; skipped", dropped
        size = root.find("size")
        if size is None:
            size = ET.SubElement(root, "size")
        for tag, value in zip(("width", "height"), measured):
            node = size.find(tag)
            (node if node is not None else ET.SubElement(size, tag)).text = str(value)
    target.parent.mkdir(parents=True, exist_ok=True)
    tree.write(target)
    return None, dropped


def _voc_object_problem(obj: ET.Element) -> str | None:
    """Why FiftyOne's VOC parser can't take this ``<object>``, or ``None``."""
    name = (obj.findtext("name") or "").strip()
    if not name:
        return "has no <name>"
    box = obj.find("bndbox")
    try:
        x0, y0, x1, y1 = (float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore
    except (AttributeError, TypeError, ValueError):
        return f"({name!r}) has no <bndbox> with numeric xmin, ymin, xmax, ymax"
    if x1 <= x0 or y1 <= y0:
        return f"({name!r}) has an empty box (xmin {x0:g}, ymin {y0:g}, xmax {x1:g}, ymax {y1:g}): no area"
    return None


def import_voc(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
               tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """One split of a VOC dataset: the ids in ``ImageSets/Main/<split>.txt``, or the annotations no list names."""
    fo = fiftyone()
    root = path.parents[2] if path.is_file() else path
    data_dir = root / spec.location("data", "data")
    labels_dir = root / spec.location("labels", "labels")
    xmls = {_key(labels_dir, p): p for p in sorted(labels_dir.rglob("*.xml")) if not p.name.startswith(".")}
    problems = []
    if path.is_file():
        ids = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        problems += [_problem(path, f"{path.name} lists {i} but {labels_dir.name}/{i}.xml does not exist")
                     for i in ids if i not in xmls]
        wanted = [i for i in ids if i in xmls]
    else:
        listed = {line.split()[0] for _, lst in split_lists(root)
                  for line in lst.read_text(encoding="utf-8").splitlines() if line.strip()}
        wanted = [k for k in xmls if k not in listed]
    data_map = _media_map(data_dir)
    by_key = {str(Path(k).with_suffix("")): Path(v) for k, v in data_map.items()}
    with tempfile.TemporaryDirectory(prefix="workbench-voc-") as tmp:
        n = 0
        for key in dict.fromkeys(wanted):
            why, dropped = _voc_copy(xmls[key], Path(tmp) / f"{key}.xml", by_key.get(key))
            problems += [_problem(xmls[key], d) for d in dropped]
            if why:
                problems.append(_problem(xmls[key], why))
                continue
            n += 1
            if key not in by_key:  # its image is missing: keep it as a sample, integrity reports it
                filename = ET.parse(xmls[key]).getroot().findtext("filename") or f"{key}.jpg"
                data_map[key + Path(filename).suffix] = str(data_dir / filename)
        if n:
            dataset.add_dir(dataset_type=fo.types.VOCDetectionDataset, data_path=data_map, labels_path=tmp,
                            label_field=label_field, tags=tags)
    return problems


# --- CVAT for images --------------------------------------------------------------------------

def _cvat_images(xml: Path) -> list[tuple[str, str | None]]:
    """``(name, subset)`` of every ``<image>`` of a CVAT annotation file, read incrementally."""
    out = []
    for _, elem in ET.iterparse(str(xml)):
        if elem.tag == "image":
            out.append((elem.get("name", ""), elem.get("subset")))
            elem.clear()
    return out


def import_cvat(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """A CVAT image export; ``<image subset="Train">`` attributes become split tags."""
    fo = fiftyone()
    data_dir = path / spec.location("data", "data")
    xml = path / spec.location("labels", "labels.xml")
    try:
        entries = _cvat_images(xml)
    except ET.ParseError as exc:
        raise SourceError(f"{xml} is not readable XML ({exc}); fix it or re-export from CVAT") from exc
    data_map = _media_map(data_dir)
    subset_splits: dict[str, list[str]] = {}
    for name, subset in entries:
        key = f"{subset}/{name}" if subset else name
        if key not in data_map:  # a subset folder, the folder itself, or missing (integrity reports it)
            nested = data_dir / subset / name if subset else None
            data_map[key] = str(nested if nested is not None and nested.is_file() else data_dir / name)
        if subset and split_of_name(subset):
            subset_splits.setdefault(split_of_name(subset), []).append(data_map[key])  # type: ignore[arg-type]
    fields = {"detections": label_field, "polylines": f"{label_field}_polylines",
              "keypoints": f"{label_field}_keypoints", "classifications": f"{label_field}_tags"}
    with tempfile.TemporaryDirectory(prefix="workbench-cvat-") as tmp:
        labels_path, problems = _cvat_clean_copy(xml, Path(tmp) / xml.name, data_dir)
        dataset.add_dir(dataset_type=fo.types.CVATImageDataset, data_path=data_map, labels_path=str(labels_path),
                        label_field=fields, tags=tags)
    for subset_split, paths in subset_splits.items():
        dataset.select_by("filepath", paths).tag_samples(subset_split)
    return problems


#: CVAT shape elements and the attributes holding their coordinates.
_CVAT_COORDINATES = {"box": ("xtl", "ytl", "xbr", "ybr"), "polygon": ("points",), "polyline": ("points",),
                     "points": ("points",)}


def _cvat_bad_coordinate(shape: ET.Element) -> str | None:
    """The first coordinate of a CVAT shape that isn't a finite number, as ``name='value'``, or None."""
    import math

    for attr in _CVAT_COORDINATES[shape.tag]:
        raw = shape.get(attr)
        values = (raw or "").replace(";", ",").split(",") if attr == "points" else [raw]
        for value in values:
            try:
                ok = math.isfinite(float(value))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                ok = False
            if not ok:
                return f"{attr}={raw!r}"
    return None


def _cvat_clean_copy(xml: Path, target: Path, data_dir: Path) -> tuple[Path, list[dict]]:
    """``(the XML to import, problems)``: shapes with a coordinate that isn't a number are left out of a copy.

    FiftyOne's CVAT parser stops the whole import at the first such coordinate (``ytl="nan"``,
    ``xtl="abc"``) without naming it; each one is reported naming the image and the shape, and
    the image keeps its other shapes. Without such shapes the user's file is imported as it is;
    it is never modified.
    """
    tree = ET.parse(xml)
    problems = []
    for image in tree.getroot().iter("image"):
        name = image.get("name", "")
        for k, shape in enumerate(list(image)):
            if shape.tag not in _CVAT_COORDINATES:
                continue
            bad = _cvat_bad_coordinate(shape)
            if bad is None:
                continue
            image.remove(shape)
            problems.append({"source": str(xml), "kind": "annotation", "file_name": str(data_dir / name),
                             "message": f"{xml.name}: image {name!r}: {shape.tag} {k} ({shape.get('label')!r}) has "
                                        f"a coordinate that is not a finite number ({bad}); shape dropped"})
    if not problems:
        return xml, []
    log.warning("%s: %d shapes with coordinates that aren't numbers were left out (see the audit's file problems)",
                xml, len(problems))
    tree.write(target, encoding="utf-8", xml_declaration=True)
    return target, problems


# --- FiftyOne's other layouts -----------------------------------------------------------------

def import_segmentation(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                        tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """Images and same-named masks; images without a mask are kept (no classes)."""
    fo = fiftyone()
    dataset.add_dir(dataset_type=fo.types.ImageSegmentationDirectory,
                    data_path=_media_map(path / spec.location("data", "data")),
                    labels_path=str(path / spec.location("labels", "labels")), include_all_data=True,
                    label_field=label_field, tags=tags)
    return []


def import_fiftyone_labels(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                           tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """``data/`` + ``labels.json`` of FiftyOne's image classification or detection export."""
    fo = fiftyone()
    dataset_type = (fo.types.FiftyOneImageClassificationDataset if spec.format == "fiftyone-classification"
                    else fo.types.FiftyOneImageDetectionDataset)
    data_dir = path / "data"
    data_map = _media_map(data_dir)
    known = {str(Path(k).with_suffix("")) for k in data_map}
    manifest = read_json(path / "labels.json")
    entries = manifest.get("labels") if isinstance(manifest, dict) else None
    for key in entries or {}:  # labelled images whose files are missing stay samples
        if key not in known and not Path(key).is_absolute():
            data_map[f"{key}.jpg"] = str(data_dir / f"{key}.jpg")
    dataset.add_dir(dataset_type=dataset_type, data_path=data_map, labels_path=str(path / "labels.json"),
                    include_all_data=True, label_field=label_field, tags=tags)
    return []


def import_fiftyone_dataset(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                            tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """A ``FiftyOneDataset`` export (its own fields and tags kept; ``tags``: a split folder of exports)."""
    fo = fiftyone()
    dataset.add_dir(dataset_dir=str(path), dataset_type=fo.types.FiftyOneDataset, **({"tags": tags} if tags else {}))
    return []


def import_imagedir(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                    tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """Unlabelled images, found recursively."""
    fo = fiftyone()
    dataset.add_dir(dataset_dir=str(path), dataset_type=fo.types.ImageDirectory, recursive=True, tags=tags)
    return []
