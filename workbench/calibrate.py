"""The calibration stage: near-duplicate thresholds chosen from copies of the dataset's own images.

It runs after the k-NN graph and before the checks: the duplicates check links pairs under the rule
chosen here. The numbers it judges by are in :mod:`workbench.checks.calibration` (pure); this
stage makes the copies (:mod:`workbench.known_copies`) and finds the negatives on the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from workbench.checks.near_rule import NearRule
    from workbench.config import AuditConfig
    from workbench.results import NearCalibration
    from workbench.stages import Stages


def calibrate(inp: Stages, cfg: AuditConfig, fixed: NearRule) -> tuple[NearRule, NearCalibration]:
    """The near-duplicate rule for this dataset and how it was judged (see ``checks/calibration``).

    Copies of a sample of the dataset's own images (by content hash: the same images on every
    re-audit) are embedded and measured; the nearest different images serve as negatives.
    ``fixed`` is the rule without calibration (the model's default, or ``--near-threshold``).
    """
    from workbench.checks.calibration import choose_rule, judge
    from workbench.embeddings.cache import default_cache_root
    from workbench.known_copies import Original, measure_copies

    vectors, rows = inp.embeddings.vectors, inp.embedded_rows
    by_sha: dict[str, int] = {}
    for g, r in enumerate(rows.tolist()):
        sha = inp.columns.hashes[r]
        if sha is not None and sha not in by_sha:
            by_sha[sha] = g
    sample = sorted(by_sha)[:cfg.calibration_samples]
    originals = [Original(sha, inp.facts[rows[by_sha[sha]]].filepath, vectors[by_sha[sha]],
                          inp.facts[rows[by_sha[sha]]].thumb, inp.facts[rows[by_sha[sha]]].phash) for sha in sample]
    root = Path(cfg.embedder.cache_dir) if cfg.embedder.cache_dir else default_cache_root()
    copies = measure_copies(originals, inp.embedder, cache_root=root, batch_size=cfg.embedder.batch_size)
    negatives, bar_negatives = nearest_distinct(inp, cfg.phash_max_distance)
    if cfg.near_duplicate_threshold is not None:
        rule, method, note = fixed, "user", "--near-threshold given: one cosine threshold, judged on known copies"
    else:
        rule = choose_rule(copies, negatives, phash_bits=cfg.phash_max_distance, fallback=fixed.strict,
                           bar_negatives=bar_negatives)
        method, note = ("calibrated", "") if rule != fixed else ("fixed", "too few images to calibrate; the "
                                                                          "model's default threshold")
    return rule, judge(rule, copies, negatives, method=method, n_originals=len(originals), note=note)


#: Images whose neighbours get their pixels compared during calibration (the closest first), each
#: with every non-evident neighbour within reach of the loose threshold; beyond these only the nearest
#: is measured, without pixels (an unmeasured signal never hides a negative).
GEOMETRY_NEGATIVES = 2000


def nearest_distinct(inp: Stages, phash_bits: int) -> tuple[list, list]:
    """``(nearest, measured)``: each embedded image's nearest neighbour that is neither the same file nor
    evidently a copy of it (``checks.calibration.evident_copy``), and every non-evident neighbour measured:
    the nearest of each image and, for the closest images, all within reach of the loose threshold (the
    look-alike that links is as often an image's third neighbour as its first)."""
    from workbench.checks.calibration import LOOSE_NEGATIVE_SHARE, Measure, evident_copy
    from workbench.checks.duplicate_edges import _phash_bits

    g, rows, facts = inp.graph, inp.embedded_rows, inp.facts
    phashes = [x.phash for x in facts]
    mirrors = [x.phash_mirror for x in facts]
    reader = inp.pair_reader
    thumbs = [x.thumb for x in facts]
    if not len(rows):
        return [], []
    closest_first = np.argsort(g.distances[:, 0], kind="stable")
    wide = set(closest_first[:GEOMETRY_NEGATIVES].tolist())
    reach = 2.0 * float(np.quantile(g.distances[:, 0], LOOSE_NEGATIVE_SHARE))  # beyond any loose threshold
    nearest, measured = [], []
    for i in range(len(rows)):
        a = int(rows[i])
        found = False
        for j, d in zip(g.indices[i].tolist(), g.distances[i].tolist()):
            b = int(rows[j]) if j >= 0 else -1
            if b < 0 or (inp.columns.hashes[a] is not None and inp.columns.hashes[a] == inp.columns.hashes[b]):
                continue
            if found and d > reach:
                break
            bits, mirrored = _phash_bits(phashes, mirrors, a, b)
            m = Measure(float(d), reader.thumb_similarity(a, b, thumbs), bits, mirrored)
            if not evident_copy(m, phash_bits) and i in wide:
                m = m._replace(**reader(a, b)._asdict())
            if evident_copy(m, phash_bits):
                continue
            if not found:
                nearest.append(m)
                found = True
            measured.append(m)
            if i not in wide:
                break
    return nearest, measured
