"""Results of the file check: files that can't be used."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from workbench.results.protocol import Finding, printable

FileProblemKind = Literal["missing", "unreadable", "empty", "annotation", "outside_root"]


@dataclass(frozen=True)
class FileProblem:
    """A sample whose image file can't be used (missing, empty or not decodable)."""

    sample_id: str
    filepath: str
    kind: FileProblemKind
    message: str
    #: The sample's given label (image-level), for the per-finding frame; ``None`` when it has none.
    label: str | None = None


@dataclass(frozen=True)
class IntegrityResult:
    """Files that can't be used: missing, empty, not decodable, outside the dataset root; broken annotations."""

    problems: tuple[FileProblem, ...] = ()

    #: File problems named one by one in :meth:`summary`; the rest are counted.
    LISTED = 5

    @property
    def n_findings(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        """How many files (or annotations) can't be used, then the first few, one per line.

        Example:
            >>> IntegrityResult((FileProblem("s1", "/d/a.png", "empty", "0 bytes"),)).summary().splitlines()
            ["1 file or annotation can't be used", '- empty: /d/a.png: 0 bytes']
        """
        n = len(self.problems)
        lines = [f"{n} file or annotation can't be used" if n == 1 else
                 f"{n} files or annotations can't be used" if n else "none: every file was read"]
        lines += [f"- {p.kind}: {printable(p.filepath or '(annotations)')}: {printable(p.message)}"
                  for p in self.problems[:self.LISTED]]
        if len(self.problems) > self.LISTED:
            lines.append(f"... and {len(self.problems) - self.LISTED} more (see --json or --report)")
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each file problem, by file and kind."""
        return tuple(Finding(p.kind, (p.filepath,), (), p.label, None, p.message) for p in self.problems)

    def to_frame(self):
        """One row per problem: ``sample_id, filepath, label, kind, message, is_file_problem_issue``."""
        import pandas as pd

        return pd.DataFrame([{**dataclasses.asdict(p), "is_file_problem_issue": True} for p in self.problems],
                            columns=["sample_id", "filepath", "label", "kind", "message", "is_file_problem_issue"])

    def to_export(self) -> dict[str, Any]:
        return {"file_problems": [{"path": p.filepath, "kind": p.kind, "message": p.message} for p in self.problems]}


