"""The near-duplicate rule: evidence per pair, calibrated thresholds, and clusters that never chain."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.checks.calibration import CopyMeasure, Measure, choose_rule, judge
from workbench.checks.duplicates import duplicate_edges, find_duplicates, split_chains
from workbench.checks.near_rule import NearRule, thumb_similarity, thumbnail
from workbench.checks.neighbors import knn_graph
from workbench.io.files import image_signatures


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _photo(seed: int, size: int = 96) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


def test_a_mirrored_copy_matches_the_mirrored_hash_and_thumbnail() -> None:
    img = _photo(1)
    p, pm, t = image_signatures(img)
    q, _, u = image_signatures(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert bin(int(pm, 16) ^ int(q, 16)).count("1") <= 2 < bin(int(p, 16) ^ int(q, 16)).count("1")
    assert thumb_similarity(thumbnail(t), thumbnail(u)) > 0.99
    other = image_signatures(_photo(2))[2]
    assert thumb_similarity(thumbnail(t), thumbnail(other)) < 0.9


def test_a_pair_between_the_thresholds_needs_a_second_signal() -> None:
    """Two embeddings 0.1 apart: linked when their thumbnails agree, rejected (and counted) when not."""
    base = _unit(np.random.default_rng(0).normal(size=(4, 32)))
    twin = _unit((base[0] + 0.35 * _unit(np.random.default_rng(1).normal(size=(1, 32)))[0])[None, :])[0]
    vectors = np.vstack([base[0], twin, base[1], base[2]])
    d = 1.0 - float(vectors[0] @ vectors[1])
    assert 0.03 < d < 0.2
    graph = knn_graph(vectors, k=3)
    rows = np.arange(4)
    rule = NearRule(strict=0.02, loose=0.2, thumb=0.9)
    same, different = image_signatures(_photo(5))[2], image_signatures(_photo(6))[2]
    hashes = ["a", "b", "c", "d"]
    confirmed = duplicate_edges(hashes, graph, rows, rule, thumbs=[same, same, None, None], vectors=vectors)
    assert [(e.a, e.b, e.evidence) for e in confirmed.edges] == [(0, 1, "embedding+thumbnail")]
    refused = duplicate_edges(hashes, graph, rows, rule, thumbs=[same, different, None, None], vectors=vectors)
    assert refused.edges == [] and refused.n_rejected >= 1


def test_a_perceptual_hash_collision_between_different_pictures_is_not_enough() -> None:
    """Equal hashes but embeddings far apart (e.g. flattened drawings): rejected; without embeddings, linked."""
    vectors = _unit(np.eye(3, 16, dtype=np.float32) + 0.01)
    hashes = ["a", "b", "c"]
    phashes = ["ffff0000ffff0000", "ffff0000ffff0000", "0123456789abcdef"]
    rule = NearRule(strict=0.02, loose=0.1, thumb=0.9)
    far = duplicate_edges(hashes, None, np.arange(3), rule, phashes=phashes, vectors=vectors)
    assert far.edges == [] and far.n_rejected == 1
    unembedded = duplicate_edges(hashes, None, None, rule, phashes=phashes)
    assert [(e.a, e.b, e.evidence) for e in unembedded.edges] == [(0, 1, "phash")]


def test_a_chain_of_close_steps_between_different_pictures_is_cut() -> None:
    """A, B, C, D each 0.08 from the next, but A and D 0.3 apart: no cluster holds both ends."""
    rng = np.random.default_rng(3)
    start, end = rng.normal(size=32), rng.normal(size=32)
    steps = _unit(np.stack([start + (end - start) * t for t in np.linspace(0, 1, 6)]))
    assert 1 - float(steps[0] @ steps[-1]) > 0.15
    hashes = [f"h{i}" for i in range(6)]
    pos = np.arange(6)
    links = [(i, i + 1, float(1 - steps[i] @ steps[i + 1]), "embedding") for i in range(5)]
    from workbench.checks.duplicates import Edge

    kept, cut = split_chains([Edge(*e) for e in links], hashes, steps, pos, cutoff=0.1)
    assert cut >= 1
    dups = find_duplicates([f"s{i}" for i in range(6)], [f"/p{i}" for i in range(6)], [None] * 6, [None] * 6,
                           hashes, kept, threshold=0.1)
    for c in dups.clusters:
        members = [int(s[1:]) for s in c.sample_ids]
        assert not {0, 5} <= set(members)  # the two ends never share a cluster
        v = steps[members]
        assert float((1 - v @ v.T).max()) <= 0.2  # no two members farther apart than twice the cutoff


def test_copies_around_one_picture_stay_one_cluster() -> None:
    """An original and copies each 0.08 from it but up to 0.16 from each other: one cluster, no cut."""
    from workbench.checks.duplicates import Edge

    rng = np.random.default_rng(4)
    centre = rng.normal(size=64)
    centre /= np.linalg.norm(centre)
    rows = [centre]
    for _ in range(6):
        direction = rng.normal(size=64)
        direction -= (direction @ centre) * centre
        direction /= np.linalg.norm(direction)
        rows.append(np.cos(np.arccos(0.92)) * centre + np.sin(np.arccos(0.92)) * direction)  # 0.08 from the centre
    v = np.array(rows, dtype=np.float32)
    edges = [Edge(0, i, float(1 - v[0] @ v[i]), "embedding+thumbnail") for i in range(1, 7)]
    kept, cut = split_chains(edges, [f"h{i}" for i in range(7)], v, np.arange(7), cutoff=0.1)
    assert cut == 0 and len(kept) == 6


def test_calibration_takes_in_the_copies_and_reports_recall_per_transform() -> None:
    rng = np.random.default_rng(0)
    copies = [CopyMeasure("jpeg", Measure(float(d), 0.99, 4)) for d in rng.uniform(0.0, 0.02, 40)]
    copies += [CopyMeasure("crop", Measure(float(d), 0.95, 20)) for d in rng.uniform(0.05, 0.12, 40)]
    negatives = [Measure(float(d), float(s), 30) for d, s in zip(rng.uniform(0.1, 0.5, 800), rng.uniform(0, 0.8, 800))]
    rule = choose_rule(copies, negatives, fallback=0.06)
    assert 0.1 <= rule.strict < rule.loose  # copies farther than the closest distinct pair need a second signal
    cal = judge(rule, copies, negatives, method="calibrated", n_originals=40)
    recall = dict(cal.recall)
    assert recall["jpeg"] == 1.0 and recall["crop"] >= 0.95
    assert cal.false_pair_rate <= 0.01


def test_too_few_images_keep_the_models_default() -> None:
    rule = choose_rule([CopyMeasure("jpeg", Measure(0.01, 1.0, 0))], [Measure(0.3, 0.1, 30)] * 5, fallback=0.06)
    assert rule == NearRule.fixed(0.06)


@pytest.mark.parametrize("flat", [True, False])
def test_flat_thumbnails(flat: bool) -> None:
    blank = thumbnail((b"\x80" * 256).hex())
    other = blank if flat else thumbnail(bytes(range(256)).hex())
    assert thumb_similarity(blank, other) == (1.0 if flat else 0.0)
