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
