"""Active-learning selection: the next images to label (``workbench select --budget N``).

The pool is the unlabelled images (``pool=unlabelled``, the default) or every image
(``pool=all``: the labelled ones scored out of fold, so each by a probe that never saw it). Each
duplicate cluster offers only its first image (labelling a copy teaches nothing new). The probe is the
audit's multinomial logistic regression on the embeddings (:mod:`workbench.checks.probe`); the batch is
ranked by :func:`workbench.checks.selection_rank.select_batch`. Written as the sample field
``wb_selection_rank``, the tag ``wb:next_batch`` and the saved view ``wb-next-batch`` (in rank order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.checks.registry import (EMBEDDINGS, CheckInputs, PanelSpec, ResultOf, SampleField, SampleTag,
                                       SavedView, Writes, register_check)
from workbench.checks.selection_rank import select_batch, uncertainty, uniqueness
from workbench.results import DuplicatesResult
from workbench.results.selection import SelectedSample, SelectionResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

TAG = "wb:next_batch"


@dataclass(frozen=True)
class SelectionOptions:
    """``selection`` options (``--check-option selection.KEY=VALUE``; ``workbench select`` flags)."""

    #: Images in the batch (the data guide: label the most informative 100-500 next); 0: not asked for
    #: (an audit runs the check only when given a budget; ``workbench select`` always gives one).
    budget: int = 0
    #: ``unlabelled`` (images without a label) or ``all`` (every image, labelled ones scored out of fold).
    pool: str = "unlabelled"
    #: ``margin`` (1 - the gap between the two likeliest classes) or ``entropy``.
    uncertainty: str = "margin"
    #: The weights of the two terms; measured on Fashion-MNIST (benchmarks/RESULTS.md), more diversity
    #: than this cost accuracy: the shortlist already keeps the batch among uncertain images.
    w_uncertainty: float = 0.8
    w_diversity: float = 0.2
    #: Candidates: the ``shortlist x budget`` most uncertain images (0: the whole pool).
    shortlist: int = 5
    #: Weight of uniqueness (an image's distance to its nearest neighbours on the shared k-NN graph, as a
    #: percentile); 0 by default: on Fashion-MNIST it did not raise accuracy (benchmarks/RESULTS.md).
    w_uniqueness: float = 0.0

    def __post_init__(self) -> None:
        if self.budget < 0:
            raise ValueError(f"budget must be at least 1, not {self.budget!r}")
        if self.pool not in ("unlabelled", "all"):
            raise ValueError(f"pool must be 'unlabelled' or 'all', not {self.pool!r}")
        if self.uncertainty not in ("entropy", "margin"):
            raise ValueError(f"uncertainty must be 'entropy' or 'margin', not {self.uncertainty!r}")
        for name in ("w_uncertainty", "w_diversity", "w_uniqueness"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)!r}")
        if self.w_uncertainty + self.w_diversity + self.w_uniqueness <= 0:
            raise ValueError("w_uncertainty and w_diversity can't both be 0 (unless w_uniqueness is above 0)")
        if self.shortlist < 0:
            raise ValueError(f"shortlist must be 0 or more, not {self.shortlist!r}")


def _probe_scores(vectors: np.ndarray, labels: Sequence[str | None], pool: np.ndarray, kind: str,
                  oof: Callable[..., tuple[np.ndarray, int, float]], seed: int,
                  task_has_classes: bool = True) -> tuple[np.ndarray | None, str]:
    """Per pool row (rows of ``vectors``), the probe's uncertainty, and where it came from."""
    from workbench.checks.probe import fitted_probabilities

    if not task_has_classes:
        return None, "no uncertainty: the probe reads image-level classes, and this dataset has objects"
    counted = Counter(lab for lab in labels if lab is not None)
    classes = sorted(c for c, n in counted.items() if n >= 2)  # a class needs two images for the folds
    if len(classes) < 2:
        return None, "no uncertainty: needs two classes of two labelled images or more (diversity alone)"
    labelled = np.array([i for i, lab in enumerate(labels) if lab in counted and counted[lab] >= 2], dtype=np.int64)
    code = {c: k for k, c in enumerate(classes)}
    y = np.array([code[labels[i]] for i in labelled], dtype=np.int64)
    probs = np.zeros((len(vectors), len(classes)))
    in_pool = set(pool.tolist())
    fitted = set(labelled.tolist())
    todo = [i for i in pool.tolist() if i not in fitted]  # unlabelled, or of a class with one labelled image
    if todo:
        probs[todo] = fitted_probabilities(vectors[labelled], y, vectors[todo], len(classes))
    said = f"probe fitted on {len(labelled):,} labelled images of {len(classes)} classes"
    if len(counted) > len(classes):
        said += f" ({len(counted) - len(classes)} classes with one labelled image left out)"
    if fitted & in_pool:
        oof_probs, folds, _ = oof(vectors[labelled], y, seed=seed, rows=labelled)
        probs[labelled] = oof_probs
        said += f"; labelled images scored out of fold ({folds} folds)"
    return uncertainty(probs[pool], kind), said


