"""Image quality: blurry, dark, bright, low-information, odd-size, odd-aspect and greyscale images.

Two steps, so that tuning a threshold never re-reads a file:

* :func:`quality_measures` turns one decoded image into a few plain floats (JSON-cacheable),
  measured on the upright 8-bit RGB pixels every other check sees (:func:`workbench.io.pixels.to_rgb`)
  reduced to at most :data:`MEASURE_SIDE` px on the longest side (smaller images are not enlarged:
  enlarging invents blur).
* :func:`find_quality_issues` flags images whose measures sit far out **relative to the dataset**
  (robust z-score: median and MAD of the dataset's own values), bounded by absolute levels: beyond
  ``always`` an image is flagged whatever the dataset, on the good side of ``never`` it never is
  (so a clean, uniform dataset flags next to nothing and the least-sharp images of a sharp dataset
  are not called blurry). Under ``min_relative`` measured images the absolute levels alone decide.

Threshold keys (``result.thresholds``; ``overrides=`` sets one outright). Default bounds as
``always`` / ``never``:

- ``sharpness`` (blurry below): Laplacian variance / grey variance, so contrast and brightness
  do not count (0.002 / 0.5; judged in log space, and at least 4 times under the dataset's median).
- ``blur`` (blurry below): the classic Laplacian variance of the 0-255 grey image; unused unless
  overridden, because it also calls dark and low-contrast images blurry.
- ``highlights`` (dark below): 99th percentile of luma, "nothing in the image is bright"
  (0.15 / 0.45); a black-background drawing keeps its highlights, a dark photo does not.
- ``shadows`` (bright above): 1st percentile of luma, "nothing in the image is dark" (0.85 / 0.5).
- ``entropy`` (low_information below): grey-histogram entropy in bits (0.25 / 3.0).
- ``size_factor`` (odd_size): sqrt(width x height) this many times off the dataset's median (4).
- ``min_side`` (odd_size): the shorter side under this many pixels, whatever the dataset (8).
- ``aspect_factor`` (odd_aspect): width / height this many times off the dataset's median (2.5;
  off 1:1 when the dataset is too small to be relative).
- ``colour_share`` (grayscale): greyscale images are flagged only when at least this share of the
  measured images is in colour (0.8).

Per-kind scores are in [0, 1], low = bad, 0.5 at the threshold (cleanlab's ``<issue>_score``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from workbench.checks.registry import (CheckInputs, GateSpec, PanelSpec, SampleField, SampleTag, SavedView, Writes,
                                       register_check)
from workbench.results.protocol import Finding, KindedIssues

if TYPE_CHECKING:
    from workbench.config import AuditConfig

log = logging.getLogger(__name__)

#: Names the measures: bump it whenever :func:`quality_measures` gives other numbers, so caches drop old ones.
MEASURES_VERSION = "quality1"
#: Longest side (px) the measures are taken at.
MEASURE_SIDE = 256
#: Issue kinds, in the order the summary and the frame list them.
ISSUE_KINDS = ("blurry", "dark", "bright", "low_information", "odd_size", "odd_aspect", "grayscale")
#: Robust z-score (in MADs scaled to a standard deviation) beyond which a measure is out of line.
DEFAULT_Z = 3.5
#: Fewer measured images than this: absolute levels only.
MIN_RELATIVE = 10
#: Grey standard deviation (luma, 0-1) under which sharpness is not judged (a flat image has none).
MIN_CONTRAST = 0.01
#: Channel spread (0-255) above which a pixel counts as coloured; an image with at most
#: :data:`GREY_PIXEL_SHARE` of such pixels is greyscale.
GREY_SPREAD, GREY_PIXEL_SHARE = 12.0, 0.01
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


@dataclass(frozen=True)
class _Rule:
    kind: str
    measure: str
    low: bool  # flagged below the threshold (else above)
    always: float
    never: float
    log: bool = False
    #: The cut lies at least this far from the dataset's median (log space: a factor), however tight the dataset.
    margin: float = 0.0


_RULES = (_Rule("blurry", "sharpness", True, 0.002, 0.5, log=True, margin=math.log(4.0)),
          _Rule("dark", "highlights", True, 0.15, 0.45),
          _Rule("bright", "shadows", False, 0.85, 0.5),
          _Rule("low_information", "entropy", True, 0.25, 3.0))
_FACTORS = {"size_factor": 4.0, "min_side": 8.0, "aspect_factor": 2.5, "colour_share": 0.8}
#: Every key ``overrides=`` accepts.
THRESHOLD_KEYS = tuple(r.measure for r in _RULES) + ("blur", *_FACTORS)


def quality_measures(image: Any) -> dict[str, float]:
    """Plain-float quality measures of one decoded image; never raises on odd modes or sizes.

    Keys: ``width``, ``height`` (upright, full size), ``blur`` (Laplacian variance, 0-255 grey),
    ``sharpness`` (``blur`` / grey variance), ``contrast`` (grey std, 0-1), ``brightness`` (mean
    luma, 0-1), ``highlights`` / ``shadows`` (99th / 1st percentile of luma), ``dark_share`` /
    ``bright_share`` (share of pixels under 0.1 / over 0.9), ``entropy`` (bits, 0-8) and
    ``grayscale`` (1.0 for a greyscale image, else 0.0).

    Example:
        >>> from PIL import Image
        >>> m = quality_measures(Image.new("L", (40, 30), 0))
        >>> m["width"], m["brightness"], m["entropy"], m["grayscale"]
        (40.0, 0.0, 0.0, 1.0)
    """
    from PIL import Image

    from workbench.io.pixels import to_rgb

    rgb = to_rgb(image)
    width, height = rgb.size
    if width == 0 or height == 0:
        rgb = Image.new("RGB", (1, 1))
    longest = max(rgb.size)
    if longest > MEASURE_SIDE:
        factor = longest // (2 * MEASURE_SIDE)
        if factor > 1:
            rgb = rgb.reduce(factor)
        scale = MEASURE_SIDE / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BOX)
    x = np.asarray(rgb, dtype=np.float32)
    grey = x @ _LUMA
    luma = grey / 255.0
    blur = 0.0
    if min(grey.shape) >= 3:
        lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4.0 * grey[1:-1, 1:-1]
        blur = float(lap.var())
    contrast = float(luma.std())
    hist = np.bincount(np.clip(np.rint(grey), 0, 255).astype(np.int64).ravel(), minlength=256) / grey.size
    p = hist[hist > 0]
    spread = x.max(axis=2) - x.min(axis=2)
    out = {"width": width, "height": height, "blur": blur,
           "sharpness": blur / float(grey.var()) if contrast >= MIN_CONTRAST else 0.0,
           "contrast": contrast, "brightness": float(luma.mean()),
           "highlights": float(np.percentile(luma, 99)), "shadows": float(np.percentile(luma, 1)),
           "dark_share": float((luma < 0.1).mean()), "bright_share": float((luma > 0.9).mean()),
           "entropy": float(-(p * np.log2(p)).sum()) + 0.0,
           "grayscale": 1.0 if float((spread > GREY_SPREAD).mean()) <= GREY_PIXEL_SHARE else 0.0}
    return {k: float(v) if k in ("width", "height") else float(f"{v:.6g}") for k, v in out.items()}


@dataclass(frozen=True)
class QualityIssue:
    """One flagged image: its issue kinds, all its per-kind scores (low = bad) and its measures."""

    sample_id: str
    filepath: str
    label: str | None
    kinds: tuple[str, ...]
    #: The lowest of ``scores``: 0 = worst, under 0.5 = flagged.
    score: float
    #: ``{kind: score in [0, 1]}`` for every kind of :data:`ISSUE_KINDS` (0.5 at the threshold).
    scores: dict[str, float]
    measures: dict[str, float]


@dataclass(frozen=True)
class ImageQualityResult(KindedIssues):
    """Images flagged for quality, worst first, and the thresholds that flagged them.

    ``thresholds`` uses the keys of :data:`THRESHOLD_KEYS`; ``threshold_sources`` says how each was
    set: ``relative`` (from the dataset), ``relative, capped`` (held at the ``never`` level),
    ``relative, floored`` (held at the ``always`` level), ``absolute`` (too few images to be
    relative), ``override`` or ``default``.
    """

    KINDS = ISSUE_KINDS
    issues: tuple[QualityIssue, ...] = ()
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    threshold_sources: dict[str, str] = dataclasses.field(default_factory=dict)
    n_measured: int = 0
    #: Samples without measures (unreadable files), not judged.
    n_unmeasured: int = 0
    #: Share of the measured images in colour (``None`` when none was measured).
    colour_share: float | None = None
    z: float = DEFAULT_Z

    def summary(self) -> str:
        """One line for the terminal.

        Example:
            >>> ImageQualityResult(n_measured=3).summary()
            'no issues in 3 images'
        """
        skipped = f" ({self.n_unmeasured} not measured)" if self.n_unmeasured else ""
        if not self.issues:
            return f"no issues in {self.n_measured:,} images{skipped}"
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.counts().items() if n)
        return f"{len(self.issues):,} of {self.n_measured:,} images flagged: {parts}{skipped}"

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each flagged image, by file and the kinds of problem (a new kind on it is a new finding)."""
        return tuple(Finding("+".join(sorted(i.kinds)), (i.filepath,), (), i.label, i.score) for i in self.issues)

    def to_frame(self) -> Any:
        """One row per flagged image: ``is_<kind>_issue``, ``<kind>_score`` (low = bad), measures."""
        import pandas as pd

        measure_keys = sorted({k for i in self.issues for k in i.measures})
        cols = ["sample_id", "filepath", "label", "score",
                *(c for k in ISSUE_KINDS for c in (f"is_{k}_issue", f"{k}_score")), *measure_keys]
        rows = [{"sample_id": i.sample_id, "filepath": i.filepath, "label": i.label, "score": i.score,
                 **{f"is_{k}_issue": k in i.kinds for k in ISSUE_KINDS},
                 **{f"{k}_score": i.scores.get(k, 1.0) for k in ISSUE_KINDS}, **i.measures} for i in self.issues]
        return pd.DataFrame(rows, columns=cols)

    def to_export(self) -> dict[str, Any]:
        """The JSON export's part: ``{"image_quality": {...}}`` with issues by file path."""
        return {"image_quality": {
            "thresholds": dict(self.thresholds), "threshold_sources": dict(self.threshold_sources),
            "n_measured": self.n_measured, "n_unmeasured": self.n_unmeasured, "counts": self.counts(),
            "issues": [{"path": i.filepath, "label": i.label, "kinds": list(i.kinds), "score": i.score,
                        "measures": dict(i.measures)} for i in self.issues]}}


