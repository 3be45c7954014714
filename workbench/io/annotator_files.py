"""Add an annotator's export (COCO JSON) to a dataset as a label field, matched by file name, so the
agreement check can compare it with the other annotators (CLI ``--annotator-file NAME=path.json``).

The export must lie inside the dataset's folder (:mod:`workbench.io.boundary`) unless
``allow_outside_root``; its ``file_name`` entries are matched to the samples by their path relative to
that folder, else by a unique trailing path (``img1.png`` matches ``.../data/img1.png``). Entries that
match no sample, or that climb out of the folder (``../x.png``, absolute paths), are left out and
counted. Only the FiftyOne database is written; the export and the images are only read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotatorFile:
    """What :func:`add_annotator_file` added: the field, the samples it labelled, the objects, and the
    export's images that matched no sample (up to 20 named)."""

    field: str
    path: str
    n_matched: int
    n_objects: int
    n_unknown: int
    unknown: tuple[str, ...] = ()


def _sample_keys(dataset: Any, roots: tuple[str, ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``{path relative to a root: sample id}`` and ``{trailing path: [sample ids]}`` of every sample."""
    by_rel: dict[str, str] = {}
    by_tail: dict[str, list[str]] = {}
    for sid, fp in zip(*dataset.values(["id", "filepath"])):
        real = os.path.realpath(fp)
        for root in roots:
            if real.startswith(root.rstrip(os.sep) + os.sep):
                by_rel[Path(os.path.relpath(real, root)).as_posix()] = sid
        parts = Path(fp).parts
        for k in range(1, len(parts)):
            by_tail.setdefault("/".join(parts[-k:]), []).append(sid)
    return by_rel, by_tail


def add_annotator_file(dataset: Any, name: str, path: str | os.PathLike, *, allow_outside_root: bool = False,
                       ) -> AnnotatorFile:
    """Read the COCO export at ``path`` into the sample field ``name`` (``fo.Detections``) of ``dataset``.

    Raises:
        AnnotatorFieldError: a bad name, a field of that name the user already has, an export outside
            the dataset folder, unreadable or not COCO, or one that matches no sample.

    Example:
        >>> add_annotator_file(dataset, "ann_b", "data/ds/annotator_b.json").n_matched  # doctest: +SKIP
        120
    """
    from workbench._fo import PREFIX, fiftyone
    from workbench.errors import AnnotatorFieldError
    from workbench.io.boundary import dataset_roots, is_within

    fo = fiftyone()
    if not name.isidentifier() or name.startswith(PREFIX):
        raise AnnotatorFieldError(f"--annotator-file: {name!r} can't name a field; use letters, digits and _ "
                                  f"(not starting with {PREFIX})")
    info = dict(dataset.info.get("workbench", {}))
    ours = dict(info.get("annotator_files", {}))
    if name in dataset.get_field_schema() and name not in ours:
        raise AnnotatorFieldError(f"--annotator-file: the dataset already has a field {name!r} that workbench did "
                                  "not add; choose another name")
    roots = dataset_roots(info)
    real = os.path.realpath(path)
    if roots and not allow_outside_root and not is_within(real, roots):
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: the file is outside the dataset folder "
                                  f"({', '.join(roots)}) and is not read; move it inside or pass --allow-outside-root")
    try:
        data = json.loads(Path(real).read_text(encoding="utf-8"))
        images = {im["id"]: im for im in data["images"]}
        names = {c["id"]: str(c["name"]) for c in data.get("categories", [])}
        annotations = list(data.get("annotations", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: not a readable COCO JSON file "
                                  f"({type(exc).__name__}: {exc})") from None
    by_rel, by_tail = _sample_keys(dataset, roots)
    sample_of: dict[Any, str] = {}
    unknown = []
    for image_id, im in images.items():
        file_name = Path(str(im.get("file_name", ""))).as_posix()
        sid = by_rel.get(file_name)
        if sid is None and not file_name.startswith("/") and ".." not in Path(file_name).parts:
            tail = by_tail.get(file_name, [])
            sid = tail[0] if len(tail) == 1 else None
        if sid is None:
            unknown.append(file_name)
        else:
            sample_of[image_id] = sid
    if not sample_of:
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: none of its {len(images)} images is a sample of "
                                  f"dataset {dataset.name!r} (e.g. {', '.join(unknown[:3]) or 'no images'}); "
                                  "file_name must be the image's path inside the dataset folder")
    objects: dict[str, list[Any]] = {sid: [] for sid in sample_of.values()}
    for ann in annotations:
        im = images.get(ann.get("image_id"))
        sid = sample_of.get(ann.get("image_id"))
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            width, height = float(im["width"]), float(im["height"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            continue
        if sid is None or width <= 0 or height <= 0:
            continue
        label = names.get(ann.get("category_id"), str(ann.get("category_id")))
        objects[sid].append(fo.Detection(label=label, bounding_box=[x / width, y / height, w / width, h / height]))
    values: dict[str, Any] = dict.fromkeys(dataset.values("id"))  # samples the export does not cover: no label
    values.update({sid: fo.Detections(detections=d) for sid, d in objects.items()})
    dataset.set_values(name, values, key_field="id")
    ours[name] = real
    info["annotator_files"] = ours
    dataset.info["workbench"] = info
    dataset.save()
    if unknown:
        log.warning("--annotator-file %s: %d of its images match no sample and were left out (e.g. %s)", name,
                    len(unknown), ", ".join(unknown[:3]))
    return AnnotatorFile(name, real, len(sample_of), sum(map(len, objects.values())), len(unknown),
                         tuple(unknown[:20]))
