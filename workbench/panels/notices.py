"""Banners a panel shows instead of, or above, its content: check states and embedding warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.panels.markup import Html, banner, code, join

if TYPE_CHECKING:
    from workbench.results import AuditResult


def check_notice(result: AuditResult, check: str) -> Html | None:
    """A banner when ``check`` was skipped, failed or left no result (with the reason); None when it ran.

    The states are the HTML report's (:func:`workbench.render.sections.section_states`).

    Example:
        >>> check_notice(result, "label_issues")  # doctest: +SKIP
        '<div ...><b ...>Label issues: skipped.</b> no class labels ...</div>'
    """
    from workbench.render.sections import section_states

    state = section_states(result).get(check)
    if state is None or state.show:
        return None
    tone = {"failed": "bad", "skipped": "warn"}.get(state.state, "neutral")
    return banner(f"{state.title}: {state.state}.", state.reason, tone)


def embedding_warning(result: AuditResult) -> Html | None:
    """Banners when the embeddings come from a fallback model or untrained weights, else None.

    Example:
        >>> embedding_warning(result)  # doctest: +SKIP
        '<div ...><b ...>FALLBACK embedding model.</b> CLIP unavailable: ...</div>'
    """
    emb = result.embedding
    if emb is None:
        return None
    banners = []
    if emb.fallback_reason is not None:
        banners.append(banner("FALLBACK embedding model.",
                              join([code(emb.model_id), f" was used instead of {emb.requested!s}: ",
                                    emb.fallback_reason]), "warn"))
    if not emb.trained:
        banners.append(banner("UNTRAINED embedding model.",
                              join([code(emb.model_id), " has untrained weights: duplicates, leaks and label "
                                    "issues found with it are not meaningful."]), "bad"))
    return join(banners) if banners else None
