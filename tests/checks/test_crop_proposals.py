"""The pieces the crops path uses to find objects no box covers: hill-climbing a window onto an object,
and out-of-fold classifiers that learn from the windows that partial views are background."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from workbench.checks.box_match import iou
from workbench.checks.crop_folds import CropSet, WindowCrops, fold_models
from workbench.checks.crop_proposals import Window, refine
from workbench.checks.crop_windows import away_from, refinement_steps
from workbench.checks.object_crops import CropOptions
from workbench.embeddings.crops import CropEmbeddings

TARGET = (0.52, 0.31, 0.2, 0.3)


def _features(rows, boxes, *, padding, min_side_px):
    """Each box's 'crop' is the box itself as a vector (so a model can say how close it is to TARGET)."""
    vectors = np.array([list(b) for b in boxes], dtype=np.float32).reshape(-1, 4)
    return CropEmbeddings(vectors=vectors, ok=np.ones(len(boxes), bool), n_computed=len(boxes))


def _model(vectors):
    """Class 0's probability falls with the crop's distance from TARGET; class 1 is background."""
    p = np.array([iou(tuple(v), TARGET) for v in vectors])
    return np.c_[p, 1 - p]


def test_a_window_climbs_onto_the_object_it_half_covers():
    start = (0.45, 0.25, 0.2, 0.25)  # a grid window a quarter off in x and y and too short
    assert iou(start, TARGET) < 0.3
    inputs = SimpleNamespace(crop_features=_features)
    p = float(_model([start])[0, 0])
    seed = Window(0, start, 0, p, 1 - p, np.zeros(4))
    [climbed], n = refine(inputs, CropOptions(), _model, [seed], {0: []}, 1)
    assert iou(climbed.box, TARGET) >= 0.6 and climbed.conf > seed.conf
    assert 10 <= n <= 10 * 4  # at most one step's 10 candidates per round


def test_a_window_never_climbs_onto_an_annotated_box():
    inputs = SimpleNamespace(crop_features=_features)
    start = (0.4, 0.2, 0.2, 0.2)
    p = float(_model([start])[0, 0])
    seed = Window(0, start, 0, p, 1 - p, np.zeros(4))
    [climbed], _ = refine(inputs, CropOptions(), _model, [seed], {0: [TARGET]}, 1)
    assert away_from(climbed.box, [TARGET], CropOptions().proposal_max_iou)
    [still], n = refine(inputs, CropOptions(refine_rounds=0), _model, [seed], {0: []}, 1)
    assert still is seed and n == 0


def test_the_climb_goes_on_after_the_class_probability_saturates():
    from workbench.checks.crop_proposals import margin

    assert margin(0.999999, 1e-6) < margin(1.0, 1e-9) and margin(1.0, 0.0) > margin(1.0, 1e-30)


def test_refinement_steps_stay_inside_the_image():
    for box in [(0.0, 0.0, 0.3, 0.3), (0.8, 0.9, 0.2, 0.1), (0.0, 0.0, 1.0, 1.0)]:
        for x, y, w, h in refinement_steps(box, 0.25):
            assert 0 <= x and 0 <= y and x + w <= 1 + 1e-9 and y + h <= 1 + 1e-9 and w > 0 and h > 0


def test_each_fold_classifier_never_saw_a_crop_of_its_own_images():
    rng = np.random.default_rng(0)
    rows = list(range(10))
    crops = CropSet(rng.normal(size=(30, 8)).astype(np.float32), np.tile([0, 1, 2], 10), np.repeat(rows, 3))
    windows = WindowCrops([r for r in rows for _ in range(4)], [(0.0, 0.0, 0.1, 0.1)] * 40,
                          rng.normal(size=(40, 8)).astype(np.float32), {})
    folds = fold_models(crops, windows, rows, CropOptions(folds=5), 2, 3)
    assert len(folds.models) == 5 and sorted(set(folds.fold_of.values())) == [0, 1, 2, 3, 4]
    for fold, part in enumerate(folds.train):
        held = {r for r, f in folds.fold_of.items() if f == fold}
        assert held and not held & set(part.rows.tolist())
        # every other image's crops and windows (as background) are in
        assert len(part.rows) == 7 * (10 - len(held))
        assert (part.labels[len(part.labels) - 4 * (10 - len(held)):] == 2).all()
    capped = fold_models(crops, windows, rows, CropOptions(folds=2, max_window_negatives=5), 2, 3)
    assert sum(len(p.rows) for p in capped.train) == 30 + 5


@pytest.mark.parametrize("options, phrase", [
    ({"proposal_seed": 0.0}, "proposal_seed"), ({"max_seeds_per_image": 0}, "max_seeds_per_image"),
    ({"refine_rounds": 9}, "refine_rounds"), ({"max_window_negatives": -1}, "max_window_negatives")])
def test_bad_refinement_options_are_refused(options, phrase):
    with pytest.raises(ValueError, match=phrase):
        CropOptions(**options)
