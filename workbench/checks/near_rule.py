"""The near-duplicate decision rule: which evidence links two images, and how strongly.

Two images are near duplicates when one of these holds (``evidence`` names it):

- ``embedding``: cosine distance at most ``strict`` (close enough that distinct images of
  this dataset almost never are);
- ``embedding+thumbnail``: distance at most ``loose`` *and* their 16x16 greyscale thumbnails
  agree (normalised correlation at least ``thumb``, the mirrored thumbnail counting too);
- ``phash+embedding`` / ``phash-mirror+embedding``: 64-bit perceptual hashes (or one and the
  other's mirror) at most ``phash_bits`` apart *and* distance at most ``loose``: a hash
  collision between different pictures (blank frames, flat drawings) is not enough alone;
- ``phash+thumbnail``: the hashes and the thumbnails agree though the model does not (a tiny
  image rescaled moves far in the model's space);
- ``phash`` / ``phash-mirror``: the hashes alone, only when either image has no embedding.

Pure: numbers in, a decision out. The thresholds come from
:mod:`workbench.checks.calibration` (or from the user).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.io.files import THUMB_SIDE


@dataclass(frozen=True)
class NearRule:
    """Thresholds of the rule above. ``thumb > 1`` turns the thumbnail tier off (``loose == strict``)."""

    strict: float
    loose: float
    thumb: float = 1.01
    phash_bits: int = 2

    @classmethod
    def fixed(cls, threshold: float, phash_bits: int = 2) -> "NearRule":
        """One cosine threshold and nothing else (a user's ``--near-threshold``, calibration off)."""
        return cls(strict=threshold, loose=threshold, thumb=1.01, phash_bits=phash_bits)

    def decide(self, distance: float | None, similarity: float | None, phash_bits: int | None,
               mirrored: bool = False) -> str | None:
        """The evidence that links a pair, or ``None``.

        Example:
            >>> rule = NearRule(strict=0.05, loose=0.2, thumb=0.9)
            >>> rule.decide(0.03, None, None), rule.decide(0.1, 0.95, None), rule.decide(0.1, 0.5, None)
            ('embedding', 'embedding+thumbnail', None)
            >>> rule.decide(None, None, 1, mirrored=True), rule.decide(0.5, None, 1), rule.decide(0.5, 0.95, 1)
            ('phash-mirror', None, 'phash+thumbnail')
        """
        hashed = phash_bits is not None and phash_bits <= self.phash_bits
        tag = "phash-mirror" if mirrored else "phash"
        looks_alike = similarity is not None and similarity >= self.thumb
        if distance is None:
            return tag if hashed else None
        if distance <= self.strict:
            return "embedding"
        if distance <= self.loose and looks_alike:
            return "embedding+thumbnail"
        if hashed and distance <= self.loose:
            return f"{tag}+embedding"
        if hashed and looks_alike:  # the model disagrees, two pixel-level signals agree (tiny images rescaled)
            return f"{tag}+thumbnail"
        return None


def thumbnail(hex_bytes: str | None) -> np.ndarray | None:
    """A stored thumbnail (see :class:`workbench.io.files.FileFacts`) as ``[side, side, channels]``, each
    channel centred, the whole scaled to unit norm (so brightness and contrast changes cancel out, and
    two drawings that differ only in colour do not)."""
    if not hex_bytes:
        return None
    raw = np.frombuffer(bytes.fromhex(hex_bytes), dtype=np.uint8).astype(np.float32)
    x = raw.reshape(THUMB_SIDE, THUMB_SIDE, -1)
    x = x - x.mean(axis=(0, 1), keepdims=True)
    norm = float(np.linalg.norm(x))
    return x / norm if norm > 1e-6 else np.zeros_like(x)


def thumb_similarity(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Normalised correlation of two thumbnails, the best of ``b`` as is and mirrored, shifted by up to 1 px.

    Two flat thumbnails (no variation) count as similar (1.0); flat against textured, 0.

    Example:
        >>> a = thumbnail(bytes(range(256)).hex() * 3)
        >>> round(thumb_similarity(a, a), 6), thumb_similarity(a, thumbnail((b"\\x07" * 768).hex()))
        (1.0, 0.0)
    """
    if a is None or b is None:
        return None
    flat_a, flat_b = not a.any(), not b.any()
    if flat_a or flat_b:
        return 1.0 if flat_a and flat_b else 0.0
    if a.shape != b.shape:
        return None
    return max(_shifted_correlation(a, b), _shifted_correlation(a, b[:, ::-1]))


def _shifted_correlation(a: np.ndarray, b: np.ndarray, reach: int = 1) -> float:
    """Best correlation of ``a`` and ``b`` over shifts of up to ``reach`` thumbnail pixels (a 1-px shift of a
    28-px image, a slight re-crop), each over the overlapping part, re-centred."""
    best = -1.0
    n = a.shape[0]
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            pa = a[max(dy, 0):n + min(dy, 0), max(dx, 0):n + min(dx, 0)]
            pb = b[max(-dy, 0):n + min(-dy, 0), max(-dx, 0):n + min(-dx, 0)]
            pa, pb = pa - pa.mean(axis=(0, 1)), pb - pb.mean(axis=(0, 1))
            norm = float(np.sqrt((pa * pa).sum() * (pb * pb).sum()))
            if norm > 1e-9:
                best = max(best, float((pa * pb).sum()) / norm)
    return best


def hamming(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two 64-bit hex hashes (``None`` when either is missing)."""
    if not a or not b:
        return None
    return (int(a, 16) ^ int(b, 16)).bit_count()
