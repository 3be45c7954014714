"""Evidence and scores in the FiftyOne write-back: per-sample fields, the review-queue view, reset on re-audit.

A synthetic result written to a real FiftyOne dataset (the suite's private mongod, see conftest):
no image is read and no model runs, so these tests are quick.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workbench.results import (
    AuditResult,
    CheckStatus,
    DuplicateCluster,
    DuplicateLink,
    DuplicatesResult,
    LabelIssue,
    LabelIssuesResult,
    LeakageResult,
    LeakPair,
    TierPrecision,
)


@pytest.fixture
def dataset(unique_name: str, tmp_path: Path):
    """Eight samples (the files need not exist: nothing reads them)."""
    from workbench._fo import fiftyone

    fo = fiftyone()
    ds = fo.Dataset(unique_name)
    ds.add_samples([fo.Sample(filepath=str(tmp_path / f"img{i}.png")) for i in range(8)])
    return ds


def _issue(sid: str, path: str, rank: int, score: float, *, likely: bool) -> LabelIssue:
    return LabelIssue(sid, path, "train", "cat", "dog", 0.1, 0.8, likely_error=likely, review_rank=rank,
                      review_score=score, error_probability=0.5)


def _result(ds, *, duplicates: bool = True, leaks: bool = True, queue: tuple[int, ...] = (5, 2, 7)) -> AuditResult:
    """Cluster 0: near, s0-s1 by embedding at 0.02, s1-s2 by embedding+thumbnail at 0.09; cluster 1: exact s3-s4;
    a leak s0 (train) - s1 (test); label issues s2 (flagged, rank 2) and s6 (flagged, rank 9, not queued);
    the review queue ``queue`` (sample numbers, ranked in that order; only s2 and s6 flagged)."""
    ids, paths = ds.values("id"), ds.values("filepath")
    near = DuplicateCluster(0, "near", tuple(ids[:3]), tuple(paths[:3]), ("train", "test", "train"),
                            ("cat", "cat", "cat"), 0.09,
                            links=(DuplicateLink(ids[0], ids[1], 0.02, "embedding"),
                                   DuplicateLink(ids[1], ids[2], 0.09, "embedding+thumbnail")))
    exact = DuplicateCluster(1, "exact", tuple(ids[3:5]), tuple(paths[3:5]), ("train", "train"), ("dog", "dog"), 0.0,
                             links=(DuplicateLink(ids[3], ids[4], 0.0, "exact"),))
    leak = LeakPair(ids[0], ids[1], paths[0], paths[1], "train", "test", "cat", "cat", "near", 0.02, 0,
                    evidence="embedding")
    ranks = {n: r + 1 for r, n in enumerate(queue)}
    ranks.setdefault(6, 9)
    ranks.setdefault(2, 8)
    issues = tuple(_issue(ids[n], paths[n], ranks[n], 0.01 * ranks[n], likely=True) for n in (2, 6))
    review_queue = tuple(_issue(ids[n], paths[n], ranks[n], 0.01 * ranks[n], likely=n in (2, 6)) for n in queue)
    li = LabelIssuesResult(method="cleanlab", classes=("cat", "dog"), issues=issues, sample_ids=tuple(ids),
                           scores=tuple(0.5 for _ in ids), suggested=tuple("dog" for _ in ids),
                           review_queue=review_queue, review_ranking="neighbor_ensemble",
                           review_budget=len(queue), review_budget_source="--review-budget",
                           tiers=(TierPrecision("likely_errors", 2, 1.0, 0.5),))
    return AuditResult.build(
        dataset_name=ds.name, source="/nowhere", task="classification", n_samples=len(ids), classes=("cat", "dog"),
        splits=("train", "test"), created_at="2025-01-01T12:00:00Z", config={}, versions={},
        checks=tuple(CheckStatus(n, "ran") for n in ("duplicates", "leakage", "label_issues")),
        duplicates=DuplicatesResult(0.05, (near, exact) if duplicates else (), n_exact_pairs=1, n_near_pairs=2),
        leakage=LeakageResult((leak,) if leaks else (), n_clusters=1), label_issues=li)


def _field(ds, name: str) -> list:
    ds.reload()
    return ds.values(name) if name in ds.get_field_schema() else None


def test_samples_carry_their_evidence_rank_and_score(dataset) -> None:
    from workbench.render.fiftyone_app import write_back

    views = write_back(dataset, _result(dataset))
    assert views["review_queue"] == "wb-review-queue"
    assert _field(dataset, "wb_duplicate_evidence") == [
        ["embedding"], ["embedding", "embedding+thumbnail"], ["embedding+thumbnail"], ["exact"], ["exact"],
        None, None, None]
    assert _field(dataset, "wb_duplicate_distance") == [0.02, 0.02, 0.09, 0.0, 0.0, None, None, None]
    assert _field(dataset, "wb_leak_evidence")[:3] == [["embedding"], ["embedding"], None]
    assert _field(dataset, "wb_leak_with")[0] == [dataset.values("filepath")[1]]  # parallel to the evidence
    # Ranks of the flagged issues and of the queue; a sample in neither has none.
    assert _field(dataset, "wb_review_rank") == [None, None, 2, None, None, 1, 9, 3]
    assert _field(dataset, "wb_review_score") == [None, None, 0.02, None, None, 0.01, 0.09, 0.03]
    queue = dataset.load_saved_view("wb-review-queue")
    ids = dataset.values("id")
    assert queue.values("id") == [ids[5], ids[2], ids[7]]  # rank order, not insertion order
    assert queue.values("wb_review_rank") == [1, 2, 3]
    assert queue.values("wb_is_label_issue") == [False, True, False]  # the likely-error marker
    assert sorted(dataset.match_tags("wb:review_queue").values("id")) == sorted(queue.values("id"))
    info = dataset.info["workbench"]
    assert info["views"]["review_queue"] == "wb-review-queue" and info["tags"]["review_queue"] == "wb:review_queue"
    assert info["fields"]["dup_evidence"] == "wb_duplicate_evidence"


def test_reaudit_resets_the_new_fields_tags_and_view(dataset) -> None:
    from workbench.render.fiftyone_app import write_back

    write_back(dataset, _result(dataset))
    ids = dataset.values("id")
    dataset.select([ids[5]]).tag_samples("wb:reviewed:confirmed")
    # The queue changes: s5 leaves it (and is no issue, so it has no rank any more), s1 and s3 join.
    write_back(dataset, _result(dataset, queue=(3, 2, 1)))
    assert _field(dataset, "wb_review_rank") == [None, 3, 2, 1, None, None, 9, None]
    assert dataset.load_saved_view("wb-review-queue").values("id") == [ids[3], ids[2], ids[1]]
    assert "wb:review_queue" not in dataset[ids[5]].tags and "wb:reviewed:confirmed" in dataset[ids[5]].tags
    # No duplicates, leaks or queue any more: their fields go, the tag goes, the view is empty.
    empty = _result(dataset, duplicates=False, leaks=False, queue=())
    write_back(dataset, empty.replace(label_issues=dataclasses.replace(empty.label_issues, issues=())))
    schema = dataset.get_field_schema()
    for field in ("wb_duplicate_evidence", "wb_duplicate_distance", "wb_leak_evidence", "wb_review_rank",
                  "wb_review_score"):
        assert field not in schema, field
    assert len(dataset.match_tags("wb:review_queue")) == 0 and len(dataset.load_saved_view("wb-review-queue")) == 0


def test_a_result_without_evidence_writes_none(dataset) -> None:
    """A result read from JSON written before links and evidence were kept: no empty evidence lists."""
    from workbench.render.fiftyone_app import write_back

    result = _result(dataset)
    dups = result.duplicates
    old = result.replace(
        duplicates=dataclasses.replace(dups, clusters=tuple(dataclasses.replace(c, links=())
                                                                    for c in dups.clusters)),
        leakage=dataclasses.replace(result.leakage, pairs=tuple(dataclasses.replace(p, evidence="")
                                                                for p in result.leakage.pairs)))
    write_back(dataset, old)
    schema = dataset.get_field_schema()
    assert "wb_duplicate_evidence" not in schema and "wb_duplicate_distance" not in schema
    assert "wb_leak_evidence" not in schema and _field(dataset, "wb_is_leak")[:2] == [True, True]
