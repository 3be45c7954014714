"""Where workbench writes: output paths checked before any work, files written atomically.

An output (``--report``, ``--json``) must be a file path whose folder exists or can be
created, must not be a folder (nor end with a path separator), and must not lie inside the
dataset root: workbench never writes into the user's dataset. Files are written to a
temporary name beside the target and renamed, so a crash never leaves half a report and an
old report is replaced whole; the file gets the permissions a plain write would give it (an
existing file keeps its mode, a new one follows the umask).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError


class OutputPathError(WorkbenchError, ValueError):
    """An output path can't be written (checked before the audit starts)."""


#: A file name to suggest when an output path names a folder.
_EXAMPLE_NAMES = {"--report": "report.html", "--json": "audit.json", "--manifest": "split.csv", "--csv": "batch.csv"}


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_output_path(path: str | os.PathLike[str], *, what: str, dataset_root: Path | None = None) -> Path:
    """Resolve ``path`` and make sure it can be written; raise :class:`OutputPathError` if not.

    Creates nothing: the nearest existing ancestor must be a writable folder.

    Example:
        >>> check_output_path("build/audit.json", what="--json")  # doctest: +SKIP
        PosixPath('/…/build/audit.json')
    """
    target = Path(path).expanduser().absolute()
    example = target / _EXAMPLE_NAMES.get(what, "out")
    if target.is_dir():
        raise OutputPathError(f"{what} {target} is a folder; give a file path such as {example}")
    if str(path).endswith((os.sep, "/")) or (os.altsep and str(path).endswith(os.altsep)):
        raise OutputPathError(f"{what} {path} ends with a path separator, so it names a folder (which doesn't "
                              f"exist); name a file, such as {example}")
    if dataset_root is not None and _inside(target.resolve(), dataset_root.resolve()):
        raise OutputPathError(f"{what} {target} is inside the dataset folder {dataset_root}; workbench never "
                              "writes there: choose a path outside it")
    _writable_ancestor(target, target.parent, what)
    return target


def _writable_ancestor(target: Path, start: Path, what: str) -> None:
    """The nearest existing folder at or above ``start`` must be a writable folder."""
    ancestor = start
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{what} {target}: {ancestor} is a file, not a folder; choose another path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {target}: can't write in {ancestor} (permission denied); choose another path")


def check_output_folder(path: str | os.PathLike[str], *, what: str, dataset_root: Path | None = None) -> Path:
    """Like :func:`check_output_path` for a folder to create or fill: not a file, outside the dataset,
    and the folder (or its nearest existing ancestor) writable.

    Example:
        >>> check_output_folder("build/audit-v2", what="--out")  # doctest: +SKIP
        PosixPath('/…/build/audit-v2')
    """
    target = Path(path).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{what} {target} is a file; give a folder (it is created if missing)")
    if dataset_root is not None and _inside(target.resolve(), dataset_root.resolve()):
        raise OutputPathError(f"{what} {target} is inside the dataset folder {dataset_root}; workbench never "
                              "writes there: choose a folder outside it")
    _writable_ancestor(target, target, what)
    return target


def refuse_same_file(outputs: dict[str, Path]) -> None:
    """Two output options naming one file would overwrite each other: refuse before any work.

    Example:
        >>> refuse_same_file({"--json": Path("a.json"), "--csv": Path("b.csv")})
    """
    seen: dict[Path, str] = {}
    for what, target in outputs.items():
        key = Path(target).expanduser().absolute()
        if key in seen:
            raise OutputPathError(f"{seen[key]} and {what} both name {target}; give each its own file")
        seen[key] = what


def refuse_inside_dataset(outputs: dict[str, Path], dataset: Any) -> None:
    """Refuse outputs inside the folders a FiftyOne dataset was loaded from (``info["workbench"]["roots"]``):
    for a dataset given by name those are known only once it is loaded, still before anything is written."""
    roots = dataset.info.get("workbench", {}).get("roots", []) if hasattr(dataset, "info") else []
    for what, target in outputs.items():
        for root in roots:
            if _inside(Path(target).resolve(), Path(root).resolve()):
                raise OutputPathError(f"{what} {target} is inside the dataset folder {root} (dataset "
                                      f"{dataset.name!r} was loaded from it); workbench never writes there: choose "
                                      "a path outside it")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and a rename.

    Example:
        >>> write_text_atomic("build/audit.json", "{}")  # doctest: +SKIP
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _mode_for(target))  # mkstemp's 0600 would make a report unreadable to others
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: renamed over ``path`` when the block ends, removed if it
    raises, so a reader never sees half a file and an old file stays whole until the new one is complete.

    Example:
        >>> with replaced_atomically("build/pairs.csv") as tmp:  # doctest: +SKIP
        ...     tmp.write_text("a,b\\n")
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_npy_atomic(path: str | os.PathLike[str], array: Any) -> Path:
    """``numpy.save`` through :func:`replaced_atomically` (the name is kept as given: no ``.npy`` is added).

    Example:
        >>> save_npy_atomic("build/knn-indices.npy", np.zeros((2, 3)))  # doctest: +SKIP
    """
    import numpy as np

    with replaced_atomically(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)
    return Path(path)


def _mode_for(target: Path) -> int:
    """The permission bits a plain ``open(target, "w")`` would leave: the existing file's, else 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; restored at once
        os.umask(umask)
        return 0o666 & ~umask
