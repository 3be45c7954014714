"""Review marks: a person's verdict on a flagged sample, kept as FiftyOne tags.

``wb:reviewed:confirmed`` (the finding is right: a real error, a real duplicate) and
``wb:reviewed:not_error`` (a false alarm). Marks are never written by an audit, survive
re-audits and reloads, and the next audit reads them into ``AuditResult.reviews``, so
every renderer can show what was already reviewed. Marking never relabels a sample.
Tags added by hand in the FiftyOne App count the same.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Mapping

from workbench._fo import TAG_PREFIX

ReviewState = Literal["confirmed", "not_error"]
REVIEW_TAGS: dict[str, str] = {
    "confirmed": f"{TAG_PREFIX}reviewed:confirmed",
    "not_error": f"{TAG_PREFIX}reviewed:not_error",
}
_STATE_OF_TAG = {tag: state for state, tag in REVIEW_TAGS.items()}


def reviews_from_tags(ids: Iterable[str], tags: Iterable[Iterable[str] | None]) -> dict[str, str]:
    """``{sample id: state}`` for samples carrying a review tag (``confirmed`` wins if both).

    Example:
        >>> reviews_from_tags(["a", "b"], [["train", "wb:reviewed:not_error"], ["test"]])
        {'a': 'not_error'}
    """
    out: dict[str, str] = {}
    for sid, sample_tags in zip(ids, tags):
        states = {_STATE_OF_TAG[t] for t in sample_tags or () if t in _STATE_OF_TAG}
        if states:
            out[sid] = "confirmed" if "confirmed" in states else "not_error"
    return out


def mark_samples(dataset: Any, sample_ids: Iterable[str], state: ReviewState | None) -> int:
    """Set (or with ``state=None`` clear) the review mark of samples; returns how many were changed.

    Example:
        >>> mark_samples(dataset, [issue.sample_id], "confirmed")  # doctest: +SKIP
        1
    """
    if state is not None and state not in REVIEW_TAGS:
        raise ValueError(f"state must be one of {sorted(REVIEW_TAGS)} or None, not {state!r}")
    ids = list(dict.fromkeys(sample_ids))
    if not ids:
        return 0
    view = dataset.select(ids)
    view.untag_samples([t for s, t in REVIEW_TAGS.items() if s != state])
    if state is not None:
        view.tag_samples(REVIEW_TAGS[state])
    return len(view)


def read_marks(dataset: Any) -> Mapping[str, str]:
    """The review marks currently on ``dataset``: ``{sample id: state}``."""
    ids, tags = dataset.values(["id", "tags"])
    return reviews_from_tags(ids, tags)
