"""Embed image files: cache look-up, then batched inference for the misses.

Decoding and preprocessing run in DataLoader workers, in parallel with inference;
JPEGs are decoded at reduced size with Pillow's ``draft()``; every image goes through
:func:`workbench.io.pixels.to_rgb` (orientation, bit depth, transparency on white);
inference runs under ``torch.inference_mode``. Files that can't be decoded are reported,
not fatal. Each batch is written to the cache as soon as it is embedded, so a killed run
keeps its work; the run's small shards are merged when it ends.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from workbench.embeddings.backends import LoadedEmbedder
from workbench.embeddings.cache import CacheUnusable, EmbeddingCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embeddings:
    """L2-normalised vectors for the samples in ``ids`` (failed samples are absent).

    ``n_cached`` samples were served from the cache and ``n_computed`` by this run's model
    passes (files with identical content share one pass), so together they count ``ids``.
    """

    ids: tuple[str, ...]
    vectors: np.ndarray
    model_id: str
    n_computed: int = 0
    n_cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run the preprocessing's tiny tensor ops (ToTensor, Normalize) on one torch thread.

    On a multi-threaded OpenMP pool each such op waits at a barrier for every pool thread; when
    another process holds a core (a busy or shared machine) that wait lasts a scheduler time slice.
    This matters in the main process (``num_workers=0``, or at most ``batch_size`` files to embed);
    DataLoader workers already run with one thread, where this is a no-op.
    """
    import torch

    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _FileDataset:
    """Map-style dataset for torch's DataLoader: (index, tensor or None, error)."""

    def __init__(self, paths: Sequence[str], preprocess: Any, size: int) -> None:
        self.paths, self.preprocess, self.size = list(paths), preprocess, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, Any, str | None]:
        from PIL import Image

        from workbench.io.pixels import to_rgb

        try:
            with Image.open(self.paths[i]) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (self.size, self.size))  # DCT-domain downscale: much cheaper decode
                rgb = to_rgb(img)  # no copy when draft() decoded to RGB and there is no orientation tag
                with _one_torch_thread():
                    tensor = self.preprocess(rgb)
            return i, tensor, None
        except Exception as exc:  # any decode failure becomes a per-file finding
            return i, None, f"{type(exc).__name__}: {exc}"


def _collate(batch: list[tuple[int, Any, str | None]]) -> tuple[list[int], Any, list[tuple[int, str]]]:
    import torch

    ok = [(i, t) for i, t, e in batch if e is None]
    errors = [(i, e) for i, _, e in batch if e is not None]
    tensor = torch.stack([t for _, t in ok]) if ok else None
    return [i for i, _ in ok], tensor, errors


