"""Write an AuditResult back to its FiftyOne dataset for review in the App.

Fields and tags carry the ``wb_`` / ``wb:`` prefix so they never clash with a user's.
Each write-back brings the finding fields and tags in line with the new result, writing only
the samples whose values changed (a finding that is gone is set to ``None`` / untagged); review
tags (``wb:reviewed:*``) are never touched, so an earlier review survives a re-audit. A saved
view per finding (and the label review queue, in rank order) and a run record in
``dataset.info["workbench"]["runs"]`` are kept. Each finding carries its evidence and score: the
evidence of a sample's duplicate links and leak pairs, and its place in the label review ranking.
Only the FiftyOne database is written; image and annotation files are never touched.
"""

from __future__ import annotations

import logging
from typing import Any

from workbench._fo import PREFIX, fiftyone
from workbench.render.fiftyone_objects import write_objects
from workbench.results import AuditResult

log = logging.getLogger(__name__)

#: Fields that are not a check's: the stored embedding and the content hash it was computed from.
EMBEDDING_FIELDS = {"embedding": f"{PREFIX}embedding", "embedding_sha": f"{PREFIX}embedding_sha256"}
MAX_RUN_RECORDS = 20


def _save_slices(dataset: Any, prefix: str, slices: dict[str, set[str]], known: set[str]) -> None:
    """One saved view per slice (its samples), and the slices of earlier audits this one lacks deleted."""
    import re

    numbered = re.compile(re.escape(prefix) + r"\d+$")
    for name in dataset.list_saved_views():
        if numbered.match(name) and name not in slices:
            dataset.delete_saved_view(name)
    for name, ids in slices.items():
        dataset.save_view(name, dataset.select(sorted(ids & known)), overwrite=True)


def registered_writes() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """``(fields, tags, views)``: ``{key: FiftyOne name}`` of everything the registered checks write, plus
    the embedding fields (what ``dataset.info["workbench"]`` records)."""
    from workbench.checks.registry import registered_checks

    fields, tags, views = dict(EMBEDDING_FIELDS), {}, {}
    for spec in registered_checks():
        w = spec.writes
        fields.update({f.key: f.name for f in w.fields})
        fields.update({f"object:{a.key}": a.name for a in w.object_attrs})
        tags.update({t.key: t.tag for t in w.tags})
        tags.update({f"object:{t.key}": t.tag for t in w.object_tags})
        views.update({v.key: v.name for v in (*w.views, *w.patches)})
        views.update({s.key: s.prefix + "N" for s in w.slices})
    return fields, tags, views


def __getattr__(name: str) -> Any:
    """``FIELDS``, ``TAGS``, ``VIEWS``: the registered names (computed on use; see :func:`registered_writes`)."""
    if name in ("FIELDS", "TAGS", "VIEWS"):
        return registered_writes()[("FIELDS", "TAGS", "VIEWS").index(name)]
    raise AttributeError(name)


