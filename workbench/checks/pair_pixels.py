"""Read images again for the pixel-level evidence on a pair, once each, only when a pair needs it.

The near-duplicate rule asks for local features or aligned pixels
(:mod:`workbench.checks.geometry`) only for the pairs the cheaper signals leave undecided, so
each image is read lazily, per table row, and kept for the rest of the audit: keypoints for
images of at least :data:`~workbench.checks.geometry.MIN_SIDE` pixels, the pixels themselves
for smaller ones. Only paths the audit already read (inside the dataset root) are opened.

Read-only.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, Sequence

from workbench.checks.geometry import (MIN_SIDE, SIDE, aligned_similarity, dense_similarity, describe, register,
                                       wants_dense)
from workbench.io.pair_cache import PairCache

log = logging.getLogger(__name__)


class PairPixels(NamedTuple):
    """Two large images: ``inliers`` (feature matches agreeing on one transform) and ``aligned`` (their
    registered pixels' correlation, when enough agree); one small image: ``aligned`` (native pixels,
    shifted into line). ``None`` where not measured."""

    inliers: int | None = None
    aligned: float | None = None
    #: Two large images the features do not register convincingly: their edges once aligned directly
    #: (``checks/geometry``).
    dense: float | None = None


class PairReader:
    """``reader(a, b)``: :class:`PairPixels` of table rows ``a`` and ``b``, measured once per unordered
    pair (the calibration and the duplicate check ask about the same pairs; ``reader(b, a)`` is
    ``reader(a, b)``). ``reader.measured`` counts the pairs asked about.

    With the rows' content ``hashes`` and a :class:`~workbench.io.pair_cache.PairCache`, a pair of
    contents measured by an earlier audit is not measured again, and each pair is measured in the
    order of its hashes, so the same two files give the same numbers in any dataset.
    """

    def __init__(self, filepaths: Sequence[str | None], sizes: Sequence[tuple[int | None, int | None]],
                 hashes: Sequence[str | None] | None = None, cache: PairCache | None = None) -> None:
        self._paths = filepaths
        self._sizes = sizes
        self._hashes = hashes
        self.cache = cache
        self._images: dict[int, Any] = {}
        self._keypoints: dict[int, Any] = {}
        self._pairs: dict[tuple[int, int], PairPixels] = {}

    def _small(self, row: int) -> bool | None:
        w, h = self._sizes[row]
        if self._paths[row] is None or w is None or h is None:
            return None
        return min(w, h) < MIN_SIDE

    def _image(self, row: int) -> Any:
        if row in self._images:
            return self._images[row]
        img = self._read(row)
        if self._small(row):  # small images are kept (a few kB); large ones are read again if asked
            self._images[row] = img
        return img

    def _features(self, row: int) -> Any:
        if row not in self._keypoints:
            img = self._read(row)  # not kept: only its keypoints are
            self._keypoints[row] = describe(img) if img is not None else None
        return self._keypoints[row]

    def _read(self, row: int) -> Any:
        from PIL import Image

        from workbench.io.pixels import to_rgb

        try:
            with Image.open(self._paths[row]) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (SIDE, SIDE))
                return to_rgb(img).copy()
        except Exception as exc:  # noqa: BLE001 - a file that changed since it was read: no evidence
            log.debug("pair evidence: can't read %s: %s", self._paths[row], exc)
            return None

    @property
    def measured(self) -> int:
        return len(self._pairs)

    def _ordered(self, a: int, b: int) -> tuple[int, int, str | None, str | None]:
        """The two rows in the order of their content hashes (of their row numbers without hashes)."""
        ha, hb = (self._hashes[a], self._hashes[b]) if self._hashes is not None else (None, None)
        if ha and hb:
            return (a, b, ha, hb) if (ha, a) <= (hb, b) else (b, a, hb, ha)
        return (min(a, b), max(a, b), None, None)

    def __call__(self, a: int, b: int) -> PairPixels:
        key = (min(a, b), max(a, b))
        if key not in self._pairs:
            first, second, ha, hb = self._ordered(a, b)
            stored = self.cache.get(ha, hb, "pixels") if self.cache is not None else None
            if stored is not None:
                self._pairs[key] = PairPixels(None if stored.v1 is None else int(stored.v1), stored.v2, stored.v3)
            else:
                self._pairs[key] = self._measure(first, second)
                if self.cache is not None:
                    self.cache.put(ha, hb, "pixels", tuple(self._pairs[key]))
        return self._pairs[key]

    def thumb_similarity(self, a: int, b: int, thumbs: Sequence[str | None]) -> float | None:
        """:func:`~workbench.checks.near_rule.thumb_similarity` of rows ``a`` and ``b``'s stored thumbnails,
        kept in the cache like the pixel evidence."""
        from workbench.checks.near_rule import thumb_similarity, thumbnail

        first, second, ha, hb = self._ordered(a, b)
        stored = self.cache.get(ha, hb, "thumb") if self.cache is not None else None
        if stored is not None:
            return stored.v1
        value = thumb_similarity(thumbnail(thumbs[first]), thumbnail(thumbs[second]))
        if self.cache is not None:
            self.cache.put(ha, hb, "thumb", (value,))
        return value

    def _measure(self, a: int, b: int) -> PairPixels:
        small_a, small_b = self._small(a), self._small(b)
        if small_a is None or small_b is None:
            return PairPixels()
        if small_a or small_b:
            x, y = self._image(a), self._image(b)
            return PairPixels(aligned=aligned_similarity(x, y) if x is not None and y is not None else None)
        fa, fb = self._features(a), self._features(b)
        found = register(fa, fb)
        if found is None:
            return PairPixels()
        dense = dense_similarity(fa, fb) if wants_dense(found) else None
        return PairPixels(inliers=found.inliers, aligned=found.similarity, dense=dense)
