"""Add an annotator's export (COCO JSON; CVAT for images XML: boxes, and polygons as the box around them;
Label Studio's JSON export: :mod:`workbench.io.labelstudio`; told apart by content,
:mod:`workbench.io.annotator_formats`) to a dataset as label fields, matched by file name, so the agreement
check can compare them with the other annotators (CLI ``--annotator-file NAME=PATH``).

A COCO or CVAT export is one annotator: the field ``NAME`` (``fo.Detections``). A Label Studio export
holds each annotator's annotations (``completed_by``): one annotator gives the field ``NAME``, several
give one field each, ``NAME_<completed_by id>`` (``ann_3``, ``ann_12``; an annotation without
``completed_by``: ``NAME_unknown``). An export with no rectangle or polygon but ``choices`` is a
classification: ``fo.Classification`` fields.

The export must lie inside the dataset's folder (:mod:`workbench.io.boundary`) unless
``allow_outside_root``; its ``file_name`` entries are matched to the samples by their path relative to
that folder, else by a unique trailing path (``img1.png`` matches ``.../data/img1.png``). Label Studio's
image references give candidate names (:func:`workbench.io.labelstudio.image_names`: upload prefix
stripped, ``?d=`` local-files paths unquoted, an URL's path) tried longest first. Entries that match no
sample, that name several (``img1.png`` with ``train/img1.png`` and ``val/img1.png``: ambiguous, the
candidates named), or that climb out of the folder (``../x.png``, absolute paths), are left out and counted.

Exports are first read and matched (:func:`read_annotator_file`: nothing written, every input error
raised), their fields checked against each other (:func:`annotator_fields`: two exports giving one field
are refused), then written (:mod:`workbench.io.annotator_write`; :func:`add_annotator_file` does all three
for one export). Only the FiftyOne database is written; the export and the images are only read.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.io.labelstudio import AnnotatorPart


@dataclass(frozen=True)
class AnnotatorFile:
    """What :func:`add_annotator_file` added: the field, the samples it labelled, the objects (or class
    labels), the export's images that matched no sample (up to 20 named) and those that named several
    samples (up to 20, each ``"name (candidate, candidate)"``). A Label Studio export of several annotators
    adds one field each: the first here, the others in :attr:`others`."""

    field: str
    path: str
    n_matched: int
    n_objects: int
    n_unknown: int
    unknown: tuple[str, ...] = ()
    #: Boxes left out: no usable coordinates, or their image has no size (classification: no single class).
    n_dropped: int = 0
    #: ``COCO JSON``, ``CVAT XML`` or ``Label Studio JSON``.
    format: str = "COCO JSON"
    #: Label Studio: the ``completed_by`` user id whose annotations the field holds.
    annotator: str = ""
    #: Label Studio: this annotator's cancelled annotations, results of other types (or controls), and
    #: earlier annotations of a task it annotated again: all left out.
    n_cancelled: int = 0
    n_ignored: int = 0
    n_superseded: int = 0
    others: tuple[AnnotatorFile, ...] = ()
    n_ambiguous: int = 0
    ambiguous: tuple[str, ...] = ()
    #: Label Studio, on the export's first field: annotators whose every annotation was cancelled (they
    #: get no field) and how many annotations they cancelled.
    cancelled_annotators: tuple[str, ...] = ()
    n_cancelled_elsewhere: int = 0

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the export added, this one first."""
        return (self.field, *(o.field for o in self.others))


@dataclass(frozen=True)
class AnnotatorFileRead:
    """An export read and matched to the samples, nothing written yet (:func:`read_annotator_file`): the
    ``--annotator-file NAME=PATH`` it came from, its task, one :class:`AnnotatorFile` per field it will
    add (first field first), each field's labels by sample id, and the tasks no one annotated."""

    where: str
    kind: str
    files: tuple[AnnotatorFile, ...]
    labels: tuple[dict[str, Any], ...]
    unannotated: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.field for f in self.files)


def _sample_keys(dataset: Any, roots: tuple[str, ...]
                 ) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """``{path relative to a root: sample id}``, ``{trailing path: [sample ids]}`` and each sample as shown
    in messages (its relative path, else its file path)."""
    by_rel: dict[str, str] = {}
    by_tail: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for sid, fp in zip(*dataset.values(["id", "filepath"])):
        real = os.path.realpath(fp)
        shown[sid] = fp
        for root in roots:
            if real.startswith(root.rstrip(os.sep) + os.sep):
                shown[sid] = Path(os.path.relpath(real, root)).as_posix()
                by_rel[shown[sid]] = sid
        parts = Path(fp).parts
        for k in range(1, len(parts)):
            by_tail.setdefault("/".join(parts[-k:]), []).append(sid)
    return by_rel, by_tail, shown