def write_back(dataset: Any, result: AuditResult, *, store_embeddings: bool = True,
               only: tuple[str, ...] | None = None) -> dict[str, str]:
    """Write each registered check's fields, tags and saved views; return ``{view key: saved view name}``.

    A check that did not run writes nothing, and what it wrote before is cleared (a finding that
    is gone must not linger in the App). ``only`` names the checks to write (``workbench select``
    writes its batch and leaves the last audit's other findings, vectors and run record as they are).

    Example:
        >>> views = write_back(dataset, result)  # doctest: +SKIP
        >>> dataset.load_saved_view(views["leaks"])  # doctest: +SKIP
    """
    from workbench.checks.registry import registered_checks

    fo = fiftyone()
    if dataset.name != result.dataset_name:
        raise ValueError(f"result is for dataset {result.dataset_name!r}, not {dataset.name!r}")
    specs = tuple(spec for spec in registered_checks() if only is None or spec.name in only)
    fields, tags, views = registered_writes()
    schema = dataset.get_field_schema()
    # One read of every finding field as stored (one query is ~4x faster than one per field).
    sample_fields = {f.name for spec in specs for f in spec.writes.fields}
    stored_fields = [f for f in sample_fields if f in schema]
    ids, *columns = dataset.values(["id", *stored_fields])
    before = {f: dict(zip(ids, values)) for f, values in zip(stored_fields, columns)}

    def sync(field: str, desired: dict[str, Any]) -> None:
        """Write only the samples whose stored value differs from ``desired`` (absent = ``None``):
        a re-audit after adding 1% of images rewrites little more than 1% of the documents."""
        if not desired:  # no such finding any more: the field goes
            if field in schema:
                dataset.delete_sample_field(field)
            return
        doc = getattr(schema.get(field), "document_type", None)
        if doc is not None and not any(isinstance(v, doc) for v in desired.values() if v is not None):
            dataset.delete_sample_field(field)  # another label type than last time (a check's task changed)
            before[field] = {}
        current = before.get(field, {})
        changes = {sid: v for sid, v in desired.items() if _comparable(current.get(sid)) != _comparable(v)}
        changes.update({sid: None for sid, v in current.items() if v is not None and sid not in desired})
        if changes:
            dataset.set_values(field, changes, key_field="id")

    known = set(ids)
    # Declarations naming one field (e.g. a consensus that is a class for one task, boxes for another)
    # write the union of their values.
    by_field: dict[str, dict[str, Any]] = {}
    for spec in specs:
        finding = result.findings.get(spec.name)
        for f in spec.writes.fields:
            desired = f.values(finding) if finding is not None else {}
            if f.kind == "classification":
                desired = {sid: fo.Classification(**v) for sid, v in desired.items()}
            elif f.kind == "detections":
                desired = {sid: fo.Detections(detections=[fo.Detection(**d) for d in v]) for sid, v in desired.items()}
            by_field.setdefault(f.name, {}).update(desired)
        for t in spec.writes.tags:
            _sync_tag(dataset, t.tag, (t.members(finding) if finding is not None else set()) & known)
    for name, desired in by_field.items():
        sync(name, desired)
    if only is None:
        _store_vectors(dataset, result, ids, schema, store_embeddings)
    write_objects(dataset, result.label_field, specs, result.findings)
    for spec in specs:
        for v in spec.writes.views:
            view = dataset.match_tags(v.tag)
            dataset.save_view(v.name, view.sort_by(v.sort_by) if v.sort_by and v.sort_by in
                              dataset.get_field_schema() else view, overwrite=True)
        for sv in spec.writes.slices:
            finding = result.findings.get(spec.name)
            _save_slices(dataset, sv.prefix, sv.slices(finding) if finding is not None else {}, known)
    if only is not None:
        return {v.key: v.name for spec in specs for v in spec.writes.views}

    info = dict(dataset.info.get("workbench", {}))
    runs = list(info.get("runs", []))
    runs.append({"created_at": result.created_at, "counts": result.counts(),
                 "embedding_model": result.embedding.model_id if result.embedding else None,
                 "embedding_fallback": result.embedding.fallback_reason if result.embedding else None,
                 "config": result.config, "versions": result.versions})
    info["runs"] = runs[-MAX_RUN_RECORDS:]
    info["fields"], info["tags"], info["views"] = fields, tags, views
    dataset.info["workbench"] = info
    dataset.save()
    log.info("wrote findings to FiftyOne dataset %r (views: %s)", dataset.name, ", ".join(views.values()))
    return dict(views)


def _sync_tag(dataset: Any, tag: str, members: set[str]) -> None:
    """Tag exactly ``members`` with ``tag``: untag the others, tag the new ones."""
    tagged = set(dataset.match_tags(tag).values("id"))
    if tagged - members:
        dataset.select(list(tagged - members)).untag_samples(tag)
    if members - tagged:
        dataset.select(list(members - tagged)).tag_samples(tag)


def _store_vectors(dataset: Any, result: AuditResult, ids: list[str], schema: dict, store: bool) -> None:
    """The embeddings on the samples. Stored vectors of the same model are kept and only new or changed
    ones written (a re-audit after adding 1% of images writes 1% of the vectors)."""
    art = result.artifacts
    vec_field, sha_field = EMBEDDING_FIELDS["embedding"], EMBEDDING_FIELDS["embedding_sha"]
    runs_before = dataset.info.get("workbench", {}).get("runs", [])
    keep = (store and art is not None and result.embedding is not None and bool(runs_before)
            and runs_before[-1].get("embedding_model") == result.embedding.model_id and sha_field in schema)
    if not keep:  # another model's (or no) vectors: drop them before writing these
        for field in (vec_field, sha_field):
            if field in schema:
                dataset.delete_sample_field(field)
    if not (store and art is not None and art.vectors is not None):
        return
    stored = dict(zip(ids, dataset.values(sha_field))) if keep else {}
    rows = [(k, sid, art.hashes[r]) for k, (sid, r) in enumerate(zip(art.embedded_ids, art.embedded_rows))
            if stored.get(sid) != art.hashes[r]]
    embedded = set(art.embedded_ids)
    stale = {sid: None for sid, sha in stored.items() if sha is not None and sid not in embedded}
    vectors = {**{sid: art.vectors[k] for k, sid, _ in rows}, **stale}
    if vectors:
        dataset.set_values(vec_field, vectors, key_field="id")
        dataset.set_values(sha_field, {**{sid: h for _, sid, h in rows}, **stale}, key_field="id")


def _comparable(value: Any) -> Any:
    """A value as compared between runs: labels by their content (their ``_id`` is new each run),
    numpy vectors and scalars as plain Python."""
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        return _comparable(value.to_dict())
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "_id"}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
