"""Remember out-of-fold probabilities by their inputs, so a re-audit does not fit the same probe again.

:func:`workbench.checks.probe.out_of_fold_probabilities` is deterministic: the same features, labels
and settings give the same probabilities. A re-audit whose embeddings and labels did not change
(every vector from the cache) therefore reads them from ``<cache>/probes/<digest>.npz`` instead of
fitting five folds again (3 s on the 1,390-image demo). The digest covers the features' bytes,
the labels, every setting and :data:`PROBE_VERSION`; anything else is a miss. A damaged file is a
miss too, and a cache that can't be written is a warning, never a failed audit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.io.cache_folder import replace_shared

log = logging.getLogger(__name__)

#: Bump when the probe's fitting changes (folds, standardisation, optimiser).
PROBE_VERSION = 2


class ProbeCache:
    """Call it like :func:`~workbench.checks.probe.out_of_fold_probabilities`; results are kept in ``folder``.

    Example:
        >>> oof = ProbeCache(tmp / "probes")  # doctest: +SKIP
        >>> probs, folds, accuracy = oof(features, labels, n_folds=5, seed=0)  # doctest: +SKIP
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.hits = 0

    def _digest(self, features: np.ndarray, labels: np.ndarray, settings: dict[str, Any]) -> str:
        h = hashlib.blake2b(digest_size=20)
        x = np.ascontiguousarray(features, dtype=np.float32)
        y = np.ascontiguousarray(labels, dtype=np.int64)
        plain = {k: (hashlib.blake2b("\n".join(map(str, v)).encode("utf-8", "surrogatepass")).hexdigest()
                     if isinstance(v, (list, tuple)) else v) for k, v in settings.items()}  # fold_keys: one hash
        h.update(f"v{PROBE_VERSION}|{x.shape}|{y.shape}|{sorted(plain.items())}|".encode())
        h.update(x.tobytes())
        h.update(y.tobytes())
        return h.hexdigest()

    def __call__(self, features: np.ndarray, labels: np.ndarray, **settings: Any) -> tuple[np.ndarray, int, float]:
        from workbench.checks.probe import out_of_fold_probabilities

        path = self.folder / f"{self._digest(features, labels, settings)}.npz"
        try:
            with np.load(path) as stored:
                probs = stored["probs"]
                if probs.shape[0] == len(labels):
                    self.hits += 1
                    return probs, int(stored["folds"]), float(stored["accuracy"])
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - a damaged entry is only a miss
            log.warning("probe cache entry %s unreadable (%s); fitting again", path, exc)
        probs, folds, accuracy = out_of_fold_probabilities(features, labels, **settings)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, probs=probs, folds=folds, accuracy=accuracy)
            replace_shared(tmp, path)
        except OSError as exc:
            log.warning("out-of-fold probabilities not cached (%s); the next audit fits them again", exc)
        return probs, folds, accuracy
