"""The "Overview" panel: dataset health at a glance, read from an :class:`AuditResult`."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from workbench.panels.markup import Html, badge, card, card_row, code, heading, join, muted, table
from workbench.panels.notices import embedding_warning

if TYPE_CHECKING:
    from workbench.results import AuditResult

_STATE_TONES = {"ran": "ok", "skipped": "warn", "failed": "bad"}


def overview_panel(result: AuditResult) -> Any:
    """Samples, classes, splits, findings per type, the embedding model, timings, check states, reviews.

    The summary cards are the HTML report's (:func:`workbench.render.sections.summary_cards`)
    plus one for the samples already reviewed (``result.reviews``). A fallback or untrained
    embedding model gets a warning banner; skipped and failed checks show their reasons.

    Args:
        result: The audit to show.

    Returns:
        An ``ipywidgets.VBox``.

    Example:
        >>> from workbench.panels import overview_panel
        >>> overview_panel(result)  # doctest: +SKIP
    """
    import ipywidgets as w

    parts = [_header(result), _cards(result), _model(result), _checks(result), _timings(result)]
    box = w.VBox([w.HTML(part) for part in parts if part])
    box.add_class("wb-overview")
    return box


def _header(result: AuditResult) -> Html:
    return join([heading(f"Audit of {result.dataset_name!s}", 2),
                 muted(f"{result.task} · audited {result.created_at} · source "), code(result.source)])


def _cards(result: AuditResult) -> Html:
    from workbench.render.formatting import fmt_int
    from workbench.render.sections import summary_cards

    cards = [card(c["title"], c["value"], c["detail"], c["tone"]) for c in summary_cards(result)]
    states = Counter(result.reviews.values())
    detail = f"{fmt_int(states['confirmed'])} confirmed errors, {fmt_int(states['not_error'])} not errors"
    cards.append(card("Reviewed", fmt_int(len(result.reviews)), detail, "info" if result.reviews else "neutral"))
    return card_row(cards)


def _model(result: AuditResult) -> Html:
    from workbench.render.formatting import fmt_int, fmt_seconds

    emb = result.embedding
    if emb is None:
        return join([heading("Embedding model"), muted("No embeddings were computed in this audit.")])
    rows = [
        ("model", code(emb.model_id)),
        ("backend", emb.backend),
        ("requested", emb.requested),
        ("weights", badge("trained", "ok") if emb.trained else badge("untrained", "bad")),
        ("dimension · device", f"{emb.dim} · {emb.device}"),
        ("preprocessing", emb.preprocessing),
        ("images", f"{fmt_int(emb.n_computed)} computed, {fmt_int(emb.n_cached)} cached, "
                   f"{fmt_int(emb.n_failed)} failed in {fmt_seconds(emb.seconds)}"),
    ]
    if emb.fallback_reason is not None:
        rows.append(("fallback reason", emb.fallback_reason))
    return join([heading("Embedding model"), embedding_warning(result) or "", table(None, rows)])


def _checks(result: AuditResult) -> Html:
    from workbench.render.formatting import fmt_seconds

    rows = [(c.name, badge(c.state, _STATE_TONES.get(c.state, "neutral")), fmt_seconds(c.seconds), c.reason)
            for c in result.checks]
    not_ran = [c for c in result.checks if c.state != "ran"]
    lead = muted(f"{len(not_ran)} of {len(result.checks)} checks did not run; the reasons are below.") \
        if not_ran else muted("Every check ran.")
    return join([heading("Checks"), lead, table(["check", "state", "time", "reason"], rows, numeric=[2])])


def _timings(result: AuditResult) -> Html:
    from workbench.render.formatting import fmt_seconds

    if not result.timings:
        return Html("")
    rows = [(stage, fmt_seconds(seconds)) for stage, seconds in result.timings.items()]
    return join([heading("Timings"), table(["stage", "time"], rows, numeric=[1])])
