"""Active-learning selection: uncertainty and k-center diversity, the pool, duplicates left out, the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.checks.selection import SelectionOptions, select_next
from workbench.checks.selection_rank import select_batch, uncertainty, uniqueness
from workbench.results.serialize import from_jsonable, to_jsonable
from workbench.results.selection import SelectionResult


def _clusters(n_per: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four tight clusters on the unit sphere (8-d), ``n_per`` each; returns ``(vectors, cluster of each)``."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8, dtype=np.float32)[:4]
    x = np.repeat(centres, n_per, axis=0) + rng.normal(0, 0.05, (4 * n_per, 8)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(4), n_per)


def test_uncertainty_of_sure_and_torn_probes():
    p = np.array([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    assert uncertainty(p).round(2).tolist() == [0.1, 1.0, 0.63]
    assert uncertainty(p, "margin").round(2).tolist() == [0.03, 1.0, 1.0]
    assert uncertainty(np.ones((3, 1))).tolist() == [0.0, 0.0, 0.0]


def test_diversity_alone_covers_every_cluster_before_any_twice():
    x, cluster = _clusters()
    picks = select_batch(x, range(len(x)), 4)
    assert sorted(cluster[[p.row for p in picks]].tolist()) == [0, 1, 2, 3]
    assert [p.rank for p in picks] == [1, 2, 3, 4]
    assert picks[0].distance is None and all(p.distance > 0.5 for p in picks[1:])  # the first: nothing before it


def test_anchors_push_the_batch_away_from_what_is_labelled():
    x, cluster = _clusters()
    labelled = np.flatnonzero(cluster < 3)
    pool = np.flatnonzero(cluster == 3).tolist() + labelled[:5].tolist()
    picks = select_batch(x, pool, 1, anchors=labelled)
    assert cluster[picks[0].row] == 3 and picks[0].distance > 0.5


def test_uncertainty_weight_one_takes_the_most_uncertain_first():
    x, _ = _clusters()
    scores = np.linspace(0, 1, len(x))
    picks = select_batch(x, range(len(x)), 3, scores=scores, w_uncertainty=1.0, w_diversity=0.0)
    assert [p.row for p in picks] == [len(x) - 1, len(x) - 2, len(x) - 3]


def test_the_mix_spreads_uncertain_picks_over_the_clusters():
    """Uncertainty high in clusters 0 and 1 alike: the combined score alternates rather than emptying one."""
    x, cluster = _clusters()
    scores = np.where(cluster < 2, 0.9, 0.1)
    picks = select_batch(x, range(len(x)), 4, scores=scores)
    assert sorted(set(cluster[[p.row for p in picks[:2]]].tolist())) == [0, 1]


def test_uniqueness_weight_moves_isolated_images_up_the_ranking():
    """A dense cluster plus a few isolated images, all equally uncertain: without the uniqueness term the
    uncertainty ties keep the row order; with it the isolated images come first, more with more weight."""
    from workbench.checks.neighbors import knn_graph

    rng = np.random.default_rng(3)
    dense = np.array([1, 0, 0, 0], np.float32) + rng.normal(0, 0.05, (40, 4)).astype(np.float32)
    lonely = np.eye(4, dtype=np.float32)[1:] + rng.normal(0, 0.05, (3, 4)).astype(np.float32)
    x = np.r_[dense, lonely]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    graph = knn_graph(x, k=5)
    q = uniqueness(graph.indices, graph.distances, k=5)
    assert set(np.argsort(-q)[:3].tolist()) == {40, 41, 42} and 0 <= q.min() and q.max() == 1
    scores = np.full(len(x), 0.5)
    plain = select_batch(x, range(len(x)), 3, scores=scores, w_uncertainty=1.0, w_diversity=0.0)
    assert [p.row for p in plain] == [0, 1, 2]
    unique = select_batch(x, range(len(x)), 3, scores=scores, w_uncertainty=1.0, w_diversity=0.0,
                          unique=q, w_uniqueness=0.2)
    assert {p.row for p in unique} == {40, 41, 42} and unique[0].score > plain[0].score
    # through select_next and the options; 0 weight (the default) leaves the batch as it was
    ids = [str(i) for i in range(len(x))]
    on = select_next(ids, ids, [None] * len(x), x, None, unique=q,
                     options=SelectionOptions(budget=1, w_diversity=0.0, w_uncertainty=0.0, w_uniqueness=1.0))
    assert on.picks[0].sample_id == str(int(np.argmax(q))) and on.weights["uniqueness"] == 1.0
    assert "by k-center diversity + uniqueness 1;" in on.summary()
    labelled = select_next(ids, ids, ["a"] * 20 + ["b"] * 20 + [None] * 3, x, None, unique=q,
                           options=SelectionOptions(budget=1, w_uniqueness=0.3))
    assert "uncertainty 0.8 + k-center diversity 0.2 + uniqueness 0.3, among" in labelled.summary()
    off = select_next(ids, ids, [None] * len(x), x, None, unique=q, options=SelectionOptions(budget=3))
    assert "uniqueness" not in off.weights
    assert off.picks == select_next(ids, ids, [None] * len(x), x, None, options=SelectionOptions(budget=3)).picks


def test_select_next_pools_unlabelled_images_and_leaves_copies_out():
    from workbench.results import DuplicateCluster, DuplicatesResult

    x, cluster = _clusters()
    ids = [f"s{i}" for i in range(len(x))]
    labels = [str(c) if i % 2 else None for i, c in enumerate(cluster)]  # half labelled, all four classes
    dup = DuplicateCluster(cluster_id=0, kind="exact", sample_ids=("s0", "s2", "s4"), filepaths=("a", "b", "c"),
                           splits=(None,) * 3, labels=(None,) * 3, max_distance=0.0)
    r = select_next(ids, ids, labels, x, DuplicatesResult(near_threshold=0.1, clusters=(dup,)),
                    options=SelectionOptions(budget=10))
    picked = [p.sample_id for p in r.picks]
    assert len(picked) == 10 and all(labels[ids.index(s)] is None for s in picked)
    assert not {"s2", "s4"} & set(picked) and r.excluded == {"copies of a duplicate cluster's first image": 2}
    assert r.pool_size == 38 and "probe fitted on 40 labelled images" in r.probe
    assert len({cluster[ids.index(s)] for s in picked[:4]}) == 4
    assert from_jsonable(SelectionResult, json.loads(json.dumps(to_jsonable(r)))) == r
    assert r.to_frame()["selection_rank"].tolist() == list(range(1, 11))


def test_the_whole_pool_is_scored_out_of_fold():
    x, cluster = _clusters()
    ids = [f"s{i}" for i in range(len(x))]
    calls = []

    def oof(features, y, seed, rows):
        assert len(rows) == len(y)  # the rows of ``vectors`` fitted, for their fold keys
        calls.append(len(y))
        return np.full((len(y), 4), 0.25), 2, 0.25

    r = select_next(ids, ids, [str(c) for c in cluster], x, None, options=SelectionOptions(budget=5, pool="all"),
                    oof=oof)
    assert calls == [80] and len(r.picks) == 5 and all(p.uncertainty == 1.0 for p in r.picks)
    assert "scored out of fold (2 folds)" in r.probe


def test_copies_of_labelled_images_are_not_offered():
    from workbench.results import DuplicateCluster, DuplicatesResult

    x, cluster = _clusters()
    ids = [f"s{i}" for i in range(len(x))]
    labels = [str(c) if i % 2 else None for i, c in enumerate(cluster)]
    dup = DuplicateCluster(cluster_id=0, kind="exact", sample_ids=("s1", "s2", "s4"), filepaths=("a", "b", "c"),
                           splits=(None,) * 3, labels=(None,) * 3, max_distance=0.0)  # s1 is labelled
    r = select_next(ids, ids, labels, x, DuplicatesResult(near_threshold=0.1, clusters=(dup,)),
                    options=SelectionOptions(budget=40))
    assert not {"s2", "s4"} & {p.sample_id for p in r.picks} and r.excluded == {"copies of labelled images": 2}


def test_an_audit_runs_the_selection_only_when_given_a_budget():
    from types import SimpleNamespace as F

    from workbench.checks.selection import run
    from workbench.config import AuditConfig
    from workbench.errors import CheckNotApplicable

    with pytest.raises(CheckNotApplicable, match="workbench select --budget N"):
        run(F(), AuditConfig(), SelectionOptions())


def test_without_labels_the_batch_is_diversity_alone():
    x, cluster = _clusters()
    ids = [f"s{i}" for i in range(len(x))]
    r = select_next(ids, ids, [None] * len(x), x, None, options=SelectionOptions(budget=4))
    assert "diversity alone" in r.probe and sorted(cluster[[ids.index(p.sample_id) for p in r.picks]]) == [0, 1, 2, 3]
    assert "by k-center diversity alone" in r.summary()


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": -1}, "budget must be at least 1"), ({"pool": "some"}, "pool must be"),
    ({"uncertainty": "variance"}, "uncertainty must be"), ({"w_uncertainty": -1}, "w_uncertainty must be 0"),
    ({"w_uncertainty": 0, "w_diversity": 0}, "can't both be 0"), ({"w_uniqueness": -0.5}, "w_uniqueness must be 0"),
])
def test_options_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SelectionOptions(**kwargs)


# ------------------------------------------------------------------------------------ the command

def _export_with_unlabelled(root: Path) -> Path:
    """A FiftyOne classification export of 16 demo garments (two per class of eight), 4 of them unlabelled."""
    import shutil

    from tests.conftest import DEMO

    classes = sorted(p.name for p in (DEMO / "train").iterdir() if p.is_dir())[:8]
    labels = {}
    (root / "data").mkdir(parents=True)
    for k, name in enumerate(classes):
        for j, src in enumerate(sorted((DEMO / "train" / name).glob("train-*.png"))[:2]):
            stem = f"img{2 * k + j:02d}"
            shutil.copy(src, root / "data" / f"{stem}.png")
            labels[stem] = None if (2 * k + j) % 4 == 0 else k
    (root / "labels.json").write_text(json.dumps({"classes": classes, "labels": labels}))
    return root


def test_select_writes_the_batch_as_a_view_and_a_csv_and_keeps_the_last_audit(tmp_path, unique_name):
    """Real embeddings (the shipped EfficientNet-Lite0): the 4 unlabelled images, ranked; the audit's own
    findings stay in the App; bad options are input errors; no file changes."""
    import fiftyone as fo

    from tests.catalogue.harness import run_cli, untouched

    root = _export_with_unlabelled(tmp_path / "ds")
    out_csv = tmp_path / "out" / "batch.csv"
    with untouched(root):
        audit = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet")
        out = run_cli("select", unique_name, "--embedder", "efficientnet-lite0", "--budget", "3", "--csv", out_csv,
                      "--quiet")
    assert audit.code == 0 and out.code == 0, out.text[-3000:]
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["rank"] for r in rows] == ["1", "2", "3"] and all(r["label"] == "" for r in rows)
    assert "3 of 4 unlabelled images selected to label next" in out.stdout
    assert "uncertainty 0.8 + k-center diversity 0.2" in out.stdout
    ds = fo.load_dataset(unique_name)
    view = ds.load_saved_view("wb-next-batch")
    assert [s["wb_selection_rank"] for s in view] == [1, 2, 3]
    assert {s.id for s in view} == {r["sample_id"] for r in rows}
    assert ds.info["workbench"]["runs"] and len(ds.info["workbench"]["runs"]) == 1  # select adds no audit run
