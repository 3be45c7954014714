"""The dataset's content fingerprint: what the audit looked at, as hashes that change exactly when it does.

Three parts, each a SHA-256 over sorted lines, so that file order and the folder the dataset sits
in don't matter:

- ``files``: each image's path relative to the dataset root and its content hash;
- ``labels``: each image's path and its labels (boxes too, rounded to 1e-4, for objects);
- ``splits``: each image's path and its split.

``content`` hashes the three. Two audits with the same ``content`` looked at the same data, so any
difference in their findings comes from workbench's settings or version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any


def relative_path(path: str, root: str) -> str:
    """``path`` relative to ``root`` with ``/`` separators when it lies inside it, else unchanged.

    Example:
        >>> relative_path("/data/cats/a.png", "/data"), relative_path("/elsewhere/b.png", "/data")
        ('cats/a.png', '/elsewhere/b.png')
    """
    if root and os.path.isabs(path):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path


def dataset_root(source: str, filepaths: Sequence[str]) -> str:
    """The folder paths are made relative to: the recorded source folder (its parent for an
    annotation file), else the files' common folder."""
    if source and os.path.isabs(source):
        return source if not os.path.splitext(source)[1] else os.path.dirname(source)
    absolute = [p for p in filepaths if os.path.isabs(p)]
    if not absolute:
        return ""
    common = os.path.commonpath(absolute)
    return common if len(absolute) > 1 else os.path.dirname(common)


def _digest(lines: list[str]) -> str:
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def dataset_fingerprint(filepaths: Sequence[str], hashes: Sequence[str | None],
                        label_lists: Sequence[Sequence[str]], splits: Sequence[str | None], *, root: str,
                        boxes: Sequence[Sequence[Any]] = ()) -> dict[str, str]:
    """``{"content", "files", "labels", "splits"}`` hashes (hex) of the audited data.

    Example:
        >>> a = dataset_fingerprint(["/d/x.png", "/d/y.png"], ["h1", "h2"], [["cat"], ["dog"]], ["train", None],
        ...                         root="/d")
        >>> b = dataset_fingerprint(["/e/y.png", "/e/x.png"], ["h2", "h1"], [["dog"], ["cat"]], [None, "train"],
        ...                         root="/e")
        >>> a == b, a["files"] == dataset_fingerprint(["/d/x.png", "/d/y.png"], ["h1", "h2"], [["cat"], ["cat"]],
        ...                                             ["train", None], root="/d")["files"]
        (True, True)
    """
    rel = [relative_path(p, root) for p in filepaths]
    files = _digest([f"{r}\t{h or ''}" for r, h in zip(rel, hashes)])
    label_lines = []
    for n, r in enumerate(rel):
        labs = list(label_lists[n]) if n < len(label_lists) else []
        bx = list(boxes[n]) if n < len(boxes) and boxes[n] else []
        objs = sorted(f"{lab}@{','.join(f'{v:.4f}' for v in b) if b else ''}" for lab, b in
                      zip(labs, bx + [None] * (len(labs) - len(bx))))
        label_lines.append(f"{r}\t{'|'.join(objs)}")
    labels = _digest(label_lines)
    split = _digest([f"{r}\t{s or ''}" for r, s in zip(rel, splits)])
    content = hashlib.sha256(f"{files}{labels}{split}".encode()).hexdigest()
    return {"content": content, "files": files, "labels": labels, "splits": split}
