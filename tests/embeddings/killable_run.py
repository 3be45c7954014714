"""A tiny, deterministic embedder and a run of it that a test can kill.

``python -m tests.embeddings.killable_run CACHE LIST BATCHES`` embeds the files named in
LIST (one path a line) with batch size 16 into the cache folder CACHE; after BATCHES
batches it stops making progress (as a run killed mid-batch would be) until it is killed.
The model is a fixed function of the pixels (4×4 RGB thumbnail, 48 numbers, L2-normalised),
so a test checks the pipeline and the cache, not a network.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from workbench.embeddings.backends import LoadedEmbedder
from workbench.embeddings.pipeline import Embeddings, embed_files

BATCH_SIZE = 16


def pixel_embedder(*, stop_after: int | None = None) -> LoadedEmbedder:
    """An embedder whose vector is the image's 4×4 RGB thumbnail; with ``stop_after``, its
    forward pass for batch ``stop_after + 1`` never returns."""
    import numpy as np
    import torch

    def preprocess(img: Any) -> Any:
        small = np.asarray(img.resize((4, 4)), dtype=np.float32) / 255.0
        return torch.from_numpy(small).flatten() + 0.01

    batches = [0]

    def forward(batch: Any) -> Any:
        if stop_after is not None and batches[0] >= stop_after:
            while True:  # stuck mid-batch: only a kill ends this process
                time.sleep(0.05)
        batches[0] += 1
        return torch.nn.functional.normalize(batch.float(), dim=-1)

    return LoadedEmbedder(model_id="test/pixels-4x4", family="efficientnet-lite0", requested="test", trained=False,
                          dim=48, preprocessing="resize4", preprocess=preprocess, forward=forward, device="cpu",
                          input_size=8)


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def embed(paths: list[str], cache: str | Path, *, stop_after: int | None = None) -> Embeddings:
    """Embed ``paths`` (one sample per path) with :func:`pixel_embedder` into ``cache``."""
    return embed_files([f"id{i}" for i in range(len(paths))], paths, [sha256(p) for p in paths],
                       pixel_embedder(stop_after=stop_after), cache_dir=str(cache), batch_size=BATCH_SIZE,
                       num_workers=0, progress=False)


if __name__ == "__main__":
    cache_dir, listing, stop = sys.argv[1], sys.argv[2], int(sys.argv[3])
    embed(Path(listing).read_text().split("\n"), cache_dir, stop_after=stop)
