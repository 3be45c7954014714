"""Embed the crops of object boxes with the audit's own model, cached like whole images.

A crop is a box (FiftyOne's relative ``(x, y, w, h)``) widened by ``padding`` of its size on every
side (context helps a model trained on whole images), clipped to the image, and embedded exactly
as a file is (:func:`workbench.embeddings.pipeline.embed_images`; pixels through
:func:`workbench.io.pixels.to_rgb`). Each image is decoded once for all its crops.

The cache is :class:`~workbench.embeddings.cache.EmbeddingCache` under the model's key with
``|crops-v1`` added to the preprocessing: a crop's entry is the sha256 of (image content hash,
box rounded to 4 decimals, padding), so moved files still hit and a changed box misses. As for whole
images, each batch is written as its own shard as soon as it is embedded (a killed run keeps its work)
and the shards are merged when the call ends.
Boxes that are malformed (missing, not finite, no area, outside the image) or smaller than
``min_side_px`` pixels after padding, and crops of images that can't be read, are skipped and
counted with their reason.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

#: Names the crop entries inside a model's cache key (change it when crops are cut differently).
CROP_CACHE_VERSION = "crops-v1"


@dataclass(frozen=True)
class CropEmbeddings:
    """One L2-normalised vector per requested crop (``NaN`` rows where ``ok`` is false).

    ``skipped`` maps a request's index to why it has no vector; ``n_cached`` + ``n_computed``
    count the crops that have one.
    """

    vectors: np.ndarray
    ok: np.ndarray
    skipped: dict[int, str] = field(default_factory=dict)
    n_cached: int = 0
    n_computed: int = 0
    seconds: float = 0.0

    def skipped_reasons(self) -> dict[str, int]:
        """How many crops were skipped for each reason."""
        return dict(Counter(self.skipped.values()))


def crop_key(image_hash: str, box: Box, padding: float) -> str:
    """The cache entry of one crop: sha256 of (image hash, box rounded to 4 decimals, padding).

    Example:
        >>> len(crop_key("ab" * 32, (0.1, 0.2, 0.3, 0.4), 0.1))
        64
    """
    rounded = ",".join(f"{v:.4f}" for v in box)
    return hashlib.sha256(f"{image_hash}|{rounded}|pad{padding:.3f}".encode()).hexdigest()


def crop_pixels(box: Box | None, size: tuple[int, int], padding: float,
                min_side_px: float) -> tuple[int, int, int, int] | str:
    """The padded box in pixels ``(left, top, right, bottom)``, clipped to the image, or why it can't be cut.

    Example:
        >>> crop_pixels((0.25, 0.25, 0.5, 0.5), (100, 100), 0.1, 8)
        (20, 20, 80, 80)
        >>> crop_pixels((0.5, 0.5, 0.0, 0.2), (100, 100), 0.1, 8)
        'malformed box'
    """
    if box is None or len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        return "malformed box"
    x, y, w, h = box
    width, height = size
    left, top = max(0.0, x - padding * w) * width, max(0.0, y - padding * h) * height
    right, bottom = min(1.0, x + w + padding * w) * width, min(1.0, y + h + padding * h) * height
    if right <= left or bottom <= top:
        return "malformed box"
    px = (round(left), round(top), round(right), round(bottom))
    if px[2] - px[0] < min_side_px or px[3] - px[1] < min_side_px:
        return "too small"
    return px


def embed_crops(paths: Sequence[str], hashes: Sequence[str | None], boxes: Sequence[Box | None], embedder: Any, *,
                padding: float = 0.1, min_side_px: float = 8.0, cache_dir: str | None = None,
                batch_size: int = 64) -> CropEmbeddings:
    """Vectors of the crops ``boxes[i]`` of ``paths[i]`` (whose content hash is ``hashes[i]``).

    ``hashes[i] is None`` means the file was not read (missing, undecodable or outside the dataset
    folder): its crops are skipped. Only crops the cache lacks are cut and embedded.

    Example:
        >>> crops = embed_crops(["/d/a.jpg"], [sha], [(0.1, 0.1, 0.3, 0.3)], embedder)  # doctest: +SKIP
        >>> crops.vectors.shape, crops.n_computed  # doctest: +SKIP
        ((1, 1280), 1)
    """
    from workbench.embeddings.cache import CacheUnusable, EmbeddingCache

    start = time.perf_counter()
    n = len(paths)
    vectors = np.full((n, embedder.dim), np.nan, dtype=np.float32)
    skipped: dict[int, str] = {}
    keys: list[str | None] = [None] * n
    for i in range(n):
        if not hashes[i]:
            skipped[i] = "image not read"
        elif isinstance(crop_pixels(boxes[i], (1000, 1000), padding, 0.0), str):
            skipped[i] = "malformed box"
        else:
            keys[i] = crop_key(str(hashes[i]), tuple(float(v) for v in boxes[i]), padding)  # type: ignore[union-attr]
    cache = EmbeddingCache(cache_dir, embedder.model_id, f"{embedder.preprocessing}|{CROP_CACHE_VERSION}",
                           dim=embedder.dim)
    hit, cached = cache.get(keys)
    if cached is not None:
        vectors[hit] = cached
    todo: dict[str, list[int]] = defaultdict(list)  # image path -> requests to cut from it
    for i in range(n):
        if keys[i] is not None and not hit[i]:
            todo[paths[i]].append(i)
    if todo:
        cache.ensure_writable()  # an unusable cache folder is refused before any crop is embedded

    def store(batch: list[int]) -> None:  # one shard per batch, as for whole images: a killed run keeps its work
        cache.put([keys[i] for i in batch], vectors[batch])  # type: ignore[misc]

    done = _cut_and_embed(todo, boxes, embedder, padding, min_side_px, batch_size, vectors, skipped, store)
    try:
        cache.compact()  # the batch shards become one
    except CacheUnusable as exc:  # every vector is already stored; only the merge is missing
        log.warning("crop cache: small shards were not merged (%s)", exc)
    ok = np.array([i not in skipped and bool(np.isfinite(vectors[i]).all()) for i in range(n)], dtype=bool)
    log.info("crops: %d cached, %d embedded, %d skipped", int(hit.sum()), len(done), len(skipped))
    return CropEmbeddings(vectors=vectors, ok=ok, skipped=skipped, n_cached=int(hit.sum()), n_computed=len(done),
                          seconds=round(time.perf_counter() - start, 3))


def _cut_and_embed(todo: dict[str, list[int]], boxes: Sequence[Box | None], embedder: Any, padding: float,
                   min_side_px: float, batch_size: int, vectors: np.ndarray, skipped: dict[int, str],
                   store: Callable[[list[int]], None]) -> list[int]:
    """Cut the requested crops image by image, embed them in batches into ``vectors`` and ``store`` each
    batch; the indices embedded."""
    from PIL import Image

    from workbench.embeddings.pipeline import embed_images
    from workbench.io.pixels import to_rgb

    pending: list[tuple[int, Any]] = []
    cut: list[int] = []

    def flush() -> None:
        if pending:
            batch = [i for i, _ in pending]
            vectors[batch] = embed_images([img for _, img in pending], embedder, batch_size=batch_size)
            store(batch)
            pending.clear()

    for path, requests in todo.items():
        try:
            with Image.open(path) as opened:
                rgb = to_rgb(opened)
                rgb.load()
        except (OSError, ValueError, SyntaxError) as exc:  # an unreadable file: its crops are skipped
            for i in requests:
                skipped[i] = "image not read"
            log.debug("crops of %s skipped: %s", path, exc)
            continue
        for i in requests:
            px = crop_pixels(boxes[i], rgb.size, padding, min_side_px)
            if isinstance(px, str):
                skipped[i] = px
                continue
            pending.append((i, rgb.crop(px)))
            cut.append(i)
        if len(pending) >= batch_size:
            flush()
    flush()
    return cut
