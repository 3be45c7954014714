"""Audit configuration: a model named by a string, and clear errors for what is not a model."""

import pytest

from workbench.config import EMBEDDER_NAMES, AuditConfig, EmbedderConfig


@pytest.mark.parametrize("name", EMBEDDER_NAMES)
def test_an_embedder_can_be_named_by_a_string(name):
    cfg = AuditConfig(embedder=name)
    assert cfg.embedder == EmbedderConfig(name=name)
    assert cfg.to_dict()["embedder"]["name"] == name  # lands in the result like a full config


def test_an_unknown_model_or_type_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown embedder 'resnet50'; choose one of auto, clip, efficientnet-lite0"):
        AuditConfig(embedder="resnet50")
    with pytest.raises(ValueError, match="unknown embedder 'CLIP'"):
        EmbedderConfig(name="CLIP")
    with pytest.raises(TypeError, match="embedder must be an EmbedderConfig or one of"):
        AuditConfig(embedder={"name": "clip"})


def test_replace_keeps_the_embedder():
    cfg = AuditConfig(embedder="none").replace(min_class_ratio=0.2)
    assert cfg.embedder.name == "none" and cfg.min_class_ratio == 0.2
