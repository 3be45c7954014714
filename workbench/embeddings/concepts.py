"""Named concepts from the audit's own image embeddings: ImageNet classes through EfficientNet-Lite0's
classifier head (offline), or zero-shot text prompts through CLIP's text tower (with trained weights).

Neither runs the image model again: both read the L2-normalised vectors the audit already has.

**ImageNet head on stored vectors.** EfficientNet-Lite0's logits are ``W f + b`` on the pooled features
``f``; the audit keeps ``f / |f|``. Feature norms vary little (13.7 to 19.5 on 200 wallpapers and
Fashion-MNIST images), so ``W (f/|f|) + b / NORM`` with the mean norm ranks the classes as the network
does: top-1 identical on 200 of 200 images, top-5 sets 99.6% the same (without the bias term: 97.5%
and 97.1%). Measured with ``efficientnet_lite0_network()`` on those images (README, "Concept slices").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The mean norm of EfficientNet-Lite0's pooled features, measured (see the module docstring).
NORM = 16.3


@functools.lru_cache(maxsize=1)
def imagenet_head() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """EfficientNet-Lite0's classifier ``(W [1000, 1280], b [1000], names)``; a name is the first synonym of
    its ImageNet class (``"container ship"``)."""
    from timm.data import ImageNetInfo

    from workbench.embeddings.backends import efficientnet_lite0_network

    head = efficientnet_lite0_network().classifier
    info = ImageNetInfo()
    names = tuple(info.index_to_description(i).split(",")[0].strip() for i in range(info.num_classes()))
    return (head.weight.detach().float().numpy().copy(), head.bias.detach().float().numpy().copy(), names)


def imagenet_concepts(vectors: np.ndarray, top_k: int = 3) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Per vector, its ``top_k`` ImageNet classes and their probabilities, best first.

    Returns:
        ``(indices [N, k], probabilities [N, k], class names)``.

    Example:
        >>> idx, p, names = imagenet_concepts(vectors, 3)  # doctest: +SKIP
        >>> names[idx[0, 0]], float(p[0, 0])  # doctest: +SKIP
        ('sandal', 0.71)
    """
    w, b, names = imagenet_head()
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"ImageNet concepts need EfficientNet-Lite0 vectors of {w.shape[1]} values, not {x.shape}")
    logits = x @ w.T + b / NORM
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(NORM * logits)  # the network's own scale: logits of f = |f| (W f/|f| + b/|f|)
    probs /= probs.sum(axis=1, keepdims=True)
    k = max(1, min(int(top_k), len(names)))
    idx = np.argsort(-probs, axis=1)[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=1), names


def clip_text_vectors(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """CLIP text embeddings (L2-normalised) of ``texts`` with the weights the audit's image embeddings
    came from (``embedder`` is the audit's :class:`~workbench.config.EmbedderConfig`).

    Raises:
        EmbedderUnavailable: the weights can't be loaded here.
    """
    import open_clip
    import torch

    from workbench.embeddings.backends import _cached_clip_weights
    from workbench.errors import EmbedderUnavailable

    weights = embedder.clip_checkpoint or (_cached_clip_weights(embedder.clip_model, embedder.clip_pretrained)
                                           if embedder.clip_pretrained else None)
    if weights is None:
        raise EmbedderUnavailable(f"no local weights for open_clip {embedder.clip_model}/{embedder.clip_pretrained}")
    try:
        model, _, _ = open_clip.create_model_and_transforms(embedder.clip_model, pretrained=weights, device="cpu")
    except Exception as exc:  # open_clip raises RuntimeError/OSError on unusable weights
        raise EmbedderUnavailable(f"open_clip could not load {embedder.clip_model}: {exc}") from exc
    return text_vectors(model, open_clip.get_tokenizer(embedder.clip_model), texts, torch)


def text_vectors(model: Any, tokenizer: Any, texts: Sequence[str], torch: Any) -> np.ndarray:
    """``model.encode_text`` of ``texts``, L2-normalised (any open_clip model; tests pass untrained ones)."""
    model.eval()
    with torch.inference_mode():
        t = model.encode_text(tokenizer(list(texts))).float()
        return torch.nn.functional.normalize(t, dim=-1).numpy()


def zero_shot(vectors: np.ndarray, text: np.ndarray, *, scale: float = 100.0) -> np.ndarray:
    """Per image, the softmax over ``text`` (one group's prompts) of CLIP's scaled cosine similarities.

    Example:
        >>> img = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32); txt = np.eye(2, dtype=np.float32)
        >>> zero_shot(img, txt).argmax(1).tolist()
        [0, 1]
    """
    z = scale * (np.asarray(vectors, np.float32) @ np.asarray(text, np.float32).T)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
