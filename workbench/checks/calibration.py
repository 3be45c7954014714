"""Near-duplicate thresholds chosen per dataset and model, from known copies and distinct neighbours.

Positives: copies made from a seeded sample of the dataset's own images (resize, JPEG, brightness,
contrast, crop, mirror, rotation; :mod:`workbench.embeddings.copies`), measured against their
originals. Negatives: each image and its nearest neighbour that is neither a byte-identical copy
nor a probable copy (within the known copies' range on all three signals, :func:`copy_signature`).

The choice (:func:`choose_rule`):

1. ``strict``: the embedding distance below which only :data:`STRICT_NEGATIVE_SHARE` of the
   images have a different-looking nearest neighbour; pairs within it need no other evidence.
2. ``loose``: far enough to take in :data:`LOOSE_COPY_SHARE` of the copies, but never beyond the
   :data:`LOOSE_NEGATIVE_SHARE` quantile of the negatives; pairs between the two thresholds are
   confirmed by their thumbnails (or perceptual hashes) or rejected.
3. ``thumb``: the thumbnail correlation that keeps :data:`THUMB_COPY_SHARE` of the copies in that
   band, raised as far as needed so that at most :data:`FALSE_PAIR_BUDGET` of the images link to
   a different picture through it (never below :data:`MIN_THUMB`). Negatives that are evidently
   copies (hashes within the bit limit, thumbnails matching to :data:`EVIDENT_COPY_SIMILARITY`)
   are left out of the choice.

Then every copy and every negative is judged by the full rule: the share of copies linked per
transform is the expected recall, the share of negatives linked the expected false-pair rate.
Pure: measurements in, a :class:`~workbench.results.NearCalibration` out.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from workbench.checks.near_rule import NearRule
from workbench.results import NearCalibration

#: Share of images whose nearest distinct neighbour may fall within ``strict``.
STRICT_NEGATIVE_SHARE = 0.002
#: Share of known copies the loose threshold aims to take in.
LOOSE_COPY_SHARE = 0.99
#: The loose threshold never goes beyond this quantile of the negatives' distances.
LOOSE_NEGATIVE_SHARE = 0.25
#: Share of the copies in the band between the thresholds that the thumbnail test keeps, when the
#: negatives allow it.
THUMB_COPY_SHARE = 0.95
#: Thumbnail threshold used when the band holds no copies to choose one.
DEFAULT_THUMB = 0.9
#: The thumbnail bar never goes below this correlation.
MIN_THUMB = 0.7
#: Share of images that may link to a different picture through the thumbnail test.
FALSE_PAIR_BUDGET = 0.005
#: Negatives whose thumbnails correlate this well are taken for the dataset's own copies.
EVIDENT_COPY_SIMILARITY = 0.995
#: A neighbour within this quantile of the known copies' values on every signal is a probable copy.
COPY_SIGNATURE_SHARE = 0.99


class Measure(NamedTuple):
    """One pair measured three ways (``None`` where a signal is missing)."""

    distance: float | None
    similarity: float | None
    phash_bits: int | None
    mirrored: bool = False


class CopyMeasure(NamedTuple):
    transform: str
    measure: Measure


def choose_rule(copies: Sequence[CopyMeasure], negatives: Sequence[Measure], *, phash_bits: int = 2,
                fallback: float) -> NearRule:
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
    neg_band = [m.similarity for m in negatives
                if m.distance is not None and strict < m.distance <= loose and m.similarity is not None]
    # The thumbnail bar: as low as the copies need, but no lower than lets more than FALSE_PAIR_BUDGET of
    # the images link to a different picture through it.
    allowed = int(FALSE_PAIR_BUDGET * len(neg_d))
    ranked = sorted(neg_band, reverse=True)
    floor = ranked[allowed] + 1e-6 if len(ranked) > allowed else MIN_THUMB
    keeps_copies = float(np.quantile(band, 1.0 - THUMB_COPY_SHARE, method="lower")) if band else DEFAULT_THUMB
    thumb = min(1.0, max(keeps_copies, floor, MIN_THUMB))
    return NearRule(strict=strict, loose=loose, thumb=float(thumb), phash_bits=phash_bits)


def copy_signature(copies: Sequence[CopyMeasure], share: float = COPY_SIGNATURE_SHARE) -> Callable[[Measure], bool]:
    """A test for "looks like one of the known copies by every signal": embedding distance, thumbnail
    correlation and hash bits each within the central ``share`` of the copies' own values.

    A dataset's own crops and rotations are not evident copies (their hashes and thumbnails drift),
    yet they must not be taken for distinct pictures when the thresholds are chosen: in a
    dataset made mostly of copies, they would be most of the nearest neighbours.

    Example:
        >>> sig = copy_signature([CopyMeasure("crop", Measure(d / 100, 0.9, 10)) for d in range(1, 11)])
        >>> sig(Measure(0.05, 0.95, 8)), sig(Measure(0.05, 0.95, 30)), sig(Measure(0.3, 0.95, 8))
        (True, False, False)
    """
    d = [c.measure.distance for c in copies if c.measure.distance is not None]
    s = [c.measure.similarity for c in copies if c.measure.similarity is not None]
    b = [c.measure.phash_bits for c in copies if c.measure.phash_bits is not None]
    if not (d and s and b):
        return lambda m: False
    max_d, min_s, max_b = (float(np.quantile(d, share)), float(np.quantile(s, 1 - share)),
                           float(np.quantile(b, share)))

    def looks_like_a_copy(m: Measure) -> bool:
        return (m.distance is not None and m.distance <= max_d and m.similarity is not None
                and m.similarity >= min_s and m.phash_bits is not None and m.phash_bits <= max_b)
    return looks_like_a_copy


def distinct(negatives: Sequence[Measure], phash_bits: int) -> list[Measure]:
    """The negatives that are not evidently copies (hashes within ``phash_bits``, or thumbnails that match
    to :data:`EVIDENT_COPY_SIMILARITY`): a dataset's own copies would otherwise set the thresholds."""
    return [m for m in negatives
            if not ((m.phash_bits is not None and m.phash_bits <= phash_bits)
                    or (m.similarity is not None and m.similarity >= EVIDENT_COPY_SIMILARITY))]


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
                           thumb=float(rule.thumb), phash_bits=rule.phash_bits, n_originals=n_originals,
                           n_copies=len(copies), n_negatives=len(negatives), recall=recall,
                           false_pair_rate=round(rate, 6), note=note)
