"""Cheap looks inside files for the detectors: never raise, never read more than needed."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from workbench.io.sources import is_image

#: JSON manifests larger than this are only sniffed, never parsed, during detection.
MAX_PARSED_JSON = 256 << 20


def head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of ``path`` (empty when it can't be read)."""
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def json_object(path: Path) -> dict | None:
    """``path`` parsed as a JSON object, or None (not a file, too large, not JSON, not an object)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_PARSED_JSON:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def xml_outline(path: Path, *, max_children: int = 50) -> tuple[str | None, set[str]]:
    """The root tag of an XML file and the tags of its first children, read incrementally.

    Returns ``(None, set())`` for a file that is not well-formed XML up to that point.
    """
    root_tag, children, depth = None, set(), 0
    try:
        for event, elem in ET.iterparse(str(path), events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1:
                    root_tag = elem.tag
                elif depth == 2:
                    children.add(elem.tag)
                    if len(children) >= max_children:
                        break
            else:
                depth -= 1
                if depth == 1:
                    elem.clear()
                    if "image" in children or "track" in children:
                        break
    except (ET.ParseError, OSError, UnicodeDecodeError):
        return (root_tag, children) if root_tag and children else (None, set())
    return root_tag, children


def iter_images(folder: Path, *, recursive: bool = True) -> Iterator[Path]:
    """Image files under ``folder`` (hidden files and folders skipped), lazily, in sorted order."""
    if not folder.is_dir():
        return
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(names):
            path = Path(current) / name
            if is_image(path):
                yield path


def has_image(folder: Path, *, recursive: bool = True) -> bool:
    """Whether ``folder`` holds at least one image file (stops at the first)."""
    return next(iter_images(folder, recursive=recursive), None) is not None


def stems(folder: Path, paths: list[Path]) -> set[str]:
    """Paths relative to ``folder`` without their suffixes: how FiftyOne's importers pair media and labels."""
    return {str(p.relative_to(folder).with_suffix("")) for p in paths}


def first(iterator: Iterator[Path], n: int) -> list[Path]:
    """At most ``n`` items of ``iterator``."""
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out
