"""Near-duplicate thresholds chosen per dataset and model, from known copies and distinct neighbours.

Positives: copies made from a seeded sample of the dataset's own images (resize, JPEG, brightness,
contrast, crop, mirror, rotation; :mod:`workbench.known_copies`), measured against their
originals. Negatives: each image and its nearest neighbour that is not evidently a copy of it
(byte-identical, hashes within the bit limit, thumbnails matching to
:data:`EVIDENT_COPY_SIMILARITY`, or :data:`EVIDENT_INLIERS` local features agreeing). A look-alike
that is not evidently a copy counts as a different picture: the thresholds err towards missing
a copy rather than joining two pictures.

The choice (:func:`choose_rule`):

1. ``strict``: the embedding distance below which only :data:`STRICT_NEGATIVE_SHARE` of the
   images have a different picture as nearest neighbour (with fewer than 1,000 images: below the
   closest such pair); pairs within it need no other evidence.
2. ``loose``: far enough to take in :data:`LOOSE_COPY_SHARE` of the copies, but never beyond the
   :data:`LOOSE_NEGATIVE_SHARE` quantile of the negatives; pairs between the two thresholds are
   confirmed by their thumbnails, local features or perceptual hashes, or rejected.
3. ``thumb``: the thumbnail correlation just above all but :data:`FALSE_PAIR_BUDGET` of the
   negatives in that band (never below :data:`MIN_THUMB`), then up to the lowest copy above it:
   the gap is a margin for look-alikes the sample of negatives missed.
4. ``pixels``: the correlation of the pixels once registered by matched local features (images
   under 64 px: shifted into line at native size), chosen like ``thumb``; off when no copy was
   measured that way. ``dense``: the same for the edge correlation of smooth images aligned
   directly (too few features to register them).

The bars are raised above the negatives measured most widely (``bar_negatives``): every
non-evident neighbour within reach, not only the nearest, since a look-alike that is an image's
third neighbour links as easily as its first.

Then every copy and every negative is judged by the full rule: the share of copies linked per
transform is the expected recall, the share of negatives linked the expected false-pair rate.
Pure: measurements in, a :class:`~workbench.results.NearCalibration` out.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from workbench.checks.near_rule import NearRule
from workbench.results import NearCalibration

#: Share of images whose nearest distinct neighbour may fall within ``strict``.
STRICT_NEGATIVE_SHARE = 0.001
#: Share of known copies the loose threshold aims to take in.
LOOSE_COPY_SHARE = 0.99
#: The loose threshold never goes beyond this quantile of the negatives' distances.
LOOSE_NEGATIVE_SHARE = 0.25
#: Thumbnail threshold used when the band holds no copies to choose one.
DEFAULT_THUMB = 0.9
#: The thumbnail bar never goes below this correlation.
MIN_THUMB = 0.7
#: Share of images that may link to a different picture through the thumbnail test, and again
#: through the geometric one (with fewer than 1,000 images: none of the measured ones).
FALSE_PAIR_BUDGET = 0.001
#: Negatives whose thumbnails correlate this well are taken for the dataset's own copies.
EVIDENT_COPY_SIMILARITY = 0.995
#: Negatives whose pixels, once registered by matched features, correlate this well are taken for the
#: dataset's own copies (crops, rotations); so are those EVIDENT_INLIERS features agree on whose pixels
#: correlate EVIDENT_REGISTERED_MANY (a crop of a detailed photo: 300 matches, 0.93 once re-sampled).
#: Small images aligned at native size need EVIDENT_COPY_SIMILARITY.
EVIDENT_REGISTERED = 0.95
EVIDENT_INLIERS = 250
EVIDENT_REGISTERED_MANY = 0.9
#: Smooth images aligned directly whose edges correlate this well are taken for the dataset's own copies
#: (different smooth pictures reached 0.58 on the bench's wallpapers; their crops and rotations 0.65-1.0).
EVIDENT_DENSE = 0.95


class Measure(NamedTuple):
    """One pair measured up to four ways (``None`` where a signal is missing or was not measured)."""

    distance: float | None
    similarity: float | None
    phash_bits: int | None
    mirrored: bool = False
    inliers: int | None = None
    aligned: float | None = None
    dense: float | None = None


class CopyMeasure(NamedTuple):
    transform: str
    measure: Measure


def choose_rule(copies: Sequence[CopyMeasure], negatives: Sequence[Measure], *, phash_bits: int = 2,
                fallback: float, bar_negatives: Sequence[Measure] | None = None) -> NearRule:
    """The rule's thresholds from the measurements (see the module docstring).

    Example:
        >>> copies = [CopyMeasure("jpeg", Measure(d, 0.97, 6)) for d in np.linspace(0.01, 0.2, 50)]
        >>> negatives = [Measure(d, 0.3, 30) for d in np.linspace(0.15, 0.6, 500)]
        >>> rule = choose_rule(copies, negatives, fallback=0.06)
        >>> round(rule.strict, 3), round(rule.loose, 3), rule.thumb
        (0.15, 0.198, 0.97)
    """
    negatives = distinct(negatives, phash_bits)
    neg_d = np.array([m.distance for m in negatives if m.distance is not None], dtype=np.float64)
    copy_d = np.array([c.measure.distance for c in copies if c.measure.distance is not None], dtype=np.float64)
    if len(neg_d) < 20 or len(copy_d) < 10:  # too little to choose from: the model's fixed default
        return NearRule.fixed(fallback, phash_bits)
    # Just below the quantile: with fewer than 500 images the quantile *is* the closest pair of different
    # pictures, which the embedding alone must not link.
    strict = float(np.quantile(neg_d, STRICT_NEGATIVE_SHARE, method="lower")) * (1 - 1e-6) - 1e-9
    loose = max(strict, min(float(np.quantile(copy_d, LOOSE_COPY_SHARE)),
                            float(np.quantile(neg_d, LOOSE_NEGATIVE_SHARE))))
    band = [c.measure.similarity for c in copies
            if c.measure.distance is not None and strict < c.measure.distance <= loose
            and c.measure.similarity is not None]
    wide = distinct(bar_negatives, phash_bits) if bar_negatives is not None else negatives
    in_band_negatives = [m for m in wide if m.distance is not None and strict < m.distance <= loose]
    neg_band = [m.similarity for m in in_band_negatives if m.similarity is not None]
    # The thumbnail and geometric bars: as low as the copies need, but no lower than lets more than
    # FALSE_PAIR_BUDGET of the images link to a different picture through them.
    allowed = int(FALSE_PAIR_BUDGET * len(neg_d))
    thumb = _bar(band, neg_band, allowed, DEFAULT_THUMB, MIN_THUMB, step=1e-6, cap=1.0)
    in_band = [c.measure for c in copies if c.measure.distance is not None and strict < c.measure.distance <= loose]
    copy_aligned = [m.aligned for m in in_band if m.aligned is not None]
    neg_aligned = [m.aligned for m in in_band_negatives if m.aligned is not None]
    pixels = (float(_bar(copy_aligned, neg_aligned, allowed, DEFAULT_THUMB, MIN_THUMB, step=1e-6, cap=1.0))
              if copy_aligned else None)
    copy_dense = [m.dense for m in in_band if m.dense is not None]
    neg_dense = [m.dense for m in in_band_negatives if m.dense is not None]
    dense = (float(_bar(copy_dense, neg_dense, allowed, DEFAULT_THUMB, MIN_THUMB, step=1e-6, cap=1.0))
             if copy_dense else None)
    return NearRule(strict=strict, loose=loose, thumb=float(thumb), phash_bits=phash_bits, pixels=pixels,
                    dense=dense)


def _bar(copy_values: Sequence[float], negative_values: Sequence[float], allowed: int, default: float,
         minimum: float, *, step: float, cap: float | None) -> float:
    """Just above all but ``allowed`` of the negatives (never below ``minimum``), then up to the lowest copy
    above that floor: every bar in between separates the measurements alike, and the highest of them
    keeps the widest margin against a look-alike no sample held without losing a known copy.
    ``default`` when no copy clears the floor.

    Example:
        >>> _bar([0.999, 0.998, 0.997, 0.5], [0.99, 0.9, 0.8], 0, 0.9, 0.7, step=1e-6, cap=1.0)
        0.997
    """
    ranked = sorted(negative_values, reverse=True)
    floor = max(ranked[allowed] + step if len(ranked) > allowed else minimum, minimum)
    catchable = [v for v in copy_values if v >= floor]
    bar = max(min(catchable), floor) if catchable else max(default, floor)
    return min(cap, bar) if cap is not None else bar


def distinct(negatives: Sequence[Measure], phash_bits: int) -> list[Measure]:
    """The negatives that are not evidently copies (see :func:`evident_copy`)."""
    return [m for m in negatives if not evident_copy(m, phash_bits)]


def evident_copy(m: Measure, phash_bits: int) -> bool:
    """Hashes within ``phash_bits``, thumbnails (or small images' aligned pixels) that match to
    :data:`EVIDENT_COPY_SIMILARITY`, registered pixels that match to :data:`EVIDENT_REGISTERED`
    (to :data:`EVIDENT_REGISTERED_MANY` with :data:`EVIDENT_INLIERS` features agreeing), or directly
    aligned edges to :data:`EVIDENT_DENSE`: a dataset's own copies, which must not set the
    thresholds for telling different pictures apart.

    Example:
        >>> evident_copy(Measure(0.1, 0.5, 1), 2), evident_copy(Measure(0.1, 0.5, 20, inliers=30, aligned=0.96), 2)
        (True, True)
        >>> evident_copy(Measure(0.1, 0.5, 20, inliers=300, aligned=0.92), 2), evident_copy(Measure(0.1, 0.5, 20, inliers=188, aligned=0.92), 2)
        (True, False)
        >>> evident_copy(Measure(0.1, 0.99, 20, aligned=0.99), 2)  # small images: aligned pixels need 0.995
        False
        >>> evident_copy(Measure(0.1, 0.5, 20, inliers=3, dense=0.97), 2), evident_copy(Measure(0.1, 0.5, 20, dense=0.8), 2)
        (True, False)
    """
    return ((m.phash_bits is not None and m.phash_bits <= phash_bits)
            or (m.similarity is not None and m.similarity >= EVIDENT_COPY_SIMILARITY)
            or (m.aligned is not None and m.inliers is None and m.aligned >= EVIDENT_COPY_SIMILARITY)
            or (m.aligned is not None and m.inliers is not None
                and m.aligned >= (EVIDENT_REGISTERED_MANY if m.inliers >= EVIDENT_INLIERS else EVIDENT_REGISTERED))
            or (m.dense is not None and m.dense >= EVIDENT_DENSE))


def judge(rule: NearRule, copies: Sequence[CopyMeasure], negatives: Sequence[Measure], *, method: str,
          n_originals: int, note: str = "") -> NearCalibration:
    """Expected recall per transform and false-pair rate of ``rule`` on the measurements.

    Example:
        >>> rule = NearRule(strict=0.05, loose=0.2, thumb=0.9)
        >>> cal = judge(rule, [CopyMeasure("mirror", Measure(0.1, 0.95, 20))], [Measure(0.1, 0.5, 30)],
        ...             method="calibrated", n_originals=1)
        >>> cal.recall, cal.false_pair_rate
        ((('mirror', 1.0),), 0.0)
    """
    by_transform: dict[str, list[bool]] = {}
    for c in copies:
        linked = rule.decide(*c.measure) is not None
        by_transform.setdefault(c.transform, []).append(linked)
    recall = tuple((t, round(sum(v) / len(v), 4)) for t, v in by_transform.items())
    negatives = distinct(negatives, rule.phash_bits)
    linked_negatives = sum(rule.decide(*m) is not None for m in negatives)
    rate = linked_negatives / len(negatives) if negatives else 0.0
    return NearCalibration(method=method, strict=float(rule.strict), loose=float(rule.loose),
                           thumb=float(rule.thumb), phash_bits=rule.phash_bits, pixels=rule.pixels, dense=rule.dense,
                           n_originals=n_originals,
                           n_copies=len(copies), n_negatives=len(negatives), recall=recall,
                           false_pair_rate=round(rate, 6), note=note)
