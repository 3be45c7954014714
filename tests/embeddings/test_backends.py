"""Real models: the shipped ImageNet EfficientNet-Lite0 weights and a tiny open_clip config."""

import os
from pathlib import Path

import pytest

from workbench.config import EmbedderConfig
from workbench.embeddings.backends import efficientnet_lite0_network, load_clip, load_embedder
from workbench.errors import EmbedderUnavailable

MILITARY_UNIFORM = 652  # ImageNet-1k class index


def _grace_hopper() -> Path:
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"


@pytest.mark.slow
def test_efficientnet_lite0_weights_are_real_imagenet_weights():
    """Classify a known photo: Grace Hopper in uniform is ImageNet's 'military uniform'."""
    import torch
    from PIL import Image

    emb = load_embedder(EmbedderConfig(name="efficientnet-lite0"))
    net = efficientnet_lite0_network()
    with Image.open(_grace_hopper()) as img:
        x = emb.preprocess(img.convert("RGB"))[None]
    with torch.inference_mode():
        probs = net(x).softmax(-1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM and float(probs.max()) > 0.2
    with torch.inference_mode():
        vec = emb.forward(x)
    assert vec.shape == (1, 1280) and abs(float(vec.norm()) - 1) < 1e-4
    assert emb.trained and emb.fallback_reason is None


def test_untrained_clip_is_marked_untrained():
    emb = load_clip(EmbedderConfig(name="clip", clip_model="RN50", clip_pretrained=None, device="cpu"))
    assert emb.trained is False and "untrained" in emb.model_id and emb.dim == 1024


def test_explicit_clip_without_weights_raises_with_advice(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderUnavailable, match="--clip-checkpoint|could not load"):
        load_embedder(EmbedderConfig(name="clip", clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k"))


def test_unknown_clip_model():
    with pytest.raises(EmbedderUnavailable, match="no model"):
        load_clip(EmbedderConfig(name="clip", clip_model="NotAModel-99"))


def test_auto_falls_back_loudly_and_records_why(caplog):
    emb = load_embedder(EmbedderConfig(name="auto", clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k"))
    assert emb.family == "efficientnet-lite0" and emb.trained
    assert emb.requested == "auto" and "CLIP unavailable" in emb.fallback_reason
    assert any("FALLING BACK" in r.getMessage() for r in caplog.records)


def test_local_checkpoint_is_loaded(tmp_path):
    """A checkpoint file on disk is a real load path (here saved from an untrained tiny model)."""
    import open_clip
    import torch

    model = open_clip.create_model("RN50", pretrained=None)
    ckpt = tmp_path / "rn50.pt"
    torch.save(model.state_dict(), ckpt)
    emb = load_clip(EmbedderConfig(name="clip", clip_model="RN50", clip_checkpoint=str(ckpt), device="cpu"))
    assert emb.trained and str(ckpt) in emb.model_id
    assert os.path.exists(ckpt)
