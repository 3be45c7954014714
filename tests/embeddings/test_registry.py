"""Embedding backends are a named registry: the CLI offers its names and ``load_embedder`` dispatches on them.

No model is loaded here: the backends registered for a test load stand-in embedders.
"""

from __future__ import annotations

import logging

import pytest

import workbench.config
from tests.conftest import cli_choices
from workbench.config import EmbedderConfig
from workbench.embeddings.backends import LoadedEmbedder, load_embedder
from workbench.embeddings.registry import (BackendSpec, backend_names, embedder_names, get_backend, register_backend,
                                           unregister_backend)
from workbench.errors import EmbedderUnavailable
from workbench.registry import load_object


def stand_in(cfg: EmbedderConfig, *, requested: str) -> LoadedEmbedder:
    """A loader that loads nothing: its embedder names the config's model and the name asked for."""
    return LoadedEmbedder(model_id=f"stand-in/{cfg.clip_model}", family="toy", requested=requested, trained=True,
                          dim=2, preprocessing="none", preprocess=lambda x: x, forward=lambda x: x, device="cpu",
                          input_size=8)


def unavailable(cfg: EmbedderConfig, *, requested: str) -> LoadedEmbedder:
    raise EmbedderUnavailable("no weights here")


TOY = BackendSpec("toy", f"{__name__}:stand_in", label="Toy", description="loads nothing", near_threshold=0.5)


@pytest.fixture
def toy():
    """``toy`` registered for the test, removed after it."""
    register_backend(TOY)
    try:
        yield TOY
    finally:
        unregister_backend("toy")


@pytest.fixture
def swap_backend():
    """Replace a built-in backend for the test; the original is put back after it."""
    saved = []

    def swap(name: str, loader: str) -> None:
        original = get_backend(name)
        saved.append(original)
        register_backend(BackendSpec(name, loader, label=original.label, description="stand-in",
                                     near_threshold=original.near_threshold), replace=True)
    yield swap
    for original in saved:
        register_backend(original, replace=True)


def test_the_registry_lists_what_the_cli_offers():
    assert backend_names() == ("clip", "efficientnet-lite0")
    assert embedder_names() == ("auto", "clip", "efficientnet-lite0", "none")
    assert cli_choices("audit", "--embedder") == embedder_names()
    assert cli_choices("embed", "--embedder") == ("auto", "clip", "efficientnet-lite0")  # embed needs a model
    assert workbench.config.EMBEDDER_NAMES == embedder_names()
    assert cli_choices("audit", "--precision") == cli_choices("embed", "--precision") == ("auto", "fp32", "bf16")
    assert cli_choices("audit", "--runtime") == cli_choices("embed", "--runtime") == (
        "auto", "torch", "onnxruntime", "openvino")


def test_every_builtin_loader_exists():
    assert all(callable(load_object(get_backend(name).loader)) for name in backend_names())


def test_an_unknown_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown embedder 'resnet50'; choose one of clip, efficientnet-lite0$"):
        get_backend("resnet50")
    with pytest.raises(ValueError, match="unknown embedder 'resnet50'; choose one of auto, clip, efficientnet-lite0, "
                                         "none$"):
        EmbedderConfig(name="resnet50")
    with pytest.raises(ValueError, match="runs no model"):
        load_embedder(EmbedderConfig(name="none"))


def test_a_registered_backend_is_offered_accepted_and_loaded(toy):
    assert cli_choices("audit", "--embedder") == ("auto", "clip", "efficientnet-lite0", "toy", "none")
    assert "toy" in cli_choices("embed", "--embedder") and "toy" in workbench.config.EMBEDDER_NAMES
    emb = load_embedder(EmbedderConfig(name="toy", clip_model="tiny"))
    assert (emb.model_id, emb.requested, emb.near_threshold) == ("stand-in/tiny", "toy", 0.5)


def test_a_test_registration_is_gone_after_the_test():
    assert "toy" not in backend_names() and "toy" not in cli_choices("audit", "--embedder")


def test_names_that_are_taken_reserved_or_malformed_are_refused(toy):
    with pytest.raises(ValueError, match="already registered"):
        register_backend(TOY)
    for reserved in ("auto", "none"):
        with pytest.raises(ValueError, match="reserved"):
            register_backend(BackendSpec(reserved, f"{__name__}:stand_in", label="x", description="", near_threshold=.1))
    with pytest.raises(ValueError, match="lower-case"):
        register_backend(BackendSpec("My Model", f"{__name__}:stand_in", label="x", description="", near_threshold=.1))
    with pytest.raises(ValueError, match="'package.module:function' path"):
        BackendSpec("dino", "my_package.dino.load", label="x", description="", near_threshold=0.1)
    with pytest.raises(ValueError, match="cosine distance"):
        BackendSpec("dino", "my_package.dino:load", label="x", description="", near_threshold=0)


def test_auto_loads_clip_when_it_can(swap_backend):
    swap_backend("clip", f"{__name__}:stand_in")
    emb = load_embedder(EmbedderConfig(name="auto", clip_model="RN50"))
    assert emb.model_id == "stand-in/RN50" and emb.requested == "auto" and emb.fallback_reason is None


def test_auto_falls_back_loudly_through_the_registry(swap_backend, caplog):
    swap_backend("clip", f"{__name__}:unavailable")
    swap_backend("efficientnet-lite0", f"{__name__}:stand_in")
    with caplog.at_level(logging.WARNING):
        emb = load_embedder(EmbedderConfig(name="auto"))
    assert emb.requested == "auto" and emb.fallback_reason == "CLIP unavailable: no weights here"
    assert "FALLING BACK to ImageNet EfficientNet-Lite0 embeddings. CLIP unavailable: no weights here" in caplog.text


def test_a_named_backend_never_falls_back(swap_backend):
    swap_backend("clip", f"{__name__}:unavailable")
    with pytest.raises(EmbedderUnavailable, match="no weights here"):
        load_embedder(EmbedderConfig(name="clip"))
