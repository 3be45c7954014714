"""CI gates: ``--fail-on leaks>0,duplicates>2%,label-issues>100,file-problems>0,imbalance``.

A gate names a finding, a comparison and a limit, as a count or a percentage of the samples.
A bare name means ``>0``. A gate whose check was skipped or failed *fails* with the check's
reason (a gate must never pass because nothing was looked at), unless ``allow_skipped``.
Pure: reads an :class:`~workbench.results.AuditResult`, returns :class:`GateOutcome` values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from workbench.errors import WorkbenchError
from workbench.results import AuditResult


class GateError(WorkbenchError, ValueError):
    """A ``--fail-on`` expression can't be parsed."""


def registered_gates() -> dict[str, tuple[Any, Any]]:
    """``{gate name: (check spec, gate spec)}`` of every registered check that declares a gate."""
    from workbench.checks.registry import registered_checks

    return {spec.gate.name: (spec, spec.gate) for spec in registered_checks() if spec.gate is not None}


_EXPR = re.compile(r"^\s*(?P<name>[a-z-]+)\s*(?:(?P<op>>=|>)\s*(?P<limit>\d+(?:\.\d+)?)\s*(?P<pct>%?))?\s*$")


@dataclass(frozen=True)
class Gate:
    """One parsed gate: fail when ``count op limit`` (``limit`` in percent when ``percent``)."""

    name: str
    op: Literal[">", ">="] = ">"
    limit: float = 0.0
    percent: bool = False

    def __str__(self) -> str:
        limit = f"{self.limit:g}{'%' if self.percent else ''}"
        return f"{self.name}{self.op}{limit}"


@dataclass(frozen=True)
class GateOutcome:
    """Whether one gate failed, and the line that says why."""

    gate: Gate
    failed: bool
    message: str


def parse_gates(text: str, *, option: str = "--fail-on") -> tuple[Gate, ...]:
    """Parse a comma list of gates.

    Raises:
        GateError: an unknown name or a malformed expression, saying what is accepted.

    Example:
        >>> [str(g) for g in parse_gates("leaks, duplicates>2%, label-issues>=100")]
        ['leaks>0', 'duplicates>2%', 'label-issues>=100']
    """
    known = registered_gates()
    out = []
    for part in (p for p in text.split(",") if p.strip()):
        m = _EXPR.match(part)
        if not m:
            raise GateError(f"{option}: can't read {part.strip()!r}; write NAME, NAME>N or NAME>N% "
                            f"(e.g. leaks>0,duplicates>2%), with NAME one of {', '.join(known)}")
        name = m["name"]
        if name not in known:
            raise GateError(f"{option}: unknown {name!r}; choose from {', '.join(known)}")
        limit = float(m["limit"]) if m["limit"] else 0.0
        if m["pct"] and limit > 100:
            raise GateError(f"{option}: {part.strip()!r}: a percentage can't exceed 100")
        out.append(Gate(name, m["op"] or ">", limit, bool(m["pct"])))
    return tuple(out)


def evaluate_gates(result: AuditResult, gates: tuple[Gate, ...], *, allow_skipped: bool = False
                   ) -> list[GateOutcome]:
    """Evaluate ``gates`` on ``result``; a gate over a skipped or failed check fails unless ``allow_skipped``.

    Example:
        >>> [o.message for o in evaluate_gates(result, parse_gates("leaks"))]  # doctest: +SKIP
        ['leaks>0: 3 leaked samples (0.2% of 1390) - failed']
    """
    states = {c.name: c for c in result.checks}
    known = registered_gates()
    out = []
    for gate in gates:
        spec, metric = known[gate.name]
        check = states.get(spec.name)
        broken = [states[d] for d in metric.depends_on if d in states and states[d].state == "failed"]
        if check is None or check.state != "ran" or broken or spec.name not in result.findings:
            why = (f"check {spec.name} did not run" if check is None else
                   f"check {spec.name} {check.state}: {check.reason}" if check.state != "ran" else
                   f"check {spec.name} ran but its result is not in this file" if spec.name not in result.findings else
                   "; ".join(f"{b.name} failed: {b.reason}" for b in broken))
            failed = not allow_skipped
            verdict = "failed (pass --allow-skipped to accept)" if failed else "not evaluated (--allow-skipped)"
            out.append(GateOutcome(gate, failed, f"{gate}: {why} - {verdict}"))
            continue
        finding = result.findings[spec.name]
        count = metric.count(finding)
        total = metric.total(finding, result) if metric.total is not None else result.n_samples
        value = 100.0 * count / total if gate.percent and total else float(count)
        failed = value > gate.limit if gate.op == ">" else value >= gate.limit
        share = f" ({100.0 * count / total:.1f}% of {total})" if total else ""
        out.append(GateOutcome(gate, failed, f"{gate}: {count} {metric.unit}{share} - "
                                             f"{'failed' if failed else 'passed'}"))
    return out


def evaluate_new_gates(diff: Any, gates: tuple[Gate, ...], *, allow_skipped: bool = False) -> list[GateOutcome]:
    """``--fail-on-new``: evaluate ``gates`` on the findings that are new in ``diff``'s audit B (an
    :class:`~workbench.history.diff.AuditDiff`); a percentage is of B's samples. A gate whose check did
    not run in B fails unless ``allow_skipped``; one that did not run in A counts all of B's findings.

    Example:
        >>> [o.message for o in evaluate_new_gates(diff, parse_gates("leaks"))]  # doctest: +SKIP
        ['leaks>0 (new): 2 new findings (0.1% of 1390) - failed']
    """
    known = registered_gates()
    out = []
    for gate in gates:
        spec, _metric = known[gate.name]
        check = diff.check(spec.name)
        label = f"{gate} (new)"
        if check is None or check.compared in ("not in B", "neither"):
            state = diff.b.checks.get(spec.name, "absent")
            why = (f"check {spec.name} was {state} in this audit" if state != "no rows" else
                   f"check {spec.name} lists no findings to compare")
            failed = not allow_skipped
            verdict = "failed (pass --allow-skipped to accept)" if failed else "not evaluated (--allow-skipped)"
            out.append(GateOutcome(gate, failed, f"{label}: {why} - {verdict}"))
            continue
        count, total = len(check.new), diff.b.n_samples
        value = 100.0 * count / total if gate.percent and total else float(count)
        failed = value > gate.limit if gate.op == ">" else value >= gate.limit
        share = f" ({100.0 * count / total:.1f}% of {total})" if total else ""
        basis = " (none before: all count as new)" if check.compared == "only in B" else ""
        out.append(GateOutcome(gate, failed, f"{label}: {count} new findings{share}{basis}, {len(check.fixed)} "
                                             f"fixed - {'failed' if failed else 'passed'}"))
    return out
