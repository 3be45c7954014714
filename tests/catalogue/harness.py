"""The bad-input catalogue's harness: run the CLI in-process and prove no user file changed.

Every case in ``tests/catalogue`` states its expected outcome (exit code and a phrase of the
message) and runs inside :func:`untouched`, which hashes the dataset tree before and after.
The CLI runs in this process (``workbench.cli.main``), so 60+ cases pay the imports once.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests.conftest import tree_digest


@dataclass(frozen=True)
class Outcome:
    """What one CLI run returned and printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def run_cli(*argv: str | Path) -> Outcome:
    """``workbench ARGV`` in this process; argparse's own exits are returned as codes too."""
    from workbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return Outcome(int(code), out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Case:
    """One catalogue case: how to build its input, and the exit code and phrases of the output expected."""

    build: Callable[[Path], Path]
    code: int
    phrases: tuple[str, ...]  # each in the CLI's stdout + stderr
    args: tuple[str, ...] = ()


@contextlib.contextmanager
def untouched(*roots: Path) -> Iterator[None]:
    """Assert that no file under ``roots`` was created, changed or removed by the block."""
    before = [tree_digest(r) if r.exists() else {} for r in roots]
    yield
    after = [tree_digest(r) if r.exists() else {} for r in roots]
    for root, b, a in zip(roots, before, after):
        assert a == b, f"files under {root} changed: {sorted(set(a.items()) ^ set(b.items()))[:5]}"
