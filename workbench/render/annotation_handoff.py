"""Hand flagged samples to Label Studio for re-annotation and bring the corrections back into a new field.

The samples of a saved view (``wb-label-issues``, ``wb-review-queue``, ...) or of a tag go through
FiftyOne's annotation API (``samples.annotate(anno_key, backend="labelstudio", ...)``): each becomes a
Label Studio task showing its current label as a pre-annotation, with every class of the label field
to choose from. ``load_annotations(anno_key, dest_field=...)`` brings the labels back into a new field
(``wb_corrected_<label field>`` by default); the original label field is never written, nor any field
that a hand-off did not create. A task nobody annotated comes back with its pre-annotation, the original
label. What was sent and where it came back is recorded in ``dataset.info["workbench"]["handoffs"]``.
Reads no findings: the saved view is the selection.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any

from workbench._fo import PREFIX
from workbench.errors import HandoffError
from workbench.render.annotation_server import ServerAccess, check_labelstudio
from workbench.results.protocol import printable

#: Default destination of the corrections: ``wb_corrected_<label field>``.
CORRECTED_PREFIX = f"{PREFIX}corrected_"
#: Label types sent (what the audits read as classification and detection labels).
LABEL_TYPES = ("Classification", "Detections")
MAX_KEY_LENGTH = 40


@dataclass(frozen=True)
class HandoffSent:
    """One hand-off: the samples of a view or tag sent to an annotation backend as annotation run ``anno_key``."""

    dataset_name: str
    anno_key: str
    selection: str  # "view wb-label-issues" or "tag wb:leak"
    label_field: str
    n_samples: int
    classes: tuple[str, ...]
    project_url: str

    def summary(self) -> str:
        return (f"{self.n_samples} samples of {printable(self.selection)} sent as annotation run {self.anno_key} "
                f"(field {printable(self.label_field)}, {len(self.classes)} classes): {self.project_url}")


@dataclass(frozen=True)
class CorrectionsLoaded:
    """The labels of annotation run ``anno_key`` loaded into ``field`` (never the original ``label_field``)."""

    dataset_name: str
    anno_key: str
    label_field: str
    field: str
    n_samples: int  # handed off
    n_returned: int  # with a label in ``field`` after the load
    n_changed: int  # whose label there differs from the original

    def summary(self) -> str:
        return (f"{self.n_returned} of {self.n_samples} samples of run {self.anno_key} came back into "
                f"{printable(self.field)}; {self.n_changed} differ from {printable(self.label_field)}")


def select_samples(dataset: Any, *, view: str | None = None, tag: str | None = None) -> tuple[Any, str]:
    """The samples of saved view ``view`` or with tag ``tag``, and how to name them; refuses an empty selection.

    Example:
        >>> samples, what = select_samples(dataset, view="wb-label-issues")  # doctest: +SKIP
    """
    if (view is None) == (tag is None):
        raise HandoffError("name the samples to hand off with one of --view NAME or --tag TAG")
    if view is not None:
        saved = dataset.list_saved_views()
        if view not in saved:
            raise HandoffError(f"dataset {dataset.name!r} has no saved view {view!r} (saved views: "
                               f"{', '.join(map(printable, saved)) or 'none: run `workbench audit` first'})")
        samples, what = dataset.load_saved_view(view), f"view {view}"
    else:
        samples, what = dataset.match_tags(tag), f"tag {tag}"
    if len(samples) == 0:
        raise HandoffError(f"{what} of dataset {dataset.name!r} holds no samples: nothing to hand off")
    return samples, what


def default_label_field(dataset: Any) -> str:
    """The label field workbench loaded the dataset with, else ``ground_truth``, else the dataset's one
    Classification or Detections field."""
    fields = _label_fields(dataset)
    for name in (dataset.info.get("workbench", {}).get("label_field"), "ground_truth"):
        if name in fields:
            return name
    if len(fields) == 1:
        return next(iter(fields))
    raise HandoffError(f"name the label field to re-annotate with --label-field (label fields of {dataset.name!r}: "
                       f"{', '.join(map(printable, fields)) or 'none'})")


def send_for_annotation(dataset: Any, samples: Any, *, selection: str, label_field: str, access: ServerAccess,
                        anno_key: str | None = None) -> HandoffSent:
    """Send ``samples`` to Label Studio as the annotation run ``anno_key`` (default ``wb_handoff_<n>``).

    The server is checked first (:func:`check_labelstudio`); a run that fails half-way is deleted from
    the dataset again, so its key can be reused.

    Example:
        >>> samples, what = select_samples(dataset, view="wb-label-issues")  # doctest: +SKIP
        >>> sent = send_for_annotation(dataset, samples, selection=what, label_field="ground_truth",
        ...                            access=resolve_access(url, key))  # doctest: +SKIP
        >>> sent.anno_key  # doctest: +SKIP
        'wb_handoff_1'
    """
    fields = _label_fields(dataset)
    if label_field not in fields:
        raise HandoffError(f"--label-field {label_field}: not a {' or '.join(LABEL_TYPES)} field of {dataset.name!r} "
                           f"(label fields: {', '.join(map(printable, fields)) or 'none'})")
    anno_key = anno_key or _next_key(dataset)
    _check_new_key(dataset, anno_key)
    classes = label_classes(dataset, label_field)
    missing = [p for p in samples.values("filepath") if not os.path.isfile(p)]
    if missing:
        raise HandoffError(f"{len(missing)} of the {len(samples)} images of {selection} are missing on disk (first: "
                           f"{printable(missing[0])}); Label Studio gets the image files themselves")
    access = check_labelstudio(access)
    project = f"workbench {anno_key}"
    try:
        results = samples.annotate(anno_key, backend="labelstudio", label_field=label_field, classes=list(classes),
                                   attributes=False, url=access.url, api_key=access.api_key, project_name=project)
    except Exception as exc:
        if anno_key in dataset.list_annotation_runs():
            dataset.delete_annotation_run(anno_key)
        _raise_if_unreachable(exc, access, "the run was removed from the dataset (a project may be left on the server); send it again")
        raise
    sent = HandoffSent(dataset.name, anno_key, selection, label_field, len(samples), classes,
                       f"{access.url}/projects/{results.project_id}")
    _record(dataset, anno_key, {"selection": selection, "label_field": label_field, "samples": sent.n_samples,
                                "backend": "labelstudio", "url": access.url, "project_id": results.project_id,
                                "sent_at": _now(), "loaded_into": []})
    return sent


def load_corrections(dataset: Any, anno_key: str, *, access: ServerAccess, into: str | None = None
                     ) -> CorrectionsLoaded:
    """Download run ``anno_key``'s labels into ``into`` (default ``wb_corrected_<label field>``), a new field or
    one a hand-off wrote; the run's samples there are cleared first, so loading twice gives the same field.

    Example:
        >>> loaded = load_corrections(dataset, "wb_handoff_1", access=resolve_access(url, key))  # doctest: +SKIP
        >>> loaded.field  # doctest: +SKIP
        'wb_corrected_ground_truth'
    """
    runs = dataset.list_annotation_runs()
    if anno_key not in runs:
        raise HandoffError(f"dataset {dataset.name!r} has no annotation run {anno_key!r} (runs: "
                           f"{', '.join(map(printable, runs)) or 'none: hand samples off first'})")
    schema = dict(dataset.get_annotation_info(anno_key).config.label_schema)
    if len(schema) != 1:
        raise HandoffError(f"annotation run {anno_key} annotates {len(schema)} fields ({', '.join(schema)}); "
                           "workbench loads runs of one label field (use dataset.load_annotations for this one)")
    label_field = next(iter(schema))
    into = into or f"{CORRECTED_PREFIX}{label_field}"
    check_destination(dataset, into, label_field=label_field)
    access = check_labelstudio(access)
    ids = dataset.load_annotation_view(anno_key).values("id")
    if into in dataset.get_field_schema():  # a hand-off's own field: this run's samples start empty again
        dataset.select(ids).set_values(into, [None] * len(ids))
    try:
        dataset.load_annotations(anno_key, dest_field=into, unexpected="ignore", url=access.url,
                                 api_key=access.api_key, progress=False)
    except Exception as exc:
        _raise_if_unreachable(exc, access, f"load the run again once it answers; {into} may be incomplete")
        raise
    view = dataset.select(ids)
    original, corrected = view.values(label_field), view.values(into)
    n_changed = sum(_content(a) != _content(b) for a, b in zip(original, corrected) if b is not None)
    loaded = CorrectionsLoaded(dataset.name, anno_key, label_field, into, len(ids),
                               sum(v is not None for v in corrected), n_changed)
    record = dict(dataset.info.get("workbench", {}).get("handoffs", {}).get(anno_key, {}))
    record.update(loaded_into=sorted(set(record.get("loaded_into", [])) | {into}), loaded_at=_now(),
                  returned=loaded.n_returned, changed=loaded.n_changed)
    _record(dataset, anno_key, record, field=into)
    return loaded


def check_destination(dataset: Any, into: str, *, label_field: str) -> None:
    """``into`` must be a new field or one a hand-off wrote; never the label field, a user's field, or a field
    the audits rewrite. Raises :class:`HandoffError` saying why.

    Example:
        >>> check_destination(dataset, "wb_corrected_ground_truth", label_field="ground_truth")  # doctest: +SKIP
        >>> check_destination(dataset, "ground_truth", label_field="ground_truth")  # doctest: +SKIP
        Traceback (most recent call last):
        HandoffError: --into ground_truth is the label field that was handed off; ...
    """
    from workbench.render.fiftyone_app import registered_writes

    if not into.isidentifier() or into.startswith("_"):
        raise HandoffError(f"--into {into!r} is not a usable field name (letters, digits and _, not starting with _)")
    if into == label_field:
        raise HandoffError(f"--into {into} is the label field that was handed off; corrections go to a new field "
                           f"(default {CORRECTED_PREFIX}{label_field}), never over the original labels")
    if into in registered_writes()[0].values():
        raise HandoffError(f"--into {into}: every audit rewrites that field with its findings; choose another name")
    ours = into in dataset.info.get("workbench", {}).get("handoff_fields", [])
    schema = dataset.get_field_schema()
    if into in schema and not ours:
        raise HandoffError(f"--into {into} already exists and was not written by a hand-off; choose a new name "
                           "(workbench never overwrites your fields)")
    if into in schema and _kind(schema[into]) != _kind(schema[label_field]):
        raise HandoffError(f"--into {into} holds {_kind(schema[into])} labels, run's field {label_field} "
                           f"{_kind(schema[label_field])}; choose another name")


def label_classes(dataset: Any, label_field: str) -> tuple[str, ...]:
    """Every class an annotator may choose: the dataset's declared classes for the field, its default
    classes and the labels present anywhere in the dataset (not only in the handed-off samples).

    Example:
        >>> label_classes(dataset, "ground_truth")  # doctest: +SKIP
        ('cat', 'dog')
    """
    _, path = dataset._get_label_field_path(label_field, "label")
    found = [str(c) for c in dataset.distinct(path) if c is not None]
    declared = [str(c) for c in (dataset.classes.get(label_field) or dataset.default_classes or [])]
    classes = tuple(dict.fromkeys(declared + sorted(found)))
    if not classes:
        raise HandoffError(f"--label-field {label_field} holds no labels and the dataset declares no classes: "
                           "there is nothing for an annotator to choose from")
    return classes


def _label_fields(dataset: Any) -> list[str]:
    return [name for name, field in dataset.get_field_schema().items()
            if not name.startswith(PREFIX) and _kind(field) in LABEL_TYPES]


def _kind(field: Any) -> str:
    doc = getattr(field, "document_type", None)
    return doc.__name__ if doc is not None else type(field).__name__


def _content(label: Any) -> Any:
    """What a label says, ids and tags aside: a class, or the sorted classes and rounded boxes of a list."""
    if label is None:
        return None
    objects = getattr(label, "detections", None)
    if objects is None:
        return label.label
    return sorted((d.label, tuple(round(float(v), 4) for v in (d.bounding_box or ()))) for d in objects)


def _next_key(dataset: Any) -> str:
    runs = set(dataset.list_annotation_runs())
    n = 1
    while f"{PREFIX}handoff_{n}" in runs:
        n += 1
    return f"{PREFIX}handoff_{n}"


def _check_new_key(dataset: Any, anno_key: str) -> None:
    if not anno_key.isidentifier() or len(anno_key) > MAX_KEY_LENGTH:
        raise HandoffError(f"--anno-key {anno_key!r}: use letters, digits and _ (at most {MAX_KEY_LENGTH}), "
                           "not starting with a digit")
    if anno_key in dataset.list_annotation_runs():
        raise HandoffError(f"dataset {dataset.name!r} already has an annotation run {anno_key!r}; choose another "
                           f"--anno-key, or load it with --load {anno_key}")


def _raise_if_unreachable(exc: BaseException, access: ServerAccess, then: str) -> None:
    """A server that stopped answering, or refused a request, mid-way is an input error (exit 2), like one that
    never answered; anything else is re-raised by the caller."""
    import requests

    while exc is not None:
        response = getattr(exc, "response", None)
        if isinstance(exc, requests.exceptions.HTTPError) and response is not None:
            raise HandoffError(f"Label Studio at {access.url} refused a request during the hand-off (HTTP "
                               f"{response.status_code}: {printable(response.text[:300])}); {then}") from None
        if isinstance(exc, requests.exceptions.RequestException):
            raise HandoffError(f"Label Studio at {access.url} stopped answering during the hand-off "
                               f"({type(exc).__name__}); {then}") from None
        exc = exc.__cause__ or exc.__context__


def _record(dataset: Any, anno_key: str, record: dict, *, field: str | None = None) -> None:
    info = dict(dataset.info.get("workbench", {}))
    info["handoffs"] = {**info.get("handoffs", {}), anno_key: record}
    if field is not None:
        info["handoff_fields"] = sorted(set(info.get("handoff_fields", [])) | {field})
    dataset.info["workbench"] = info
    dataset.save()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