def auto_workers(device: str, cores: int | None = None) -> int:
    """DataLoader workers for ``device`` on ``cores`` usable cores (default: this process's).

    On the CPU the model and the decoders share the cores. Measured on 2 cores (README, "Threads and
    workers"): decoding in the main process, in turn with inference on every core, beat 1-3 workers
    for ONNX Runtime (119 vs 105-109 images/s) and tied for OpenVINO and PyTorch. Decoding takes about
    a quarter of a CPU image's cost, so larger machines get one worker per 4 cores. A GPU leaves
    the cores to the decoders.

    Example:
        >>> auto_workers("cpu", 2), auto_workers("cpu", 16), auto_workers("cuda", 16)
        (0, 4, 8)
    """
    from workbench.embeddings.compiled import usable_cores

    cores = cores or usable_cores()
    if device.startswith("cuda"):
        return min(8, cores)
    return 0 if cores < 4 else min(8, cores // 4)


def compute_vectors(paths: Sequence[str], embedder: LoadedEmbedder, *, batch_size: int = 64,
                    num_workers: int | None = None, progress: bool = True,
                    on_batch: Callable[[list[int], np.ndarray], None] | None = None
                    ) -> tuple[np.ndarray, dict[int, str]]:
    """Embed ``paths``; returns ``(vectors [N, dim] with NaN rows for failures, {index: error})``.

    ``on_batch(indices, vectors)`` is called after every batch (e.g. to write the cache as it goes).
    """
    out = np.full((len(paths), embedder.dim), np.nan, dtype=np.float32)
    errors: dict[int, str] = {}
    if not paths:
        return out, errors  # nothing to embed: no torch import, no model load
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    embedder = embedder.loaded()
    if num_workers is None:
        num_workers = auto_workers(embedder.device)
    loader = DataLoader(_FileDataset(paths, embedder.preprocess, embedder.input_size), batch_size=batch_size,
                        num_workers=num_workers if len(paths) > batch_size else 0, collate_fn=_collate,
                        pin_memory=embedder.device.startswith("cuda"))
    with torch.inference_mode(), tqdm(total=len(paths), desc="embedding", unit="img",
                                      disable=not progress) as bar:
        for idx, tensor, errs in loader:
            for i, e in errs:
                errors[i] = e
            if tensor is not None:
                out[idx] = embedder.forward(tensor).cpu().numpy()
                if on_batch is not None:
                    on_batch(idx, out[idx])
            bar.update(len(idx) + len(errs))
    return out, errors


def embed_images(images: Sequence[Any], embedder: LoadedEmbedder, *, batch_size: int = 64) -> np.ndarray:
    """Embed in-memory PIL images (already upright RGB) exactly as files are embedded; ``[N, dim]`` float32.

    Example:
        >>> vectors = embed_images([img.transpose(0)], embedder)  # doctest: +SKIP
    """
    import torch

    out = np.zeros((len(images), embedder.dim), dtype=np.float32)
    if len(images):
        embedder = embedder.loaded()
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            with _one_torch_thread():
                batch = torch.stack([embedder.preprocess(img) for img in chunk])
            out[start:start + len(chunk)] = embedder.forward(batch).cpu().numpy()
    return out


def embed_files(ids: Sequence[str], paths: Sequence[str], hashes: Sequence[str | None],
                embedder: LoadedEmbedder, *, cache_dir: str | None = None, batch_size: int = 64,
                num_workers: int | None = None, progress: bool = True) -> Embeddings:
    """Embeddings for the given samples, computing only what the cache lacks.

    Samples without a hash (missing files) or that fail to decode are left out and
    listed in ``failed``.

    Example:
        >>> emb = embed_files(ids, paths, hashes, load_embedder(EmbedderConfig()))  # doctest: +SKIP
    """
    start = time.perf_counter()
    cache = EmbeddingCache(cache_dir, embedder.model_id, embedder.preprocessing, dim=embedder.dim)
    vectors = np.full((len(ids), embedder.dim), np.nan, dtype=np.float32)
    failed: dict[str, str] = {}
    hit, cached = cache.get(hashes)
    if cached is not None:
        vectors[hit] = cached
    todo = [i for i in range(len(ids)) if not hit[i] and hashes[i]]
    for i in range(len(ids)):
        if not hashes[i]:
            failed[ids[i]] = "file could not be read"
    # Identical content is embedded once.
    first_of: dict[str, int] = {}
    unique = [i for i in todo if first_of.setdefault(hashes[i], i) == i]
    log.info("embeddings: %d cached, %d to compute with %s", int(hit.sum()), len(unique), embedder.model_id)
    if unique:
        cache.ensure_writable()  # an unusable cache folder is refused before any vector is computed

    def on_batch(idx: list[int], batch_vectors: np.ndarray) -> None:
        # One shard per batch: a run killed at any point keeps every batch it finished.
        cache.put([hashes[unique[k]] for k in idx], batch_vectors)

    computed, errors = compute_vectors([paths[i] for i in unique], embedder, batch_size=batch_size,
                                       num_workers=num_workers, progress=progress, on_batch=on_batch)
    try:
        cache.compact()  # the batch shards (and any left by killed runs) become one
    except CacheUnusable as exc:  # every vector is already stored; only the merge is missing
        log.warning("embedding cache: small shards were not merged (%s)", exc)
    slot = {i: k for k, i in enumerate(unique)}
    for i in todo:
        k = slot[first_of[hashes[i]]]
        if k in errors:
            failed[ids[i]] = errors[k]
        else:
            vectors[i] = computed[k]
    keep = [i for i in range(len(ids)) if ids[i] not in failed and not np.isnan(vectors[i]).any()]
    return Embeddings(ids=tuple(ids[i] for i in keep), vectors=vectors[keep], model_id=embedder.model_id,
                      n_computed=sum(ids[i] not in failed for i in todo), n_cached=int(hit.sum()), failed=failed,
                      seconds=time.perf_counter() - start)