def _robust_cut(values: np.ndarray, rule: _Rule, z: float) -> float:
    """The dataset's cut for ``rule``: median -/+ ``z`` robust standard deviations."""
    v = np.log(np.maximum(values, 1e-9)) if rule.log else values
    median = float(np.median(v))
    spread = max(z * 1.4826 * float(np.median(np.abs(v - median))), rule.margin)
    cut = median - spread if rule.low else median + spread
    return math.exp(cut) if rule.log else cut


def _rule_threshold(values: np.ndarray, rule: _Rule, z: float, min_relative: int) -> tuple[float, str]:
    """``(threshold, source)``: the dataset's cut held between the rule's ``always`` and ``never`` levels."""
    if values.size < min_relative:
        return rule.always, "absolute"
    cut = _robust_cut(values, rule, z)
    held = min(max(cut, min(rule.always, rule.never)), max(rule.always, rule.never))
    if held == cut:
        return cut, "relative"
    return held, "relative, capped" if held == rule.never else "relative, floored"


def _below(x: float, t: float) -> float:
    """Score of a value judged 'bad below ``t``': 0.5 at ``t``, 0 at 0, 1 from ``2 t``."""
    return 1.0 if t <= 0 else min(1.0, 0.5 * max(x, 0.0) / t)


def _off_by(ratio: float, factor: float) -> float:
    """Score of a ratio ``ratio >= 1`` judged 'bad beyond ``factor``': 0.5 at ``factor``."""
    return 1.0 if ratio <= 1.0 else min(1.0, 0.5 * math.log(factor) / math.log(ratio))