def select_next(ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[str | None], vectors: np.ndarray,
                duplicates: DuplicatesResult | None, *, options: SelectionOptions = SelectionOptions(),
                labelled: Sequence[bool] | None = None, oof: Callable[..., tuple[np.ndarray, int, float]] | None = None,
                seed: int = 0, unique: np.ndarray | None = None) -> SelectionResult:
    """The batch over embedded rows (``ids``, ``filepaths``, ``labels`` aligned with ``vectors``).

    ``labels`` are the image classes the probe learns from (``None``: none); ``labelled`` says which rows
    count as labelled for the pool and the distances (default: those with a class; detection: with objects).
    ``oof(features, y, seed=, rows=)`` gives out-of-fold probabilities of the labelled rows ``rows`` (of
    ``vectors``) for ``pool="all"``; the audit passes the label check's fit, with its fold keys.
    ``unique`` is each row's :func:`~workbench.checks.selection_rank.uniqueness` (weighted by ``w_uniqueness``).

    Example:
        >>> v = np.eye(4, dtype=np.float32)
        >>> r = select_next(list("abcd"), list("abcd"), ["x", None, None, None], v, None,
        ...                 options=SelectionOptions(budget=2))
        >>> [p.sample_id for p in r.picks], r.pool_size
        (['b', 'c'], 3)
    """
    from workbench.checks.probe import out_of_fold_probabilities

    if labelled is None:
        labelled = [lab is not None for lab in labels]
    excluded: dict[str, int] = {}
    row_of = {sid: i for i, sid in enumerate(ids)}
    copies_of_labelled, copies = set(), set()
    for c in (duplicates.clusters if duplicates else ()):
        members = sorted(sid for sid in c.sample_ids if sid in row_of)
        done = [sid for sid in members if labelled[row_of[sid]]]
        if done and options.pool == "unlabelled":  # its content is labelled already
            copies_of_labelled.update(sid for sid in members if not labelled[row_of[sid]])
        else:
            copies.update(members[1:])
    wanted = [i for i in range(len(ids)) if options.pool == "all" or not labelled[i]]
    pool = np.array([i for i in wanted if ids[i] not in copies and ids[i] not in copies_of_labelled], dtype=np.int64)
    n_labelled_copies = sum(ids[i] in copies_of_labelled for i in wanted)
    if n_labelled_copies:
        excluded["copies of labelled images"] = n_labelled_copies
    if len(wanted) - len(pool) - n_labelled_copies:
        excluded["copies of a duplicate cluster's first image"] = len(wanted) - len(pool) - n_labelled_copies
    has_classes = any(lab is not None for lab in labels) or not any(labelled)  # objects: labelled, no class
    fit = oof or (lambda x, y, seed, rows: out_of_fold_probabilities(x, y, seed=seed))
    scores, probe = (_probe_scores(vectors, labels, pool, options.uncertainty, fit, seed, has_classes)
                     if len(pool) else (None, "empty pool"))
    anchors = [i for i, done in enumerate(labelled) if done] if options.pool == "unlabelled" else []
    picks = select_batch(vectors, pool, options.budget, scores=scores, anchors=anchors,
                         w_uncertainty=options.w_uncertainty if scores is not None else 0.0,
                         w_diversity=options.w_diversity, shortlist=options.shortlist, seed=seed,
                         unique=None if unique is None else np.asarray(unique)[pool] if len(pool) else None,
                         w_uniqueness=options.w_uniqueness if unique is not None else 0.0)
    chosen = tuple(SelectedSample(ids[p.row], filepaths[p.row], labels[p.row], p.rank, p.uncertainty, p.distance,
                                  p.score) for p in picks)
    used = options.w_uncertainty if scores is not None else 0.0
    weights = {"uncertainty": used, "diversity": options.w_diversity,
               "shortlist": options.shortlist if scores is not None else 0}
    if unique is not None and options.w_uniqueness:
        weights["uniqueness"] = options.w_uniqueness
    return SelectionResult(chosen, options.pool, int(len(pool)), options.budget, options.uncertainty, weights,
                           probe, excluded)


@register_check(
    name="selection", title="next batch", result=SelectionResult, needs=(EMBEDDINGS, ResultOf(DuplicatesResult)),
    count_key="next_batch", report_title="Next images to label",
    writes=Writes(fields=(SampleField("selection_rank", "wb_selection_rank", lambda r: {p.sample_id: p.rank
                                                                                       for p in r.picks}),),
                  tags=(SampleTag("next_batch", TAG, lambda r: {p.sample_id for p in r.picks}),),
                  views=(SavedView("next_batch", "wb-next-batch", TAG, "wb_selection_rank"),)),
    panel=PanelSpec("Next batch"), options=SelectionOptions, absent_export={"selection": None})
def run(inputs: CheckInputs, config: AuditConfig, options: SelectionOptions) -> SelectionResult:
    """The embedded rows; unlabelled ones first need to exist unless ``pool=all``."""
    from workbench.errors import CheckNotApplicable

    if options.budget == 0:
        raise CheckNotApplicable("runs when asked for a batch: `workbench select --budget N` (or "
                                 "--check-option selection.budget=N)")
    cols = inputs.columns
    rows = rows_ = [int(r) for r in inputs.embedded_rows]
    labels = [cols.labels[r] if inputs.task == "classification" else None for r in rows]
    labelled = [bool(cols.label_lists[r]) for r in rows]  # detection: an image with objects is labelled
    if options.pool == "unlabelled" and all(labelled):
        raise CheckNotApplicable("every embedded image is labelled; `workbench select --pool all` ranks them by "
                                 "the probe's uncertainty")
    from workbench.checks.probe import out_of_fold_probabilities

    oof: Any = inputs.oof_probabilities or out_of_fold_probabilities  # the audit's cache of the label check's fit
    unique = (uniqueness(inputs.graph.indices, inputs.graph.distances)
              if options.w_uniqueness and inputs.graph is not None else None)
    return select_next([cols.ids[r] for r in rows], [cols.filepaths[r] for r in rows], labels,
                       inputs.embeddings.vectors, inputs.result_of(DuplicatesResult), options=options,
                       labelled=labelled, oof=lambda x, y, seed, rows: oof(
                           x, y, n_folds=config.cv_folds, seed=seed,  # the label check's folds: its fit is reused
                           fold_keys=[cols.hashes[rows_[i]] or cols.ids[rows_[i]] for i in rows]),
                       seed=config.seed, unique=unique)
