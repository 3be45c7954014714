"""Write-back to the real FiftyOne database: prefixed fields and tags, stale findings cleared, reviews kept."""

import os

import pytest

pytestmark = pytest.mark.slow


def test_stale_findings_cleared_reviews_kept(imagefolder, unique_name):
    import workbench

    cfg = workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0"),
                                near_duplicate_threshold=0.005)
    first = workbench.audit(imagefolder, cfg, name=unique_name, progress=False)
    ds = workbench.load(unique_name)
    assert first.counts()["leaks"] == 1
    leaked = ds.match_tags("wb:leak")
    assert len(leaked) == 2 and set(leaked.values("wb_is_leak")) == {True}
    user_fields = {f for f in ds.get_field_schema() if not f.startswith("wb_")}
    assert user_fields >= {"filepath", "tags", "ground_truth"}
    keeper = next(s for s in leaked if not s.filepath.endswith("copied.png"))
    keeper.tags.append("wb:reviewed:confirmed")
    keeper.save()

    os.remove(imagefolder / "test" / "cat" / "copied.png")
    second = workbench.audit(imagefolder, cfg, name=unique_name, progress=False)
    ds.reload()
    assert second.counts()["leaks"] == 0
    assert len(ds.match_tags("wb:leak")) == 0 and "wb_is_leak" not in ds.get_field_schema()
    assert "wb:reviewed:confirmed" in ds[keeper.id].tags
    assert len(ds.load_saved_view("wb-leaks")) == 0
    assert [r["counts"]["leaks"] for r in ds.info["workbench"]["runs"]] == [1, 0]


def test_result_for_another_dataset_is_refused(imagefolder, unique_name):
    import workbench

    result = workbench.run_audit(workbench.load(imagefolder, name=unique_name), progress=False,
                                 config=workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0")))
    other = workbench.load(imagefolder, name=unique_name + "-b")
    try:
        with pytest.raises(ValueError, match="result is for dataset"):
            workbench.write_back(other, result)
    finally:
        other.delete()


def test_marks_round_trip_into_next_audit(imagefolder, unique_name):
    import workbench
    from workbench.marks import REVIEW_TAGS, read_marks

    cfg = workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0"),
                                near_duplicate_threshold=0.005)
    first = workbench.audit(imagefolder, cfg, name=unique_name, progress=False)
    assert first.reviews == {}
    ds = workbench.load(unique_name)
    a, b = first.leakage.pairs[0].sample_id_a, first.leakage.pairs[0].sample_id_b
    assert workbench.mark_samples(ds, [a], "confirmed") == 1
    workbench.mark_samples(ds, [b], "not_error")
    workbench.mark_samples(ds, [b], "confirmed")  # changing one's mind replaces the mark
    assert ds[b].tags.count(REVIEW_TAGS["not_error"]) == 0
    workbench.mark_samples(ds, [a], None)
    ds.select([a]).tag_samples(REVIEW_TAGS["not_error"])  # a tag set by hand in the App counts the same
    assert read_marks(ds) == {a: "not_error", b: "confirmed"}
    second = workbench.audit(ds, cfg, progress=False)
    assert second.reviews == {a: "not_error", b: "confirmed"}
    assert ds[a].ground_truth.label == first.leakage.pairs[0].label_a  # marking never relabels
    with pytest.raises(ValueError, match="state must be"):
        workbench.mark_samples(ds, [a], "maybe")


def _finding_values(ds):
    from workbench.render.fiftyone_app import FIELDS, _comparable

    ids = ds.values("id")
    fields = [f for f in FIELDS.values() if f in ds.get_field_schema() and f != FIELDS["embedding"]]
    return {f: dict(zip(ids, map(_comparable, ds.values(f)))) for f in fields}, {
        t: sorted(ds.match_tags(t).values("id")) for t in ("wb:duplicate", "wb:leak", "wb:label_issue")}


def test_write_back_writes_only_changes_and_ends_like_a_fresh_write(imagefolder, unique_name):
    import dataclasses

    import workbench

    cfg = workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0"),
                                near_duplicate_threshold=0.005)
    ds = workbench.load(imagefolder, name=unique_name)
    result = workbench.run_audit(ds, cfg, progress=False)
    workbench.write_back(ds, result)
    written = []
    real = type(ds).set_values

    def spy(self, field, values, *args, **kwargs):
        written.append((field, len(values)))
        return real(self, field, values, *args, **kwargs)

    type(ds).set_values = spy
    try:
        workbench.write_back(ds, result)  # the same result again: nothing to write
        assert written == []
        # One label issue fewer: one sample's flag, suggestion and tag change, nothing else.
        li = result.label_issues
        dropped = li.issues[0]
        smaller = result.replace(label_issues=dataclasses.replace(li, issues=li.issues[1:]))
        workbench.write_back(ds, smaller)
    finally:
        type(ds).set_values = real
    # Its review rank and score stay when it is in the review queue, else they go with the issue.
    queued = dropped.sample_id in {i.sample_id for i in li.review_queue}
    assert sorted(written) == [("wb_is_label_issue", 1),
                               *([] if queued else [("wb_review_rank", 1), ("wb_review_score", 1)]),
                               ("wb_suggested_label", 1)]
    ds.reload()
    assert ds[dropped.sample_id]["wb_suggested_label"] is None and "wb:label_issue" not in ds[dropped.sample_id].tags
    incremental = _finding_values(ds)
    # The same dataset written from scratch (every finding field and tag removed first) ends the same.
    from workbench.render.fiftyone_app import FIELDS, TAGS

    for field in FIELDS.values():
        if field in ds.get_field_schema():
            ds.delete_sample_field(field)
    for tag in TAGS.values():
        ds.untag_samples(tag)
    workbench.write_back(ds, smaller)
    assert _finding_values(ds) == incremental


def test_slice_views_are_saved_one_per_slice_and_stale_ones_deleted(imagefolder, unique_name):
    """A check's named slices (drift's weak regions) become one saved view each; a re-audit naming fewer
    deletes the others and leaves the check's other views alone."""
    import workbench
    from workbench.render.fiftyone_app import _save_slices

    ds = workbench.load(imagefolder, name=unique_name)
    ids = ds.values("id")
    ds.save_view("wb-weak-regions", ds.limit(1))  # a static view sharing the prefix
    _save_slices(ds, "wb-weak-", {"wb-weak-1": set(ids[:3]), "wb-weak-2": {ids[5], "not-a-sample"}}, set(ids))
    assert sorted(ds.list_saved_views()) == ["wb-weak-1", "wb-weak-2", "wb-weak-regions"]
    assert set(ds.load_saved_view("wb-weak-1").values("id")) == set(ids[:3])
    assert ds.load_saved_view("wb-weak-2").values("id") == [ids[5]]
    _save_slices(ds, "wb-weak-", {"wb-weak-1": {ids[7]}}, set(ids))
    assert sorted(ds.list_saved_views()) == ["wb-weak-1", "wb-weak-regions"]
    assert ds.load_saved_view("wb-weak-1").values("id") == [ids[7]]
