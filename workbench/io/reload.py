"""Reloading a source into its existing dataset: new files added, vanished ones dropped, labels replaced,
and what a reviewer added kept (sample tags; the label tags and attributes of boxes that did not change)."""

from __future__ import annotations

import logging
from typing import Any

from workbench._fo import fiftyone

log = logging.getLogger(__name__)


def merge_into(dataset: Any, fresh: Any) -> None:
    """Bring ``dataset`` in line with a fresh import: add new files, drop vanished ones, update labels."""
    fresh_paths = set(fresh.values("filepath"))
    gone = [sid for sid, fp in zip(*dataset.values(["id", "filepath"])) if fp not in fresh_paths]
    if gone:
        log.info("removing %d samples whose files are no longer in the source", len(gone))
        dataset.delete_samples(gone)
    # Labels are replaced, not merged: merging label lists keeps the old objects beside the fresh ones
    # (their ids differ), doubling every box on each reload. Tags are the union, so review tags survive;
    # an object whose class and box are unchanged keeps its id, label tags and attributes.
    tags_before = dict(zip(*dataset.values(["filepath", "tags"])))
    object_fields = _object_fields(fresh)
    objects_before = {f: dict(zip(*dataset.values(["filepath", f]))) for f in object_fields
                      if f in dataset.get_field_schema()}
    dataset.merge_samples(fresh, key_field="filepath", insert_new=True, merge_lists=False, overwrite=True)
    for field, before in objects_before.items():
        _keep_object_identity(dataset, field, object_fields[field], before)
    restored = {}
    for sid, path, tags in zip(*dataset.values(["id", "filepath", "tags"])):
        union = list(tags or []) + [t for t in tags_before.get(path) or [] if t not in (tags or [])]
        if union != list(tags or []):
            restored[sid] = union
    if restored:
        dataset.set_values("tags", restored, key_field="id")


def _object_fields(dataset: Any) -> dict[str, str]:
    """``{field: "detections" | "polylines"}`` of a dataset's object label fields."""
    fo = fiftyone()
    kinds = {fo.Detections: "detections", fo.Polylines: "polylines"}
    return {name: kinds[f.document_type] for name, f in dataset.get_field_schema().items()
            if getattr(f, "document_type", None) in kinds}


def _object_key(obj: Any) -> tuple:
    """What makes a reloaded object the same one: its class and its box (or points), rounded."""
    shape = obj.bounding_box if hasattr(obj, "bounding_box") else obj.points
    flat = [v for part in (shape or []) for v in (part if isinstance(part, (list, tuple)) else [part])]
    flat = [v for item in flat for v in (item if isinstance(item, (list, tuple)) else [item])]
    return (obj.label, tuple(round(float(v), 6) for v in flat))


def _keep_object_identity(dataset: Any, field: str, objects: str, before: dict[str, Any]) -> None:
    """After a reload replaced ``field``, give each object whose class and box did not change the id, label
    tags and extra attributes (a reviewer's, or the audit's) it had before."""
    changed = {}
    for path, labels in zip(*dataset.values(["filepath", field])):
        old = before.get(path)
        if labels is None or old is None:
            continue
        pool: dict[tuple, list[Any]] = {}
        for obj in getattr(old, objects) or []:
            pool.setdefault(_object_key(obj), []).append(obj)
        touched = False
        for obj in getattr(labels, objects) or []:
            match = pool.get(_object_key(obj))
            if not match:
                continue
            prev = match.pop(0)
            obj.id = prev.id
            obj.tags = list(dict.fromkeys([*(prev.tags or []), *(obj.tags or [])]))
            for name in prev.field_names:
                if not obj.has_field(name) or obj[name] is None:
                    if prev[name] is not None:
                        obj[name] = prev[name]
            touched = True
        if touched:
            changed[path] = labels
    if changed:
        dataset.set_values(field, changed, key_field="filepath")
