"""Writing annotator exports read by :func:`workbench.io.annotator_files.read_annotator_file` to their
fields, and removing them.

The fields workbench added are recorded in ``dataset.info["workbench"]["annotator_files"]``
(``{field: export path}``). An export that gives such a field again replaces it (whatever it held); a field
whose export is not given again stays, and is compared only when named (``--annotators``); nothing else
removes one but :func:`remove_annotator_fields`, which :func:`written_for_run` calls for the fields a failing
run added (the CLI's ``--annotator-file``: an audit that fails leaves the dataset's fields as they were,
except that a field an earlier run added and this run gave again holds the export given now).

Example:
    >>> reads = [read_annotator_file(dataset, "ls", "data/ds/ls.json")]  # doctest: +SKIP
    >>> with written_for_run(dataset, reads) as added:  # doctest: +SKIP
    ...     result = run_audit(dataset, config)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from workbench.io.annotator_files import (
    AnnotatorFile,
    AnnotatorFileRead,
    annotator_fields,
)
from workbench.results.protocol import printable

log = logging.getLogger(__name__)


def write_annotator_files(dataset: Any, reads: Sequence[AnnotatorFileRead]) -> tuple[AnnotatorFile, ...]:
    """Write the exports ``reads`` (:func:`~workbench.io.annotator_files.read_annotator_file`) to their
    fields, after checking that no two give the same field
    (:func:`~workbench.io.annotator_files.annotator_fields`); a field workbench added before is replaced.
    Returns, per export, its first field's :class:`AnnotatorFile` (the others in ``.others``); what each
    field left out is logged as a warning.

    Example:
        >>> write_annotator_files(dataset, [read_annotator_file(dataset, "ls", "ls.json")])[0].fields  # doctest: +SKIP
        ('ls_3', 'ls_12')
    """
    from workbench._fo import fiftyone

    fo = fiftyone()
    annotator_fields(reads)
    info = dict(dataset.info.get("workbench", {}))
    ours = dict(info.get("annotator_files", {}))
    schema, ids = dataset.get_field_schema(), dataset.values("id")
    out = []
    for read in reads:
        classification = read.kind == "classification"
        for file, labels in zip(read.files, read.labels):
            if file.field in schema:  # ours (read_annotator_file refused the user's): replaced, whatever it held
                dataset.delete_sample_field(file.field)
            dataset.add_sample_field(file.field, fo.EmbeddedDocumentField,
                                     embedded_doc_type=fo.Classification if classification else fo.Detections)
            values: dict[str, Any] = dict.fromkeys(ids)  # samples the annotator did not label: None
            values.update(labels)
            dataset.set_values(file.field, values, key_field="id")
            ours[file.field] = file.path
            _warn(file, classification)
        _warn_export(read)
        out.append(dataclasses.replace(read.files[0], others=read.files[1:]))
    info["annotator_files"] = ours
    dataset.info["workbench"] = info
    dataset.save()
    return tuple(out)


def remove_annotator_fields(dataset: Any, fields: Sequence[str]) -> None:
    """Delete those of the annotator ``fields`` that workbench added (others are left alone) and their record.

    Example:
        >>> remove_annotator_fields(dataset, ("ls_3", "ls_12"))  # doctest: +SKIP
    """
    ours = dataset.info.get("workbench", {}).get("annotator_files", {})
    _delete(dataset, [f for f in fields if f in ours])


def _delete(dataset: Any, fields: Sequence[str]) -> None:
    info = dict(dataset.info.get("workbench", {}))
    ours = dict(info.get("annotator_files", {}))
    schema = dataset.get_field_schema()
    for field in fields:
        if field in schema:
            dataset.delete_sample_field(field)
        ours.pop(field, None)
    info["annotator_files"] = ours
    dataset.info["workbench"] = info
    dataset.save()


@contextlib.contextmanager
def written_for_run(dataset: Any, reads: Sequence[AnnotatorFileRead]) -> Iterator[tuple[AnnotatorFile, ...]]:
    """Write ``reads`` for the block (an audit); if writing or the block raises, remove the fields this wrote
    that the dataset did not have before (a field an earlier run added keeps the export given now).

    Example:
        >>> with written_for_run(dataset, reads) as added:  # doctest: +SKIP
        ...     result = run_audit(dataset, config)
    """
    before = set(dataset.get_field_schema())
    try:
        yield write_annotator_files(dataset, reads)
    except BaseException:
        new = [f for r in reads for f in r.fields if f not in before]
        try:
            _delete(dataset, new)  # not there before: this wrote them, recorded or not yet
        except Exception as exc:  # noqa: BLE001 (the database gone, say): the run's own error is the one to report
            log.warning("could not remove the annotator fields %s this failed run added: %s", ", ".join(new), exc)
        raise


def _warn(added: AnnotatorFile, classification: bool) -> None:
    """What the field left out, on stderr (names from the export shown escaped)."""
    what = "class choices without exactly one class" if classification else "boxes without a usable box or image size"
    for n, message in ((added.n_dropped, f"%d {what} were left out"),
                       (added.n_cancelled, "%d cancelled annotations were left out"),
                       (added.n_ignored, "%d results of other types (or other controls) were left out"),
                       (added.n_superseded, "%d earlier annotations of a task annotated again were left out")):
        if n:
            log.warning("--annotator-file %s: " + message, added.field, n)
    if added.n_unknown:
        log.warning("--annotator-file %s: %d of its images match no sample and were left out (e.g. %s)", added.field,
                    added.n_unknown, printable(", ".join(added.unknown[:3])))
    if added.n_ambiguous:
        log.warning("--annotator-file %s: %d of its images name several samples and were left out (e.g. %s); a "
                    "name must single out one sample", added.field, added.n_ambiguous,
                    printable("; ".join(added.ambiguous[:3])))


def _warn_export(read: AnnotatorFileRead) -> None:
    """What the whole export left out: annotators with only cancelled annotations, tasks no one annotated."""
    first = read.files[0]
    if first.cancelled_annotators:
        log.warning("%s: %d cancelled annotations of annotators who have nothing else were left out (no field "
                    "for annotator %s)", printable(read.where), first.n_cancelled_elsewhere,
                    printable(", ".join(first.cancelled_annotators)))
    if read.unannotated:
        log.info("%s: %d tasks have no annotation and are left unlabelled (e.g. %s)", printable(read.where),
                 len(read.unannotated), printable(", ".join(read.unannotated[:3])))
