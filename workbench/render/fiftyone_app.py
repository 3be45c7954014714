"""Write an AuditResult back to its FiftyOne dataset for review in the App.

Fields and tags carry the ``wb_`` / ``wb:`` prefix so they never clash with a user's.
Each write-back first clears the previous run's findings (fields and finding tags) but
keeps review tags (``wb:reviewed:*``), so an earlier review survives a re-audit. A saved
view per finding and a run record in ``dataset.info["workbench"]["runs"]`` are kept.
Only the FiftyOne database is written; image and annotation files are never touched.
"""

from __future__ import annotations

import logging
from typing import Any

from workbench._fo import PREFIX, TAG_PREFIX, fiftyone
from workbench.results import AuditResult

log = logging.getLogger(__name__)

FIELDS = {
    "embedding": f"{PREFIX}embedding",
    "embedding_sha": f"{PREFIX}embedding_sha256",
    "dup_cluster": f"{PREFIX}duplicate_cluster",
    "dup_kind": f"{PREFIX}duplicate_kind",
    "leak": f"{PREFIX}is_leak",
    "leak_with": f"{PREFIX}leak_with",
    "label_score": f"{PREFIX}label_score",
    "label_issue": f"{PREFIX}is_label_issue",
    "suggested": f"{PREFIX}suggested_label",
    "file_problem": f"{PREFIX}file_problem",
}
TAGS = {
    "duplicate": f"{TAG_PREFIX}duplicate",
    "leak": f"{TAG_PREFIX}leak",
    "label_issue": f"{TAG_PREFIX}label_issue",
    "file_problem": f"{TAG_PREFIX}file_problem",
}
VIEWS = {
    "duplicates": "wb-duplicates",
    "leaks": "wb-leaks",
    "label_issues": "wb-label-issues",
    "file_problems": "wb-file-problems",
}
MAX_RUN_RECORDS = 20


def write_back(dataset: Any, result: AuditResult, *, store_embeddings: bool = True) -> dict[str, str]:
    """Write findings as fields, tags and saved views; return ``{finding: saved view name}``.

    Example:
        >>> views = write_back(dataset, result)  # doctest: +SKIP
        >>> dataset.load_saved_view(views["leaks"])  # doctest: +SKIP
    """
    fo = fiftyone()

    if dataset.name != result.dataset_name:
        raise ValueError(f"result is for dataset {result.dataset_name!r}, not {dataset.name!r}")
    ids = dataset.values("id")
    art = result.artifacts
    # Stored vectors of the same model are kept and only new or changed ones written (a
    # re-audit after adding 1% of images writes 1% of the vectors).
    runs_before = dataset.info.get("workbench", {}).get("runs", [])
    keep_vectors = (store_embeddings and art is not None and result.embedding is not None and bool(runs_before)
                    and runs_before[-1].get("embedding_model") == result.embedding.model_id
                    and FIELDS["embedding_sha"] in dataset.get_field_schema())
    # Clear the previous run's findings; review tags are kept.
    for tag in TAGS.values():
        dataset.untag_samples(tag)
    for key, name in FIELDS.items():
        if keep_vectors and key in ("embedding", "embedding_sha"):
            continue
        if name in dataset.get_field_schema():
            dataset.delete_sample_field(name)

    def put(field: str, mapping: dict[str, Any]) -> None:
        if mapping:
            dataset.set_values(field, mapping, key_field="id")

    if result.duplicates:
        put(FIELDS["dup_cluster"], {sid: c.cluster_id for c in result.duplicates.clusters for sid in c.sample_ids})
        put(FIELDS["dup_kind"], {sid: c.kind for c in result.duplicates.clusters for sid in c.sample_ids})
    if result.leakage:
        partners: dict[str, list[str]] = {}
        for p in result.leakage.pairs:
            partners.setdefault(p.sample_id_a, []).append(p.filepath_b)
            partners.setdefault(p.sample_id_b, []).append(p.filepath_a)
        put(FIELDS["leak"], {sid: True for sid in partners})
        put(FIELDS["leak_with"], partners)
    if result.label_issues:
        li = result.label_issues
        flagged = {i.sample_id for i in li.issues}
        put(FIELDS["label_score"], dict(zip(li.sample_ids, li.scores)))
        put(FIELDS["label_issue"], {sid: sid in flagged for sid in li.sample_ids})
        put(FIELDS["suggested"], {i.sample_id: fo.Classification(label=i.suggested_label,
                                                                  confidence=i.suggested_confidence)
                                  for i in li.issues})
    if result.integrity:
        put(FIELDS["file_problem"], {p.sample_id: f"{p.kind}: {p.message}"
                                     for p in result.integrity.problems if p.sample_id})
    if store_embeddings and art is not None and art.vectors is not None:
        stored = dict(zip(ids, dataset.values(FIELDS["embedding_sha"]))) if keep_vectors else {}
        rows = [(k, sid, art.hashes[r]) for k, (sid, r) in enumerate(zip(art.embedded_ids, art.embedded_rows))
                if stored.get(sid) != art.hashes[r]]
        embedded = set(art.embedded_ids)
        stale = {sid: None for sid, sha in stored.items() if sha is not None and sid not in embedded}
        put(FIELDS["embedding"], {**{sid: art.vectors[k] for k, sid, _ in rows}, **stale})
        put(FIELDS["embedding_sha"], {**{sid: h for _, sid, h in rows}, **stale})

    known = set(ids)
    tag_sets = {
        "duplicate": {sid for c in (result.duplicates.clusters if result.duplicates else ()) for sid in c.sample_ids},
        "leak": set(result.leakage.leaked_ids) if result.leakage else set(),
        "label_issue": {i.sample_id for i in result.label_issues.issues} if result.label_issues else set(),
        "file_problem": {p.sample_id for p in result.integrity.problems if p.sample_id} if result.integrity else set(),
    }
    for key, sids in tag_sets.items():
        sids &= known
        if sids:
            dataset.select(list(sids)).tag_samples(TAGS[key])

    views = {
        "duplicates": dataset.match_tags(TAGS["duplicate"]).sort_by(FIELDS["dup_cluster"]),
        "leaks": dataset.match_tags(TAGS["leak"]),
        "label_issues": dataset.match_tags(TAGS["label_issue"]).sort_by(FIELDS["label_score"]),
        "file_problems": dataset.match_tags(TAGS["file_problem"]),
    }
    for key, view in views.items():
        dataset.save_view(VIEWS[key], view, overwrite=True)

    info = dict(dataset.info.get("workbench", {}))
    runs = list(info.get("runs", []))
    runs.append({"created_at": result.created_at, "counts": result.counts(),
                 "embedding_model": result.embedding.model_id if result.embedding else None,
                 "embedding_fallback": result.embedding.fallback_reason if result.embedding else None,
                 "config": result.config, "versions": result.versions})
    info["runs"] = runs[-MAX_RUN_RECORDS:]
    info["fields"], info["tags"], info["views"] = FIELDS, TAGS, VIEWS
    dataset.info["workbench"] = info
    dataset.save()
    log.info("wrote findings to FiftyOne dataset %r (views: %s)", dataset.name, ", ".join(VIEWS.values()))
    return dict(VIEWS)


