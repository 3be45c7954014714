"""Outliers on the shared k-NN graph: far points first, judged and ranked per class."""

import json

import numpy as np
import pytest

from workbench.checks.neighbors import knn_graph
from workbench.checks.outliers import OutliersResult, find_outliers, neighbor_distance
from workbench.results.serialize import from_jsonable as _from_jsonable, to_jsonable as _to_jsonable

DIM = 32


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def cluster(rng, centre, n, spread):
    return centre + spread * rng.standard_normal((n, DIM))


def dataset(seed=0, n=60, spreads=(0.15, 0.15, 0.15), far=()):
    """Clusters of ``n`` points around random centres, one class each; ``far``: ``(class, how far)`` points."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((len(spreads), DIM))
    points, labels = [], []
    for c, spread in enumerate(spreads):
        points.append(cluster(rng, centres[c], n, spread))
        labels += [f"c{c}"] * n
    for c, how_far in far:
        points.append(centres[c] + how_far * rng.standard_normal((1, DIM)))
        labels.append(f"c{c}")
    vectors = unit(np.vstack(points))
    graph = knn_graph(vectors, k=10)
    ids = [f"s{i}" for i in range(len(labels))]
    return ids, [f"/d/{i}.png" for i in range(len(labels))], labels, graph


def run(ids, paths, labels, graph, **kw):
    return find_outliers(ids, paths, labels, graph.indices, graph.distances, **kw)


def test_far_points_are_flagged_and_ranked_first_in_their_class():
    ids, paths, labels, graph = dataset(far=[(0, 3.0), (1, 3.0), (1, 2.0)])
    result = run(ids, paths, labels, graph, cut=3.0)
    far = {"s180", "s181", "s182"}
    assert {o.sample_id for o in result.outliers} == far
    assert [o.rank for o in result.per_class()["c1"]] == [1, 2] and result.per_class()["c0"][0].rank == 1
    assert all(o.score < 0.5 and o.reference == "class+all" for o in result.outliers)
    scores = dict(zip(result.sample_ids, result.scores))
    assert all(s >= 0.5 for sid, s in scores.items() if sid not in far)
    assert [o.z for o in result.outliers] == sorted((o.z for o in result.outliers), reverse=True)


def test_clean_clusters_flag_about_one_percent_or_fewer_at_the_default_cut():
    flagged = total = 0
    for seed in range(3):
        ids, paths, labels, graph = dataset(seed=seed, n=150)
        flagged, total = flagged + run(ids, paths, labels, graph).n_findings, total + len(ids)
    assert flagged <= 0.015 * total  # about 1% (z > 2 of a normal tail is 2.3%; averaging two z halves it)


def test_judged_within_the_class_a_loose_class_does_not_fill_the_list():
    # c0 is tight and c1 loose: c1's ordinary points sit as far from their neighbours as c0's odd one.
    ids, paths, labels, graph = dataset(spreads=(0.05, 0.2), far=[(0, 0.2)])
    odd = ids[-1]
    per_class = run(ids, paths, labels, graph)
    assert [o.sample_id for o in per_class.outliers] == [odd]
    mean, _ = neighbor_distance(graph.indices, graph.distances)
    assert mean[-1] < np.median(mean[60:120])  # the odd point is nearer its neighbours than c1's typical one
    pooled = run(ids, paths, labels, graph, reference="all")
    assert odd not in {o.sample_id for o in pooled.outliers}


def test_unlabelled_and_small_classes_are_judged_against_everything():
    ids, paths, labels, graph = dataset(far=[(2, 3.0)])
    labels = [None] * 120 + ["small"] * 5 + ["c2"] * 55 + ["rare"]  # the far point is alone in its class
    result = run(ids, paths, labels, graph, cut=4.0)
    (o,) = result.outliers
    assert o.sample_id == ids[-1] and o.reference == "all" and o.label == "rare" and o.rank == 1
    everything = run(ids, paths, labels, graph, cut=-100.0)  # every image flagged: see how each was judged
    judged = {x.sample_id: x.reference for x in everything.outliers}
    assert {judged[i] for i in ids[:125]} == {"all"} and {judged[i] for i in ids[125:180]} == {"class+all"}
    nolab = run(ids, paths, [None] * len(ids), graph, cut=4.0)
    assert [x.sample_id for x in nolab.outliers] == [ids[-1]] and nolab.outliers[0].label is None
    assert nolab.summary() == "1 of 181 images (cut z > 4)"  # no image-level class (detection): no "1 None"


def test_copies_are_not_counted_as_neighbours():
    ids, paths, labels, graph = dataset(far=[(0, 3.0)])
    idx, dist = graph.indices.copy(), graph.distances.copy()
    far = len(ids) - 1
    idx[far, :3], dist[far, :3] = [0, 1, 2], 0.0  # three exact copies in front of its real neighbours
    dist[far] = np.sort(dist[far])
    kept = find_outliers(ids, paths, labels, idx, dist, k=3)
    assert ids[far] in {o.sample_id for o in kept.outliers} and kept.outliers[0].n_neighbors == 3
    counted = find_outliers(ids, paths, labels, idx, dist, k=3, duplicate_distance=0.0)
    assert ids[far] not in {o.sample_id for o in counted.outliers}


def test_padding_and_rows_without_neighbours():
    idx = np.array([[1, -1], [0, -1], [-1, -1]])
    dist = np.array([[0.2, np.inf], [0.2, np.inf], [np.inf, np.inf]])
    mean, used = neighbor_distance(idx, dist, k=2)
    assert mean[:2].tolist() == [0.2, 0.2] and np.isnan(mean[2]) and used.tolist() == [1, 1, 0]
    result = find_outliers(["a", "b", "c"], ["/a", "/b", "/c"], [None] * 3, idx, dist)
    assert result.sample_ids == ("a", "b") and result.n_unassessed == 1 and result.n_findings == 0
    with pytest.raises(ValueError, match="do not match"):
        find_outliers(["a"], ["/a"], [None], idx, dist)


def test_result_frame_export_summary_and_json_round_trip():
    ids, paths, labels, graph = dataset(far=[(0, 3.0), (1, 3.0)])
    result = run(ids, paths, labels, graph, cut=4.0)
    assert result.n_findings == 2 and result.summary().startswith("2 of 182 images")
    frame = result.to_frame()
    assert list(frame.columns[:6]) == ["sample_id", "filepath", "label", "is_outlier_issue", "outlier_score", "rank"]
    assert frame["is_outlier_issue"].all() and frame["outlier_score"].between(0, 0.5).all()
    export = json.loads(json.dumps(result.to_export(), allow_nan=False))["outliers"]
    assert [i["path"] for i in export["issues"]] == [o.filepath for o in result.outliers]
    data = json.loads(json.dumps(_to_jsonable(result), allow_nan=False))
    assert _from_jsonable(OutliersResult, data) == result
    assert OutliersResult().summary() == "none among 0 images (cut z > 2)"


def test_the_audit_flags_an_odd_image_in_every_output(tmp_path, unique_name):
    """A real audit (CLI, FiftyOne's database, EfficientNet-Lite0 embeddings) of 24 images of two kinds
    of smooth pictures and one of random noise: the noise image is the outlier everywhere."""
    import fiftyone as fo
    from PIL import Image

    from tests.catalogue.harness import run_cli, untouched

    rng = np.random.default_rng(0)
    root = tmp_path / "pics"
    for i in range(24):
        ramp = np.linspace(0, 255, 64)
        base = ramp[None, :] * np.ones((64, 1)) if i % 2 else ramp[:, None] * np.ones((1, 64))
        img = np.clip(base[..., None] * rng.uniform(0.7, 1.0, 3) + rng.normal(0, 3, (64, 64, 3)), 0, 255)
        (root / "train" / ("h" if i % 2 else "v")).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.astype(np.uint8)).save(root / "train" / ("h" if i % 2 else "v") / f"{i:02d}.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / "train" / "h" / "noise.png")
    out_json, report = tmp_path / "out" / "audit.json", tmp_path / "out" / "report.html"
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, "--embedder", "efficientnet-lite0", "--quiet",
                      "--no-calibration", "--json", out_json, "--report", report, "--fail-on", "outliers")
    assert out.code == 1 and "outliers>0" in out.stderr, out.text[-2000:]
    issues = json.loads(out_json.read_text())["outliers"]["issues"]
    assert issues and issues[0]["path"].endswith("noise.png") and issues[0]["rank"] == 1
    assert 'id="outliers"' in report.read_text() and "noise.png" in report.read_text()
    ds = fo.load_dataset(unique_name)
    assert ds.load_saved_view("wb-outliers").first().filepath.endswith("noise.png")
    assert len(ds.exists("wb_outlier_score")) == 25  # every assessed image carries its score
