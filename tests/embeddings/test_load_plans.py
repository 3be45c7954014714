"""The model is loaded only when a vector must be computed, from a plan recorded by an earlier load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.config import EmbedderConfig
from workbench.embeddings import load_plans
from workbench.embeddings.pipeline import compute_vectors, embed_images
from workbench.errors import EmbedderUnavailable


def _cfg(tmp_path, **kw) -> EmbedderConfig:
    return EmbedderConfig(name="efficientnet-lite0", runtime="onnxruntime", cache_dir=str(tmp_path / "cache"), **kw)


def _plans(tmp_path):
    return sorted((tmp_path / "cache" / "compiled" / "plans").glob("*.json"))


def test_a_second_load_is_deferred_until_a_vector_is_computed(tmp_path, monkeypatch):
    first = load_plans.load_when_needed(_cfg(tmp_path))
    assert first.resolve is None and first.forward is not None and len(_plans(tmp_path)) == 1
    calls = []
    real = load_plans.load_embedder
    monkeypatch.setattr(load_plans, "load_embedder", lambda cfg: calls.append(cfg) or real(cfg))
    deferred = load_plans.load_when_needed(_cfg(tmp_path))
    assert deferred.resolve is not None and deferred.forward is None and not calls
    for name in ("model_id", "preprocessing", "dim", "runtime", "precision", "runtime_drift", "input_size"):
        assert getattr(deferred, name) == getattr(first, name), name
    empty, errors = compute_vectors([], deferred, progress=False)  # nothing to embed: nothing loaded
    assert empty.shape == (0, 1280) and not errors and not calls
    from PIL import Image

    img = Image.new("RGB", (40, 30), (200, 30, 30))
    got = embed_images([img], deferred)
    assert len(calls) == 1 and np.allclose(got, embed_images([img], first), atol=1e-5)
    embed_images([img], deferred)
    assert len(calls) == 1  # loaded once


def test_other_settings_or_versions_have_their_own_plan(tmp_path, monkeypatch):
    assert load_plans.plan_key(_cfg(tmp_path)) != load_plans.plan_key(_cfg(tmp_path, precision="fp32"))
    key = load_plans.plan_key(_cfg(tmp_path))
    real = load_plans._versions
    monkeypatch.setattr(load_plans, "_versions", lambda: {**real(), "torch": "0.0.1"})
    assert load_plans.plan_key(_cfg(tmp_path)) != key
    assert load_plans.plan_key(EmbedderConfig(name="clip", clip_pretrained=None)) is None  # untrained: never
    assert load_plans.plan_key(_cfg(tmp_path, device="cuda")) is None


def test_a_model_that_no_longer_matches_its_plan_stops_the_audit_and_drops_the_plan(tmp_path):
    load_plans.load_when_needed(_cfg(tmp_path))
    (plan,) = _plans(tmp_path)
    data = json.loads(plan.read_text())
    data["model_id"] = "something else"
    plan.write_text(json.dumps(data))
    deferred = load_plans.load_when_needed(_cfg(tmp_path))
    assert deferred.model_id == "something else"
    with pytest.raises(EmbedderUnavailable, match="differs from the one this environment recorded"):
        deferred.loaded()
    assert not plan.exists()


def test_bad_input_damaged_plan_loads_the_model(tmp_path, caplog):
    """Expected: a plan file that is not JSON (or lacks fields) is ignored with a warning; the model loads."""
    load_plans.load_when_needed(_cfg(tmp_path))
    (plan,) = _plans(tmp_path)
    plan.write_text("{not json")
    got = load_plans.load_when_needed(_cfg(tmp_path))
    assert got.resolve is None and got.forward is not None and "unreadable" in caplog.text
    plan.write_text(json.dumps({"model_id": "x"}))
    assert load_plans.load_when_needed(_cfg(tmp_path)).resolve is None


def test_bad_input_unwritable_plan_folder_only_warns(tmp_path, caplog):
    """Expected: a file where the plans folder goes: the model loads, a warning says no plan was recorded,
    the file is untouched."""
    cache = tmp_path / "cache" / "compiled"
    cache.mkdir(parents=True)
    (cache / "plans").write_bytes(b"user data")
    got = load_plans.load_when_needed(_cfg(tmp_path))
    assert got.forward is not None and "not recorded" in caplog.text
    assert (cache / "plans").read_bytes() == b"user data"


def test_a_change_to_the_loading_code_makes_a_new_plan(tmp_path, monkeypatch):
    key = load_plans.plan_key(_cfg(tmp_path))
    monkeypatch.setattr(load_plans, "_code_digest", lambda: "edited")
    assert load_plans.plan_key(_cfg(tmp_path)) != key
