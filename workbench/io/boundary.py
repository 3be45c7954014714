"""The dataset root as a boundary: media that resolve outside it are never opened.

A COCO ``file_name``, a FiftyOne export's ``filepath`` or a symlink can point anywhere
(``../../etc/x.png``, ``/abs/path.png``). For sources workbench loaded from a folder or an
annotation file, every referenced path is resolved (following symlinks) and one that lands
outside the dataset's roots is reported as a file problem of kind ``outside_root`` instead
of being read, hashed, embedded or shown. ``allow_outside_root`` opts out; datasets that
were not loaded by workbench (audited by name) keep their own absolute paths.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

OUTSIDE_ROOT = "outside_root"


def dataset_roots(info: dict) -> tuple[str, ...]:
    """The real paths of the folders a workbench-loaded dataset may read (empty: no boundary).

    ``info`` is ``dataset.info["workbench"]``; :func:`workbench.io.loading.load` records
    ``roots`` (the source folder, plus an explicit images folder) when it loads a source.
    """
    roots = info.get("roots") or ([info["source"]] if info.get("source") else [])
    return tuple(os.path.realpath(r) for r in roots if r)


def is_within(path: str, roots: Iterable[str]) -> bool:
    """Whether ``path``, with symlinks resolved, lies inside one of the (real) ``roots``.

    Example:
        >>> is_within("/data/ds/a/../b.png", ["/data/ds"]), is_within("/data/ds/../x.png", ["/data/ds"])
        (True, False)
    """
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def outside_root(filepaths: Sequence[str], roots: Sequence[str]) -> list[bool]:
    """Per path, whether it must not be opened (always ``False`` when there are no roots)."""
    if not roots:
        return [False] * len(filepaths)
    return [not is_within(p, roots) for p in filepaths]


def blocked_paths(result) -> frozenset[str]:
    """Paths an :class:`~workbench.results.AuditResult` reports as outside the root: renderers never open them."""
    problems = result.integrity.problems if result.integrity is not None else ()
    return frozenset(p.filepath for p in problems if p.kind == OUTSIDE_ROOT)