def find_quality_issues(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[str | None],
                        measures: Sequence[dict[str, float] | None], *,
                        overrides: dict[str, float] | None = None, z: float = DEFAULT_Z,
                        min_relative: int = MIN_RELATIVE) -> ImageQualityResult:
    """Flag images whose :func:`quality_measures` are out of line with the dataset's (or absolutely bad).

    Args:
        sample_ids, filepaths, labels: one entry per sample.
        measures: :func:`quality_measures` of each sample, ``None`` for a file that could not be read
            (skipped, counted in ``n_unmeasured``).
        overrides: thresholds to use as given, keyed as :data:`THRESHOLD_KEYS` (see the module's table),
            e.g. ``{"sharpness": 0.05, "blur": 100.0, "highlights": 0.3}``.
        z: robust z-score beyond which a value is out of line with the dataset.
        min_relative: fewer measured images than this: absolute levels only.

    Example:
        >>> m = [{"width": 28.0, "height": 28.0, "sharpness": 1.5, "contrast": 0.3, "highlights": 0.9,
        ...       "shadows": 0.0, "entropy": 4.0, "grayscale": 1.0, "blur": 9000.0}] * 11
        >>> m = m + [{**m[0], "sharpness": 0.01, "blur": 300.0}]
        >>> r = find_quality_issues([str(i) for i in range(12)], ["/f"] * 12, ["a"] * 12, m)
        >>> r.summary(), r.issues[0].kinds
        ('1 of 12 images flagged: 1 blurry', ('blurry',))
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(THRESHOLD_KEYS))
    if unknown:
        raise ValueError(f"unknown image-quality threshold(s) {unknown}; use {', '.join(THRESHOLD_KEYS)}")
    rows = [i for i, m in enumerate(measures) if m is not None]
    ms = [measures[i] for i in rows]
    thresholds: dict[str, float] = {}
    sources: dict[str, str] = {}
    for rule in _RULES:
        vals = [m[rule.measure] for m in ms if rule.kind != "blurry" or m["contrast"] >= MIN_CONTRAST]
        t, src = _rule_threshold(np.asarray(vals, dtype=np.float64), rule, z, min_relative)
        thresholds[rule.measure], sources[rule.measure] = t, src
    for key, default in _FACTORS.items():
        thresholds[key], sources[key] = default, "default"
    for key, value in overrides.items():
        thresholds[key], sources[key] = float(value), "override"
    thresholds = {k: float(f"{v:.6g}") for k, v in thresholds.items()}
    relative = len(ms) >= min_relative
    size = [math.sqrt(m["width"] * m["height"]) for m in ms]
    aspect = [m["width"] / max(m["height"], 1.0) for m in ms]
    ref_size = float(np.median(size)) if relative else None
    ref_aspect = float(np.median(aspect)) if relative else 1.0
    colour_share = float(np.mean([m["grayscale"] < 0.5 for m in ms])) if ms else None
    colour_dataset = colour_share is not None and colour_share >= thresholds["colour_share"]
    issues = []
    for row, m, s, a in zip(rows, ms, size, aspect):
        scores = _scores(m, s, a, thresholds, ref_size, ref_aspect, colour_dataset)
        kinds = tuple(k for k in ISSUE_KINDS if scores[k] < 0.5)
        if kinds:
            issues.append(QualityIssue(sample_id=sample_ids[row], filepath=filepaths[row], label=labels[row],
                                       kinds=kinds, score=min(scores.values()), scores=scores, measures=dict(m)))
    issues.sort(key=lambda i: (i.score, i.filepath))
    result = ImageQualityResult(issues=tuple(issues), thresholds=thresholds, threshold_sources=sources,
                                n_measured=len(ms), n_unmeasured=len(measures) - len(ms),
                                colour_share=None if colour_share is None else round(colour_share, 4), z=z)
    log.info("%s", result.summary())
    return result


def _scores(m: dict[str, float], size: float, aspect: float, t: dict[str, float], ref_size: float | None,
            ref_aspect: float, colour_dataset: bool) -> dict[str, float]:
    """``{kind: score}`` of one image, 0.5 at the threshold, low = bad."""
    blurry = _below(m["sharpness"], t["sharpness"]) if m["contrast"] >= MIN_CONTRAST else 1.0
    if "blur" in t:
        blurry = min(blurry, _below(m["blur"], t["blur"]))
    odd_size = _below(min(m["width"], m["height"]), t["min_side"])
    if ref_size:
        odd_size = min(odd_size, _off_by(max(size / ref_size, ref_size / max(size, 1e-9)), t["size_factor"]))
    aspect_ratio = max(aspect / ref_aspect, ref_aspect / max(aspect, 1e-9))
    scores = {"blurry": blurry, "dark": _below(m["highlights"], t["highlights"]),
              "bright": _below(1.0 - m["shadows"], 1.0 - t["shadows"]),
              "low_information": _below(m["entropy"], t["entropy"]), "odd_size": odd_size,
              "odd_aspect": _off_by(aspect_ratio, t["aspect_factor"]),
              "grayscale": 0.0 if colour_dataset and m["grayscale"] >= 0.5 else 1.0}
    return {k: round(float(v), 6) for k, v in scores.items()}


@dataclass(frozen=True)
class QualityOptions:
    """``--check-option image_quality.KEY=VALUE``: a threshold of :data:`THRESHOLD_KEYS` set outright
    (``None``: from the dataset, or the default), the robust z-score and the relative minimum."""

    z: float = DEFAULT_Z
    min_relative: int = MIN_RELATIVE
    sharpness: float | None = None
    blur: float | None = None
    highlights: float | None = None
    shadows: float | None = None
    entropy: float | None = None
    size_factor: float | None = None
    min_side: float | None = None
    aspect_factor: float | None = None
    colour_share: float | None = None

    def __post_init__(self) -> None:
        bounds = {"z": (1e-9, None), "min_relative": (1, None), "sharpness": (0, None), "blur": (0, None),
                  "highlights": (0, 1), "shadows": (0, 1), "entropy": (0, 8), "size_factor": (1, None),
                  "min_side": (0, None), "aspect_factor": (1, None), "colour_share": (0, 1)}
        for key, (low, high) in bounds.items():
            value = getattr(self, key)
            if value is not None and (value < low or (high is not None and value > high)):
                where = f"at least {low:g}" + (f" and at most {high:g}" if high is not None else "")
                raise ValueError(f"{key} must be {where}, not {value!r}")


TAG = "wb:quality"


@register_check(
    name="image_quality", title="image quality", result=ImageQualityResult, count_key="quality_issues",
    writes=Writes(fields=(SampleField("quality_issues", "wb_quality_issues",
                                      lambda r: {i.sample_id: list(i.kinds) for i in r.issues}),
                          SampleField("quality_score", "wb_quality_score",
                                      lambda r: {i.sample_id: i.score for i in r.issues})),
                  tags=(SampleTag("quality", TAG, lambda r: {i.sample_id for i in r.issues}),),
                  views=(SavedView("image_quality", "wb-image-quality", TAG, "wb_quality_score"),)),
    gate=GateSpec("image-quality", "images with quality issues", lambda r: r.n_findings),
    section="sections/image_quality.html.j2", panel=PanelSpec("Image quality"), options=QualityOptions,
    file_measures=quality_measures, measures_version=1, absent_export={"image_quality": None})
def run(inputs: CheckInputs, config: AuditConfig, options: QualityOptions) -> ImageQualityResult:
    """Each image's measures, taken while its file was read, judged against the dataset's own."""
    cols = inputs.columns
    overrides = {k: getattr(options, k) for k in THRESHOLD_KEYS if getattr(options, k) is not None}
    return find_quality_issues(cols.ids, cols.filepaths, cols.labels, inputs.own_measures(), overrides=overrides,
                               z=options.z, min_relative=options.min_relative)
