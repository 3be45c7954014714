"""The report's sections: which checks have one, whether each can show content, and the summary cards.

The HTML report and the notebook panels read the same states and cards, so a section
skipped, failed or not run says the same thing in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.render.formatting import _fmt_plural, fmt_int, fmt_pct

if TYPE_CHECKING:
    from workbench.results import AuditResult, CheckStatus

def _sections() -> tuple[tuple[str, str, str, str], ...]:
    """``(check, anchor, title, template)`` of each registered check, in report order."""
    from workbench.checks.registry import registered_checks

    return tuple((spec.name, spec.anchor, spec.heading, spec.section) for spec in registered_checks())


def section_ids() -> tuple[str, ...]:
    """Section ids present in every report (the navigation bar links to each)."""
    return ("summary", *(anchor for _, anchor, _, _ in _sections()), "methods")


def __getattr__(name: str) -> Any:
    if name == "SECTION_IDS":
        return section_ids()
    raise AttributeError(name)


@dataclass(frozen=True)
class SectionState:
    """Whether a section shows content, or the reason it can't."""

    check: str
    anchor: str
    title: str
    state: str  # "ran", "skipped", "failed", "not run" or "no result"
    reason: str
    show: bool
    seconds: float | None
    #: The check's report template include (``templates/sections/...``).
    template: str = ""


def _section_state(result: AuditResult, check: str, anchor: str, title: str, template: str) -> SectionState:
    import dataclasses

    return dataclasses.replace(_state(result, check, anchor, title, result.findings.get(check)), template=template)


def _state(result: AuditResult, check: str, anchor: str, title: str, payload: Any) -> SectionState:
    status: CheckStatus | None = result.check(check)
    seconds = status.seconds if status else None
    if status is not None and status.state in ("skipped", "failed"):
        reason = status.reason or f"The check {status.state} without giving a reason."
        return SectionState(check, anchor, title, status.state, reason, False, seconds)
    if payload is None:
        if status is not None:
            reason = status.reason or "The check ran, but its result is not in this AuditResult."
            return SectionState(check, anchor, title, "no result", reason, False, seconds)
        reason = "This check did not run in this audit and recorded no result."
        return SectionState(check, anchor, title, "not run", reason, False, seconds)
    return SectionState(check, anchor, title, "ran", status.reason if status else "", True, seconds)


def section_states(result: AuditResult) -> dict[str, SectionState]:
    """``{check: SectionState}`` for every check the report has a section for.

    A section shows content only when its check ran and left a result; otherwise the
    state says why (``skipped``, ``failed``, ``not run``, ``no result``) with the reason.

    Example:
        >>> section_states(result)["label_issues"].reason  # doctest: +SKIP
        'no class labels: ...'
    """
    return {check: _section_state(result, check, anchor, title, template)
            for check, anchor, title, template in _sections()}


def summary_cards(result: AuditResult) -> list[dict[str, str]]:
    """The report's summary cards: ``title``, ``value``, ``detail``, ``tone`` and the section ``href``.

    Example:
        >>> [c["title"] for c in summary_cards(result)][:3]  # doctest: +SKIP
        ['Samples', 'Classes', 'Splits']
    """
    return _summary_cards(result, section_states(result))


#: Checks whose summary card says more than the generic one (a count and the summary's headline).
_OWN_CARDS = ("integrity", "duplicates", "leakage", "label_issues", "balance")


def _card(title: str, value: str, detail: str, tone: str, href: str) -> dict[str, str]:
    return {"title": title, "value": value, "detail": detail, "tone": tone, "href": href}


def _summary_cards(result: AuditResult, states: dict[str, SectionState]) -> list[dict[str, str]]:
    counts = result.counts()
    split_names = ", ".join(result.splits) if result.splits else "no split field"
    cards = [
        _card("Samples", fmt_int(result.n_samples), result.task, "neutral", "#methods"),
        _card("Classes", fmt_int(len(result.classes)), "", "neutral", "#balance"),
        _card("Splits", fmt_int(len(result.splits)), split_names, "neutral", "#leakage"),
    ]

    def finding(check: str, title: str, n: int, detail: str, tone_if_any: str) -> dict[str, str]:
        st = states[check]
        if not st.show:
            return _card(title, "—", st.state, "muted", "#" + st.anchor)
        return _card(title, fmt_int(n), detail, tone_if_any if n else "ok", "#" + st.anchor)

    dup, leak, lab = result.duplicates, result.leakage, result.label_issues
    cards.append(finding("integrity", "File problems", counts["file_problems"],
                         "missing, empty or undecodable", "bad"))
    cards.append(finding("duplicates", "Duplicate clusters", counts["duplicates"],
                         f"{fmt_int(dup.n_redundant)} redundant samples" if dup else "", "warn"))
    cards.append(finding("leakage", "Leak pairs", counts["leaks"],
                         f"{fmt_int(leak.n_label_conflicts)} with conflicting labels" if leak else "", "bad"))
    cards.append(finding("label_issues", "Label issues", counts["label_issues"],
                         f"{fmt_pct(lab.issue_rate)} of assessed samples" if lab else "", "warn"))
    from workbench.checks.registry import registered_checks

    for spec in registered_checks():
        if spec.name in _OWN_CARDS or not spec.count_key:
            continue
        found = result.findings.get(spec.name)
        head = found.summary().splitlines()[0] if found is not None else ""
        cards.append(finding(spec.name, spec.heading, found.n_findings if found is not None else 0, head, "warn"))
    st = states["balance"]
    bal = result.balance
    if not st.show or bal is None:
        cards.append(_card("Imbalance ratio", "—", st.state, "muted", "#balance"))
    else:
        rule = f"rule: ≥ {fmt_pct(bal.min_ratio, 0)}"
        if bal.below_ratio:
            detail = f"{rule}; {_fmt_plural(len(bal.below_ratio), 'class', 'classes')} below"
        else:
            detail = f"{rule}; met"
        cards.append(_card("Imbalance ratio", fmt_pct(bal.imbalance_ratio), detail,
                           "bad" if bal.below_ratio else "ok", "#balance"))
    return cards

