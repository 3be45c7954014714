"""Object label issues without a detector: box crops embedded with the real EfficientNet-Lite0 and judged
by the other crops, on Fashion-MNIST items pasted onto real wallpapers with planted problems."""

from pathlib import Path

import numpy as np
import pytest

from tests.checks.crop_scenes import make_scenes, matches, scene_inputs
from workbench.checks.object_crops import CropOptions, find_crop_label_issues
from workbench.config import AuditConfig, EmbedderConfig
from workbench.embeddings.backends import load_embedder
from workbench.embeddings.crops import crop_pixels, embed_crops

pytestmark = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                reason="needs the dataset-fashion-mnist package")


@pytest.fixture(scope="module")
def scenes_run(tmp_path_factory):
    """24 scenes with one swapped label, one shifted box and one missing box; the audit's crop reader
    on a fresh cache; the checker run twice (the second from the cache)."""
    root = tmp_path_factory.mktemp("crops")
    scenes = make_scenes(root / "scenes", n_images=24, seed=2)
    cfg = AuditConfig(embedder=EmbedderConfig(name="efficientnet-lite0", cache_dir=str(root / "cache")))
    embedder = load_embedder(cfg.embedder)
    inputs = scene_inputs(scenes, cfg, embedder)
    first = find_crop_label_issues(inputs, CropOptions())
    second = find_crop_label_issues(inputs, CropOptions())
    return scenes, inputs, first, second, embedder


def test_each_planted_problem_is_found_with_its_kind_and_suggested_class(scenes_run):
    scenes, _, (issues, facts), _, _ = scenes_run
    ids = [f"s{i}" for i in range(len(scenes.paths))]
    assert sorted(p[1] for p in scenes.planted) == ["badly_located", "overlooked", "swapped"]
    for planted in scenes.planted:
        assert any(matches(i, planted, ids) and i.kind == planted[1] for i in issues), planted
    assert all(i.suggested_label not in (None, i.label) for i in issues if i.kind == "swapped")
    assert all(i.suggested_label is None for i in issues if i.kind == "badly_located")
    assert {i.method for i in issues} == {"crops"}
    assert all(i.object_id is None and i.label is None for i in issues if i.kind == "overlooked")
    # Most clean boxes pass: a flagged box that is not a planted one is a false alarm.
    planted_ids = {p[4] for p in scenes.planted}
    false_boxes = [i for i in issues if i.object_id is not None and i.object_id not in planted_ids]
    assert len(false_boxes) <= 0.1 * facts["boxes"], false_boxes
    assert facts["classes"] == ["bag", "sneaker", "trouser"] and facts["classes_too_small"] == []
    assert facts["boxes_judged"] == facts["boxes"] and facts["folds"] == 5 and facts["k"] == 10
    assert facts["crops_cached"] == 0 and facts["crops_embedded"] == facts["boxes"] + facts["background_crops"]
    # Boxes that look partly like background were tried moved (8 places each): the shifted one among them.
    assert 1 <= facts["boxes_relocated"] < facts["boxes"] and facts["relocation_crops"] <= 8 * facts["boxes_relocated"]
    assert issues == sorted(issues, key=lambda i: (i.score, i.sample_id))


def test_a_second_run_reads_every_crop_from_the_cache(scenes_run):
    _, _, (issues, facts), (again, facts2), _ = scenes_run
    assert facts2["crops_embedded"] == 0 and facts2["crops_cached"] == facts["crops_embedded"]
    assert facts2["proposals_embedded"] == 0 and facts2["proposals_cached"] == facts["proposals_scored"] > 0
    assert again == issues


def test_crops_that_cannot_be_cut_are_skipped_with_their_reason(scenes_run):
    _, inputs, _, _, _ = scenes_run
    reader = inputs.crop_features
    crops = reader([0, 0, 0, 0], [(0.1, 0.1, 0.3, 0.3), None, (0.5, 0.5, 0.0, 0.2), (0.5, 0.5, 0.01, 0.01)])
    assert crops.ok.tolist() == [True, False, False, False]
    assert crops.skipped == {1: "malformed box", 2: "malformed box", 3: "too small"}
    assert np.isclose(np.linalg.norm(crops.vectors[0]), 1.0, atol=1e-3)
    assert crop_pixels((0.9, 0.9, 0.2, 0.2), (100, 100), 0.0, 1) == (90, 90, 100, 100)  # clipped to the image
    # Keyed by the box (rounded) and the padding: the same crop is a hit, a moved box or other padding a miss.
    again = reader([0, 0], [(0.1, 0.1, 0.3, 0.3), (0.100001, 0.1, 0.3, 0.3)])
    assert (again.n_cached, again.n_computed) == (2, 0)
    moved = reader([0, 0], [(0.12, 0.1, 0.3, 0.3), (0.1, 0.1, 0.3, 0.3)], padding=0.2)
    assert (moved.n_cached, moved.n_computed) == (0, 2)


def test_images_not_read_are_skipped(scenes_run):
    scenes, _, _, _, embedder = scenes_run
    crops = embed_crops([scenes.paths[0], "/nowhere.jpg"], [None, "ab" * 32], [(0.1, 0.1, 0.3, 0.3)] * 2, embedder,
                        cache_dir=None)
    assert crops.skipped == {0: "image not read", 1: "image not read"} and crops.n_computed == 0


@pytest.mark.parametrize("options, phrase", [
    ({"k": 0}, "k must be"), ({"folds": 1}, "folds must be at least 2"), ({"padding": 2.0}, "padding"),
    ({"background_threshold": 0.0}, "background_threshold"), ({"min_crop_side": 0}, "min_crop_side"),
    ({"background_per_image": -1}, "background_per_image"), ({"max_proposals_per_image": 2.5}, "whole number"),
    ({"relocate_gain": 0.0}, "relocate_gain"), ({"relocate_from": 1.5}, "relocate_from"),
    ({"proposal_min_votes": -0.1}, "proposal_min_votes")])
def test_bad_options_are_refused(options, phrase):
    with pytest.raises(ValueError, match=phrase):
        CropOptions(**options)


def test_what_it_cannot_judge_is_refused_with_the_reason(scenes_run):
    import dataclasses

    _, inputs, _, _, _ = scenes_run
    with pytest.raises(ValueError, match="detection dataset"):
        find_crop_label_issues(dataclasses.replace(inputs, task="classification"))
    with pytest.raises(ValueError, match="embedder"):
        find_crop_label_issues(dataclasses.replace(inputs, crop_features=None))
    with pytest.raises(ValueError, match="at least two classes"):
        find_crop_label_issues(inputs, CropOptions(min_class_boxes=1000, background_per_image=0))