def _match(image: dict, by_rel: dict[str, str], by_tail: dict[str, list[str]]) -> str | tuple[str, ...] | None:
    """The sample of an export image: its first candidate name that is a sample's relative path or a
    unique trailing path; a trailing path of several samples stops the search and gives their ids
    (ambiguous); names that climb or are absolute match none (``None``)."""
    names = image.get("file_names", (Path(str(image.get("file_name", ""))).as_posix(),))
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            continue
        tail = by_tail.get(name, [])
        if name in by_rel or tail:
            return by_rel.get(name) or (tail[0] if len(tail) == 1 else tuple(tail))
    return None


def _labels(part: AnnotatorPart, sample_of: dict[Any, str], classification: bool) -> tuple[dict[str, Any], int]:
    """Each matched sample's label (``fo.Detections``, or ``fo.Classification``/``None``) and how many
    annotations were left out."""
    from workbench._fo import fiftyone

    fo = fiftyone()
    if classification:
        out: dict[str, Any] = dict.fromkeys(sample_of.values())
        dropped = 0
        for ann in part.annotations:
            sid, label = sample_of.get(ann.get("image_id")), ann.get("category_id")
            dropped += sid is not None and label is None
            if sid is not None and label is not None:
                out[sid] = fo.Classification(label=str(label))
        return out, dropped
    objects: dict[str, list[Any]] = {sid: [] for sid in sample_of.values()}
    dropped = 0
    for ann in part.annotations:
        im = part.images.get(ann.get("image_id"))
        sid = sample_of.get(ann.get("image_id"))
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            width, height = float(im["width"]), float(im["height"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            dropped += 1
            continue
        if sid is None or not width > 0 or not height > 0 or any(math.isnan(v) for v in (x, y, w, h)):
            dropped += sid is not None
            continue
        label = part.names.get(ann.get("category_id"), str(ann.get("category_id")))
        objects[sid].append(fo.Detection(label=label, bounding_box=[x / width, y / height, w / width, h / height]))
    return {sid: fo.Detections(detections=d) for sid, d in objects.items()}, dropped


def read_annotator_file(dataset: Any, name: str, path: str | os.PathLike, *, allow_outside_root: bool = False,
                        ) -> AnnotatorFileRead:
    """Read the COCO, CVAT or Label Studio export at ``path`` and match it to the samples of ``dataset``,
    as the field ``name`` (a Label Studio export of several annotators: ``name_<completed_by id>`` each; see
    the module). Writes nothing: :func:`workbench.io.annotator_write.write_annotator_files` does.

    Raises:
        AnnotatorFieldError: a bad name, a field of that name the user already has, an export outside
            the dataset folder, unreadable, without annotations, or one that matches no sample.

    Example:
        >>> read = read_annotator_file(dataset, "ls", "data/ds/label_studio.json")  # doctest: +SKIP
        >>> read.fields, read.files[0].n_matched  # doctest: +SKIP
        (('ls_3', 'ls_12'), 120)
    """
    from workbench._fo import PREFIX
    from workbench.errors import AnnotatorFieldError
    from workbench.io.annotator_formats import NAME_HINTS, export_format, read_export
    from workbench.io.boundary import dataset_roots, is_within

    where = f"--annotator-file {name}={path}"
    if not name.isidentifier() or name.startswith(PREFIX):
        raise AnnotatorFieldError(f"--annotator-file: {name!r} can't name a field; use letters, digits and _ "
                                  f"(not starting with {PREFIX})")
    info = dict(dataset.info.get("workbench", {}))
    roots = dataset_roots(info)
    real = os.path.realpath(path)
    if roots and not allow_outside_root and not is_within(real, roots):
        raise AnnotatorFieldError(f"{where}: the file is outside the dataset folder ({', '.join(roots)}) and is not "
                                  "read; move it inside or pass --allow-outside-root")
    fmt = export_format(real)
    try:
        fmt, export = read_export(real, fmt)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError) as exc:  # ET.ParseError is a SyntaxError
        raise AnnotatorFieldError(f"{where}: not a readable {fmt} file ({type(exc).__name__}: {exc})") from None
    if not export.annotators:
        raise AnnotatorFieldError(f"{where}: none of its {export.n_tasks} tasks has an annotation "
                                  f"({export.n_cancelled_elsewhere} cancelled; predictions are not annotations)")
    parts = export.annotators
    fields = [name] if len(parts) == 1 else [f"{name}_{p.annotator}" for p in parts]
    schema, ours = dataset.get_field_schema(), info.get("annotator_files", {})
    clash = [f for f in fields if f in schema and f not in ours]
    if clash:
        raise AnnotatorFieldError(f"--annotator-file: the dataset already has a field {clash[0]!r} that workbench "
                                  "did not add; choose another name")
    by_rel, by_tail, shown = _sample_keys(dataset, roots)
    matches = [{k: _match(im, by_rel, by_tail) for k, im in p.images.items()} for p in parts]
    if not any(isinstance(sid, str) for m in matches for sid in m.values()):
        images = {k: im for p in parts for k, im in p.images.items()}
        named = {k: sid for m in matches for k, sid in m.items()}
        several = [_ambiguous(images[k], sid, shown) for k, sid in named.items() if isinstance(sid, tuple)]
        unknown = [str(im.get("file_name", "")) for k, im in images.items() if named.get(k) is None]
        found = [f"{len(unknown)} match none, e.g. {', '.join(unknown[:3])}"] if unknown else []
        found += [f"{len(several)} name several samples, e.g. {'; '.join(several[:3])}"] if several else []
        raise AnnotatorFieldError(f"{where}: none of its {len(images)} images is a sample of dataset "
                                  f"{dataset.name!r} ({'; '.join(found) or 'no images'}); {NAME_HINTS[fmt]}")
    classification = export.kind == "classification"
    files, labels = [], []
    for field, part, match in zip(fields, parts, matches):
        sample_of = {k: sid for k, sid in match.items() if isinstance(sid, str)}
        unknown = [str(part.images[k].get("file_name", "")) for k, sid in match.items() if sid is None]
        several = [_ambiguous(part.images[k], sid, shown) for k, sid in match.items() if isinstance(sid, tuple)]
        field_labels, dropped = _labels(part, sample_of, classification)
        n_objects = sum(v is not None for v in field_labels.values()) if classification else \
            sum(len(v.detections) for v in field_labels.values())
        files.append(AnnotatorFile(field, real, len(sample_of), n_objects, len(unknown), tuple(unknown[:20]),
                                   dropped, fmt, part.annotator, part.n_cancelled, part.n_ignored, part.n_superseded,
                                   n_ambiguous=len(several), ambiguous=tuple(several[:20])))
        labels.append(field_labels)
    files[0] = dataclasses.replace(files[0], cancelled_annotators=export.cancelled_annotators,
                                   n_cancelled_elsewhere=export.n_cancelled_elsewhere)
    return AnnotatorFileRead(where, export.kind, tuple(files), tuple(labels), export.unannotated)


def _ambiguous(image: dict, ids: tuple[str, ...], shown: dict[str, str]) -> str:
    """An export image that names several samples, as ``"name (candidate, candidate)"``."""
    return f"{image.get('file_name', '')} ({', '.join(sorted(shown[i] for i in ids))})"


def annotator_fields(reads: Sequence[AnnotatorFileRead]) -> tuple[str, ...]:
    """The fields the exports ``reads`` will add, in order.

    Raises:
        AnnotatorFieldError: two exports give the same field (``--annotator-file ls=a.json`` with annotator 3
            gives ``ls_3``, as ``--annotator-file ls_3=b.json`` does): the second would overwrite the first.

    Example:
        >>> annotator_fields([read_annotator_file(dataset, "ls", "ls.json")])  # doctest: +SKIP
        ('ls_3', 'ls_12')
    """
    from workbench.errors import AnnotatorFieldError

    seen: dict[str, tuple[AnnotatorFileRead, AnnotatorFile]] = {}
    for read in reads:
        for file in read.files:
            if file.field in seen:
                first, was = seen[file.field]
                who = [f" (annotator {f.annotator} of a Label Studio export)" if len(r.files) > 1 else ""
                       for r, f in ((read, file), (first, was))]
                raise AnnotatorFieldError(f"{read.where}{who[0]} and {first.where}{who[1]} both give the field "
                                          f"{file.field!r}; one would overwrite the other: give one of them another "
                                          "NAME")
            seen[file.field] = (read, file)
    return tuple(seen)


def add_annotator_file(dataset: Any, name: str, path: str | os.PathLike, *, allow_outside_root: bool = False,
                       ) -> AnnotatorFile:
    """Read the COCO, CVAT or Label Studio export at ``path`` into the sample field ``name`` of ``dataset``
    (a Label Studio export of several annotators: ``name_<completed_by id>`` each; see the module):
    :func:`read_annotator_file` then :func:`workbench.io.annotator_write.write_annotator_files`.

    Raises:
        AnnotatorFieldError: as :func:`read_annotator_file`; nothing is written then.

    Example:
        >>> add_annotator_file(dataset, "ann_b", "data/ds/annotator_b.json").n_matched  # doctest: +SKIP
        120
        >>> add_annotator_file(dataset, "ls", "data/ds/label_studio.json").fields  # doctest: +SKIP
        ('ls_3', 'ls_12')
    """
    from workbench.io.annotator_write import write_annotator_files

    read = read_annotator_file(dataset, name, path, allow_outside_root=allow_outside_root)
    return write_annotator_files(dataset, [read])[0]
