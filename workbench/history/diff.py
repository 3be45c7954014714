"""Compare two audits finding by finding: what is new, what was fixed, what is unchanged.

Pure: two :class:`~workbench.history.snapshot.AuditSnapshot` values in, an :class:`AuditDiff` out. A
check is compared only when it ran in both audits; when it ran only in the newer one, all its
findings count as new (nothing was looked at before); when it did not run in the newer one, nothing
can be said, and a ``--fail-on-new`` gate on it fails unless ``allow_skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.history.findings_table import FindingRecord
from workbench.history.snapshot import AuditSnapshot
from workbench.results.protocol import printable


@dataclass(frozen=True)
class CheckDiff:
    """One check's findings in audit A and B. ``compared`` says how: ``both`` (finding by finding),
    ``only in B`` (every B finding new), ``not in B`` (not compared), ``neither``."""

    check: str
    gate: str
    state_a: str
    state_b: str
    compared: str
    new: tuple[FindingRecord, ...] = ()
    fixed: tuple[FindingRecord, ...] = ()
    unchanged: tuple[FindingRecord, ...] = ()

    @property
    def reason(self) -> str:
        if self.compared == "not in B":
            return f"not compared: {self.state_b} in the newer audit"
        if self.compared == "only in B":
            return f"{self.state_a or 'absent'} in the older audit: every finding counts as new"
        if self.compared == "neither":
            return "ran in neither audit"
        return ""


@dataclass(frozen=True)
class AuditDiff:
    """Audit B against audit A (see the module docstring)."""

    a: AuditSnapshot
    b: AuditSnapshot
    checks: tuple[CheckDiff, ...]

    @property
    def n_new(self) -> int:
        return sum(len(c.new) for c in self.checks)

    @property
    def n_fixed(self) -> int:
        return sum(len(c.fixed) for c in self.checks)

    @property
    def n_unchanged(self) -> int:
        return sum(len(c.unchanged) for c in self.checks)

    @property
    def data_changes(self) -> tuple[str, ...]:
        """Which parts of the data differ (``files``, ``labels``, ``splits``); empty when the same data
        was audited, or ``("unknown",)`` when an audit lacks its fingerprint."""
        fa, fb = self.a.fingerprint, self.b.fingerprint
        if not fa.get("content") or not fb.get("content"):
            return ("unknown",)
        return tuple(k for k in ("files", "labels", "splits") if fa.get(k) != fb.get(k))

    def check(self, name: str) -> CheckDiff | None:
        return next((c for c in self.checks if c.check == name), None)

    def summary(self, *, limit: int = 5) -> str:
        """Plain text: the two audits, what changed in the data, then per check new / fixed / unchanged
        with the first ``limit`` new and fixed findings."""
        changes = self.data_changes
        what = ("the same data" if not changes else "data fingerprint unknown" if changes == ("unknown",)
                else "changed: " + ", ".join(changes))
        lines = [f"A {_name(self.a)}", f"B {_name(self.b)}", f"data: {what}",
                 f"{self.n_new} new, {self.n_fixed} fixed, {self.n_unchanged} unchanged"]
        for c in self.checks:
            if c.compared == "neither":
                continue
            head = f"{c.check:<22} +{len(c.new)} new  -{len(c.fixed)} fixed  ={len(c.unchanged)} unchanged"
            lines.append(head + (f"  ({c.reason})" if c.reason else ""))
            for sign, rows in (("+", c.new), ("-", c.fixed)):
                for r in rows[:limit]:
                    lines.append(f"    {sign} {_row_text(r)}")
                if len(rows) > limit:
                    lines.append(f"    {sign} ... {len(rows) - limit} more")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def side(s: AuditSnapshot) -> dict[str, Any]:
            return {"run_id": s.run_id, "dataset": s.dataset, "created_at": s.created_at, "n_samples": s.n_samples,
                    "fingerprint": dict(s.fingerprint)}

        return {"format": "workbench-diff/1", "a": side(self.a), "b": side(self.b),
                "data_changes": list(self.data_changes),
                "totals": {"new": self.n_new, "fixed": self.n_fixed, "unchanged": self.n_unchanged},
                "checks": {c.check: {"gate": c.gate, "state_a": c.state_a, "state_b": c.state_b,
                                     "compared": c.compared, "n_new": len(c.new), "n_fixed": len(c.fixed),
                                     "n_unchanged": len(c.unchanged), "new": [r.to_row() for r in c.new],
                                     "fixed": [r.to_row() for r in c.fixed]} for c in self.checks}}


def _name(s: AuditSnapshot) -> str:
    rid = f"run {s.run_id}, " if s.run_id else ""
    when = f", {s.created_at}" if s.created_at else ""
    return f"{rid}dataset {printable(s.dataset)}, {s.n_samples} samples{when}"


def _row_text(r: FindingRecord) -> str:
    parts = [r.kind] + [printable(f) for f in r.files] + [printable(a) for a in r.about if a]
    return " ".join(parts) + (f" ({printable(r.detail)})" if r.detail else "")


def _compared(state_a: str, state_b: str) -> str:
    if state_b == "ran":
        return "both" if state_a == "ran" else "only in B"
    return "neither" if state_a != "ran" else "not in B"


def _same_groups(new: list[FindingRecord], fixed: list[FindingRecord]) -> list[tuple[FindingRecord, FindingRecord]]:
    """Pairs ``(new, fixed)`` of group findings of one kind that share a file: one finding whose members
    changed. Most shared files first, each row in one pair at most.

    Example:
        >>> g = lambda *f: FindingRecord("duplicates", "duplicates", "exact", "|".join(f), f, (), None, 0.0, "", True)
        >>> [(b.files, a.files) for b, a in _same_groups([g("a", "c"), g("x", "y")], [g("a", "b")])]
        [(('a', 'c'), ('a', 'b'))]
    """
    candidates = sorted(((len(set(b.files) & set(a.files)), i, j) for i, b in enumerate(new) if b.group
                         for j, a in enumerate(fixed) if a.group and a.kind == b.kind and set(a.files) & set(b.files)),
                        reverse=True)
    used_b, used_a, out = set(), set(), []
    for _, i, j in candidates:
        if i not in used_b and j not in used_a:
            used_b.add(i)
            used_a.add(j)
            out.append((new[i], fixed[j]))
    return out


def diff_audits(a: AuditSnapshot, b: AuditSnapshot) -> AuditDiff:
    """B's findings against A's, check by check, in B's check order.

    Example:
        >>> from workbench.history.findings_table import FindingRecord as R
        >>> row = lambda key: R("leakage", "leaks", "exact", key, (key,), (), None, 0.0, "")
        >>> snap = lambda rows: AuditSnapshot("d", "", "", 3, {}, {"leakage": "ran"}, tuple(rows))
        >>> d = diff_audits(snap([row("x"), row("y")]), snap([row("y"), row("z")]))
        >>> [r.key for r in d.check("leakage").new], [r.key for r in d.check("leakage").fixed], d.n_unchanged
        (['z'], ['x'], 1)
    """
    names = list(dict.fromkeys([*b.checks, *a.checks, *(r.check for r in b.rows), *(r.check for r in a.rows)]))
    out = []
    for name in names:
        state_a, state_b = a.checks.get(name, ""), b.checks.get(name, "")
        rows_a = {r.key: r for r in a.rows if r.check == name}
        rows_b = {r.key: r for r in b.rows if r.check == name}
        gate = next((r.gate for r in (*rows_b.values(), *rows_a.values())), "")
        compared = _compared(state_a, state_b)
        if compared == "both":
            new = [r for k, r in rows_b.items() if k not in rows_a]
            fixed = [r for k, r in rows_a.items() if k not in rows_b]
            same = [r for k, r in rows_b.items() if k in rows_a]
            for r_b, r_a in _same_groups(new, fixed):  # a cluster that gained or lost a copy
                new.remove(r_b)
                fixed.remove(r_a)
                same.append(r_b)
            new, fixed, same = tuple(new), tuple(fixed), tuple(same)
        elif compared == "only in B":
            new, fixed, same = tuple(rows_b.values()), (), ()
        else:
            new = fixed = same = ()
        out.append(CheckDiff(name, gate, state_a, state_b, compared, new, fixed, same))
    return AuditDiff(a, b, tuple(out))