def launch_app(dataset: Any, *, view: str | None = None, port: int | None = None, remote: bool = False,
               wait: bool = True) -> Any:
    """Open the FiftyOne App on ``dataset`` (optionally one of workbench's saved views)."""
    fo = fiftyone()
    target = dataset.load_saved_view(view) if view else dataset
    kwargs: dict[str, Any] = {"remote": remote}
    if port:
        kwargs["port"] = port
    session = fo.launch_app(target, **kwargs)
    if wait:
        session.wait()
    return session


def review(result: AuditResult, *, dataset: Any = None, view: str | None = None, port: int | None = None,
           remote: bool = False, auto: bool = True) -> Any:
    """Open the FiftyOne App on the audited dataset, on one of workbench's saved views.

    ``view`` defaults to the first non-empty of label issues, leaks, duplicates and file
    problems. Inside Jupyter (``auto=True``) the App is embedded in the output cell; mark
    samples there with the tags ``wb:reviewed:confirmed`` / ``wb:reviewed:not_error`` (or
    from the panels) and the next audit reads them back into ``AuditResult.reviews``.

    Returns:
        The ``fiftyone.core.session.Session``; set ``session.view`` to move it.

    Example:
        >>> session = workbench.review(result)  # doctest: +SKIP
        >>> session.view = dataset.load_saved_view("wb-leaks")  # doctest: +SKIP
    """
    fo = fiftyone()
    if remote:
        from fiftyone.core.context import is_notebook_context

        if is_notebook_context():  # FiftyOne would refuse only after starting a server it then leaves running
            raise ValueError("remote=True can't be used inside a notebook; use auto=False to start the App "
                             "without displaying it, or run `workbench app DATASET --remote` in a shell")
    ds = dataset if dataset is not None else fo.load_dataset(result.dataset_name)
    saved = set(ds.list_saved_views())
    if view is None:
        order = ("label_issues", "leaks", "duplicates", "file_problems")
        view = next((VIEWS[k] for k in order if VIEWS[k] in saved and len(ds.load_saved_view(VIEWS[k]))), None)
    elif view not in saved:
        raise ValueError(f"dataset {ds.name!r} has no saved view {view!r}; workbench's are "
                         f"{sorted(v for v in saved if v.startswith('wb-'))} (run write_back first)")
    kwargs: dict[str, Any] = {"remote": remote, "auto": auto}
    if port:
        kwargs["port"] = port
    return fo.launch_app(ds.load_saved_view(view) if view else ds, **kwargs)
