"""Out-of-fold probabilities kept by their inputs (``<cache>/probes``): same numbers, never a failed audit."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.checks.probe import out_of_fold_probabilities
from workbench.io.probe_cache import ProbeCache


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, (30, 6)), rng.normal(2, 1, (30, 6))].astype(np.float32)
    return x, np.r_[np.zeros(30, int), np.ones(30, int)]


def test_a_second_fit_of_the_same_inputs_is_read_back_identically(tmp_path, monkeypatch):
    x, y = _data()
    cache = ProbeCache(tmp_path / "probes")
    first = cache(x, y, n_folds=5, seed=0)
    expected = out_of_fold_probabilities(x, y, n_folds=5, seed=0)
    assert np.array_equal(first[0], expected[0]) and first[1:] == expected[1:]
    import workbench.checks.probe as probe

    monkeypatch.setattr(probe, "out_of_fold_probabilities", lambda *a, **k: pytest.fail("fitted again"))
    again = ProbeCache(tmp_path / "probes")
    second = again(x, y, n_folds=5, seed=0)
    assert np.array_equal(second[0], first[0]) and second[1:] == first[1:] and again.hits == 1


@pytest.mark.parametrize("change", ["labels", "features", "seed"])
def test_any_change_of_the_inputs_is_a_miss(tmp_path, change):
    x, y = _data()
    cache = ProbeCache(tmp_path / "probes")
    cache(x, y, n_folds=5, seed=0)
    if change == "labels":
        y = y.copy()
        y[0] = 1
    elif change == "features":
        x = x.copy()
        x[3, 2] += 1e-3
    seed = 1 if change == "seed" else 0
    cache(x, y, n_folds=5, seed=seed)
    assert cache.hits == 0 and len(list((tmp_path / "probes").glob("*.npz"))) == 2


def test_bad_input_damaged_entry_is_fitted_again(tmp_path, caplog):
    """Expected: a garbage .npz under the entry's name is a miss with a warning, then replaced."""
    x, y = _data()
    cache = ProbeCache(tmp_path / "probes")
    good = cache(x, y, n_folds=5, seed=0)
    (entry,) = (tmp_path / "probes").glob("*.npz")
    entry.write_bytes(b"garbage")
    again = cache(x, y, n_folds=5, seed=0)
    assert np.array_equal(again[0], good[0]) and "unreadable" in caplog.text
    assert entry.stat().st_size > 100


def test_bad_input_unwritable_cache_only_warns(tmp_path, caplog):
    """Expected: the probabilities are returned, a warning says they were not cached; the file in the way stays."""
    x, y = _data()
    (tmp_path / "probes").write_bytes(b"user data")
    probs, folds, _ = ProbeCache(tmp_path / "probes")(x, y, n_folds=5, seed=0)
    assert probs.shape == (60, 2) and folds == 5 and "not cached" in caplog.text
    assert (tmp_path / "probes").read_bytes() == b"user data"
