"""Object-level write-back: a check's attributes, label tags and patches views on the objects of the
audited label field, so the App shows each flagged box where it is.

Like the sample-level write-back (:mod:`workbench.render.fiftyone_app`) it brings the stored state in
line with the result, writing only objects whose value changed, and clears what a finding that is
gone left behind. Review tags and the user's own attributes and label tags are never touched.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def object_list_path(dataset: Any, label_field: str | None) -> str | None:
    """``"<field>.detections"`` or ``"<field>.polylines"`` for an object field; ``None`` otherwise
    (classification, segmentation, no field), where object writes do nothing."""
    from workbench._fo import fiftyone

    fo = fiftyone()
    if not label_field or label_field not in dataset.get_field_schema():
        return None
    doc = getattr(dataset.get_field(label_field), "document_type", None)
    if doc is fo.Detections:
        return f"{label_field}.detections"
    if doc is fo.Polylines:
        return f"{label_field}.polylines"
    return None


def sync_object_attr(dataset: Any, objects: str, attr: str, desired: dict[str, Any]) -> int:
    """Set ``attr`` on the objects at ``objects`` (``<field>.detections``) to ``desired[object id]``, and to
    ``None`` on the others that hold a value; return how many objects were written."""
    sample_ids, object_ids, stored = dataset.values(["id", f"{objects}.id", f"{objects}.{attr}"])
    changes = []
    for sid, oids, values in zip(sample_ids, object_ids, stored):
        for oid, value in zip(oids or (), values or [None] * len(oids or ())):
            want = desired.get(oid)
            if _plain(value) != _plain(want):
                changes.append({"sample_id": sid, "label_id": oid, "value": want})
    if changes:
        dataset.set_label_values(f"{objects}.{attr}", changes)
    return len(changes)


def sync_object_tag(dataset: Any, label_field: str, objects: str, tag: str, members: set[str]) -> None:
    """Tag exactly the objects ``members`` of ``label_field`` with ``tag``."""
    object_ids, tags = dataset.values([f"{objects}.id", f"{objects}.tags"], unwind=True)
    tagged = {oid for oid, t in zip(object_ids, tags) if t and tag in t}
    known = set(object_ids)
    if tagged - members:
        dataset.select_labels(ids=sorted(tagged - members), fields=label_field).untag_labels(tag, label_fields=label_field)
    if (members & known) - tagged:
        dataset.select_labels(ids=sorted((members & known) - tagged), fields=label_field).tag_labels(
            tag, label_fields=label_field)


def save_patches_view(dataset: Any, label_field: str, name: str, tag: str, sort_by: str | None) -> None:
    """A saved view with one patch per object of ``label_field`` tagged ``tag`` (sorted by the object
    attribute ``sort_by``, ascending, when given)."""
    view = dataset.select_labels(tags=tag, fields=label_field).to_patches(label_field)
    if sort_by:
        view = view.sort_by(f"{label_field}.{sort_by}")
    dataset.save_view(name, view, overwrite=True)


def write_objects(dataset: Any, label_field: str | None, specs: Any, findings: dict[str, Any]) -> dict[str, str]:
    """Every registered check's object attributes, tags and patches views; ``{view key: name}`` of the
    patches views saved. Without an object field only stale patches views are removed."""
    objects = object_list_path(dataset, label_field)
    saved: dict[str, str] = {}
    for spec in specs:
        finding = findings.get(spec.name)
        if objects is None:
            for p in spec.writes.patches:
                if dataset.has_saved_view(p.name):
                    dataset.delete_saved_view(p.name)
            continue
        for a in spec.writes.object_attrs:
            n = sync_object_attr(dataset, objects, a.name, a.values(finding) if finding is not None else {})
            log.debug("%s: %d objects' %s written", spec.name, n, a.name)
        for t in spec.writes.object_tags:
            sync_object_tag(dataset, label_field, objects, t.tag, t.members(finding) if finding is not None else set())
        for p in spec.writes.patches:
            save_patches_view(dataset, label_field, p.name, p.tag, p.sort_by)
            saved[p.key] = p.name
    return saved


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value
