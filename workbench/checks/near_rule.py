"""The near-duplicate decision rule: which evidence links two images, and how strongly.

Two images are near duplicates when one of these holds (``evidence`` names it):

- ``embedding``: cosine distance at most ``strict`` (close enough that distinct images of
  this dataset almost never are);
- ``embedding+thumbnail``: distance at most ``loose`` *and* their 16x16 colour thumbnails
  agree (normalised correlation at least ``thumb``, the mirrored thumbnail counting too);
- ``embedding+geometry``: distance at most ``loose`` *and* local features match under one
  similarity transform (a crop, a small rotation, a mirror image) and the pixels, registered
  by it, correlate at least ``pixels`` (:mod:`workbench.checks.geometry`);
  ``embedding+pixels``: the same for an image under 64 px, its pixels at native size shifted
  into line;
- ``embedding+alignment``: distance at most ``loose`` *and*, where the features do not register
  the pair convincingly (smooth gradients, bands), the grey images aligned directly agree on where
  their edges lie, at least ``dense`` (:func:`workbench.checks.geometry.dense_similarity`);
- ``phash+embedding`` / ``phash-mirror+embedding``: 64-bit perceptual hashes (or one and the
  other's mirror) at most ``phash_bits`` apart *and* distance at most ``loose``, unless the
  thumbnails contradict it (correlation below :data:`CONTRADICTING_THUMB`, or colours that
  disagree, :func:`chroma_agreement` below :data:`CONTRADICTING_CHROMA`: the hash is greyscale,
  so one drawing in red and in blue hashes alike): a hash collision between different pictures
  (blank frames, flat drawings) is not enough alone;
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

#: Thumbnails correlating below this contradict a perceptual-hash match.
CONTRADICTING_THUMB = 0.7
#: Thumbnail colours agreeing below this contradict a perceptual-hash match (a recoloured drawing: about
#: -0.6 for clip art's red/blue arrows; JPEG, resize, brightness and contrast copies stay above 0.9).
CONTRADICTING_CHROMA = 0.5
#: Below this mean colourfulness (RMS of the colour part, in 0-255 levels) a thumbnail's colours say nothing.
GREYISH = 4.0


@dataclass(frozen=True)
class NearRule:
    """Thresholds of the rule above. ``thumb > 1`` turns the thumbnail tier off (``loose == strict``);
    ``pixels=None`` the registered/aligned-pixels one, ``dense=None`` the directly aligned one."""

    strict: float
    loose: float
    thumb: float = 1.01
    phash_bits: int = 2
    pixels: float | None = None
    dense: float | None = None

    @classmethod
    def fixed(cls, threshold: float, phash_bits: int = 2) -> "NearRule":
        """One cosine threshold and nothing else (a user's ``--near-threshold``, calibration off)."""
        return cls(strict=threshold, loose=threshold, thumb=1.01, phash_bits=phash_bits)

    @property
    def uses_geometry(self) -> bool:
        return (self.pixels is not None or self.dense is not None) and self.loose > self.strict

    def decide(self, distance: float | None, similarity: float | None, phash_bits: int | None,
               mirrored: bool = False, inliers: int | None = None, aligned: float | None = None,
               dense: float | None = None, chroma: float | None = None) -> str | None:
        """The evidence that links a pair, or ``None``. ``inliers`` may be left out when the cheaper
        signals decide (see :attr:`uses_geometry`); ``aligned`` is the registered (or, with ``inliers``
        ``None``, native aligned) pixel correlation.

        Example:
            >>> rule = NearRule(strict=0.05, loose=0.2, thumb=0.9)
            >>> rule.decide(0.03, None, None), rule.decide(0.1, 0.95, None), rule.decide(0.1, 0.5, None)
            ('embedding', 'embedding+thumbnail', None)
            >>> rule.decide(None, None, 1, mirrored=True), rule.decide(0.5, None, 1), rule.decide(0.5, 0.95, 1)
            ('phash-mirror', None, 'phash+thumbnail')
            >>> rule = NearRule(0.05, 0.2, 0.9, pixels=0.97)
            >>> rule.decide(0.1, 0.5, 20, inliers=45, aligned=0.99), rule.decide(0.1, 0.5, 20, aligned=0.99)
            ('embedding+geometry', 'embedding+pixels')
            >>> NearRule(0.05, 0.2, 0.9, dense=0.8).decide(0.1, 0.5, 20, inliers=4, dense=0.9)
            'embedding+alignment'

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
        if distance <= self.loose and self.pixels is not None and aligned is not None and aligned >= self.pixels:
            return "embedding+geometry" if inliers is not None else "embedding+pixels"
        if distance <= self.loose and self.dense is not None and dense is not None and dense >= self.dense:
            return "embedding+alignment"
        contradicted = ((similarity is not None and similarity < CONTRADICTING_THUMB)
                        or (chroma is not None and chroma < CONTRADICTING_CHROMA))
        if hashed and distance <= self.loose and not contradicted:
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
    return max(shifted_correlation(a, b), shifted_correlation(a, b[:, ::-1]))


def shifted_correlation(a: np.ndarray, b: np.ndarray, reach: int = 1) -> float:
    """Best correlation of ``a`` and ``b`` over shifts of up to ``reach`` thumbnail pixels (a 1-px shift of a
    28-px image, a slight re-crop), each over the overlapping part, re-centred."""
    best = -1.0
    n, m = a.shape[0], a.shape[1]
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            pa = a[max(dy, 0):n + min(dy, 0), max(dx, 0):m + min(dx, 0)]
            pb = b[max(-dy, 0):n + min(-dy, 0), max(-dx, 0):m + min(-dx, 0)]
            pa, pb = pa - pa.mean(axis=(0, 1)), pb - pb.mean(axis=(0, 1))
            norm = float(np.sqrt((pa * pa).sum() * (pb * pb).sum()))
            if norm > 1e-9:
                best = max(best, float((pa * pb).sum()) / norm)
    return best


def chroma_agreement(hex_a: str | None, hex_b: str | None) -> float | None:
    """Cosine of two stored thumbnails' colour parts (each pixel minus its grey level), the best of ``b`` as
    is and mirrored; ``None`` when either is greyish (:data:`GREYISH`) or missing.

    Example:
        >>> red = bytes([220, 30, 30] * 128 + [255, 255, 255] * 128).hex()
        >>> blue = bytes([30, 30, 220] * 128 + [255, 255, 255] * 128).hex()
        >>> round(chroma_agreement(red, red), 3), chroma_agreement(red, blue) < 0, chroma_agreement(red, "80" * 768)
        (1.0, True, None)
    """
    if not hex_a or not hex_b or len(hex_a) != len(hex_b):
        return None
    a, b = (np.frombuffer(bytes.fromhex(h), dtype=np.uint8).astype(np.float32).reshape(THUMB_SIDE, THUMB_SIDE, -1)
            for h in (hex_a, hex_b))
    if a.shape[2] != 3:
        return None
    direct = colour_cosine(a, b)
    return None if direct is None else max(direct, colour_cosine(a, b[:, ::-1]))


def colour_cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cosine of two same-shaped RGB arrays' colour parts (each pixel minus its grey level, channels last),
    ``None`` when either is greyish (:data:`GREYISH`): one shape in red and in blue points opposite ways.

    Example:
        >>> red, blue = np.array([[220.0, 30, 30], [255, 255, 255]]), np.array([[30.0, 30, 220], [255, 255, 255]])
        >>> round(colour_cosine(red, red), 3), round(colour_cosine(red, blue), 2), colour_cosine(red, red * 0 + 128)
        (1.0, -0.5, None)
    """
    ca, cb = a - a.mean(axis=-1, keepdims=True), b - b.mean(axis=-1, keepdims=True)
    if min(float(np.sqrt((ca * ca).mean())), float(np.sqrt((cb * cb).mean()))) < GREYISH:
        return None
    return float((ca * cb).sum() / np.sqrt((ca * ca).sum() * (cb * cb).sum()))


def hamming(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two 64-bit hex hashes (``None`` when either is missing)."""
    if not a or not b:
        return None
    return (int(a, 16) ^ int(b, 16)).bit_count()
