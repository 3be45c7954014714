"""Dataset layouts workbench reads, each recognised by what its files hold.

Every layout is one :class:`~workbench.io.formats.registry.FormatSpec` in the format registry
(:mod:`workbench.io.formats.registry`): its ``--format`` name, a line saying what ``SRC`` is, and a
detector that looks inside the files and returns a :class:`SourceSpec` or ``None``.
:func:`detect_layout` asks the detectors in :func:`~workbench.io.formats.registry.layouts` order
(layouts with a manifest first, bare folders of images last), then looks into split folders
(``train/``, ``val/``, ``test/``); :func:`force_layout` applies one layout and says what is missing
when it doesn't fit. Nothing here imports FiftyOne or pyarrow.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from workbench.errors import SourceError
from workbench.io.formats.registry import FormatSpec, get_format, layouts
from workbench.io.sources import SPLIT_NAMES, SourceSpec


def supported_layouts() -> str:
    """One line per registered layout: the ``--format`` value that forces it and what ``SRC`` is."""
    return "\n".join(f"  --format {layout.name:<24} {layout.what}" for layout in layouts())


def detect_layout(root: Path) -> SourceSpec:
    """Recognise the layout of ``root`` (a folder or an annotation file) by content.

    Raises:
        SourceError: nothing recognisable; the message lists the supported layouts.

    Example:
        >>> detect_layout(Path("data/demo/fashion-mnist")).format  # doctest: +SKIP
        'imagefolder'
    """
    if root.is_file():
        file_layouts = [layout for layout in layouts() if layout.detect_file]
        for layout in file_layouts:
            spec = layout.call("detect_file", root)
            if spec is not None:
                return spec
        kinds = [str(layout.file_what) for layout in file_layouts]
        raise SourceError(f"{root} is not an annotation file workbench reads ({_either(kinds)}); pass the dataset "
                          "folder instead, or one of:\n" + supported_layouts())
    spec = _detect_folder(root)
    if spec is not None:
        return spec
    from workbench.io.formats import coco  # the last resort below is COCO's own

    spec = coco.force(root, quiet=True)  # a COCO JSON whose images weren't found: its images are reported missing
    if spec is not None:
        return spec
    if not any(root.iterdir()):
        raise SourceError(f"{root} is empty; pass the folder that holds the dataset")
    notes = [note for layout in layouts() for note in layout.call("diagnose", root) or ()] + _datasets_below(root)
    seen = "".join(f"\n  - {note}" for note in notes)
    raise SourceError(f"can't tell what {root} holds: none of the layouts workbench reads fits."
                      + (f" What was seen:{seen}\n" if notes else " ")
                      + f"Supported layouts (force one with --format):\n{supported_layouts()}")


def _either(kinds: list[str]) -> str:
    """``a, b or c``."""
    return " or ".join(filter(None, (", ".join(kinds[:-1]), kinds[-1]))) if kinds else "none registered"


def _detect_folder(root: Path) -> SourceSpec | None:
    """The first layout whose detector recognises ``root``, then split folders; None if none does."""
    split_dirs = _split_dirs(root)
    for layout in layouts():
        if split_dirs and layout.catch_all:
            break  # a folder of split folders: read each split below
        spec = layout.call("detect", root)
        if spec is not None:
            return spec
    return _detect_per_split(root, split_dirs) if split_dirs else None


def _datasets_below(root: Path, *, limit: int = 20) -> list[str]:
    """Sub-folders of ``root`` that hold a recognisable dataset (the user may have meant one of them)."""
    found = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))[:limit]:
        spec = _detect_folder(folder)
        if spec is not None:
            found.append(f"{folder.name}/ looks like a dataset ({spec.format}): pass {folder} as SRC")
    return found


def force_layout(root: Path, name: str) -> SourceSpec:
    """Read ``root`` as layout ``name`` (``--format``), or say why it isn't one.

    Raises:
        SourceError: ``root`` is not in that layout; the message says what the layout needs.
    """
    layout = get_format(name)
    if root.is_file():
        spec = layout.call("force_file", root)
        if spec is None:
            raise SourceError(f"{root} is not {layout.what}; pass the dataset folder, or --format auto")
        return spec
    spec = layout.call("detect", root) or layout.call("force", root)
    if spec is None and layout.per_split:
        spec = _detect_per_split(root, _split_dirs(root), only=layout)
    if spec is None:
        raise SourceError(f"--format {name}: {root} is not {layout.what}. Use --format auto to recognise the "
                          f"layout, or one of:\n{supported_layouts()}")
    return spec


def _split_dirs(root: Path) -> list[tuple[str, Path]]:
    return sorted((SPLIT_NAMES[d.name.lower()], d) for d in root.iterdir()
                  if d.is_dir() and d.name.lower() in SPLIT_NAMES)


def _detect_per_split(root: Path, split_dirs: list[tuple[str, Path]], *, only: FormatSpec | None = None
                      ) -> SourceSpec | None:
    """Split folders that each hold the same layout, read as one source with a split per folder.

    A split folder without any image is ignored; one that holds images in another layout (or in
    none) makes the whole folder unrecognised rather than half read.
    """
    from workbench.io.formats.images import has_any_image

    found: list[tuple[str, SourceSpec]] = []
    for split, folder in split_dirs:
        spec = None
        for layout in (only,) if only else layouts():
            if layout.per_split:
                spec = layout.call("detect", folder) or (layout.call("force", folder) if only else None)
            if spec is not None:
                found.append((split, spec))
                break
        if spec is None and has_any_image(folder):
            return None
    if not found or len({(s.format, s.locations) for _, s in found}) != 1:
        return None
    parts = tuple((split, path) for split, spec in found for _, path in spec.parts)
    return replace(found[0][1], root=root, parts=parts)
