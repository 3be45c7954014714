"""Bare folders of images: class folders (``imagefolder``) or unlabelled images (``imagedir``)."""

from __future__ import annotations

import logging
from pathlib import Path

from workbench.io.formats._probe import has_image
from workbench.io.sources import SPLIT_NAMES, SourceSpec

log = logging.getLogger(__name__)

#: Folder names that say "images", not a class: a tree whose only classes are these holds no labels.
GENERIC_IMAGE_FOLDERS = frozenset({"images", "image", "imgs", "img", "data", "jpegimages", "pictures", "photos"})


def has_any_image(folder: Path) -> bool:
    """Whether any image lies anywhere under ``folder``."""
    return has_image(folder)


def _class_dirs(root: Path) -> list[Path]:
    return [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
            and has_image(d, recursive=False)]


def detect_class_tree(root: Path) -> SourceSpec | None:
    """``root/<class>/<image>``: folders of images named after their class, no images beside them.

    A tree whose only folders are called ``images``, ``data`` and the like is not a class tree
    (it is read as unlabelled images); neither is one with images at its top level.
    """
    if not root.is_dir() or has_image(root, recursive=False):
        return None
    classes = _class_dirs(root)
    if not classes or all(d.name.lower() in GENERIC_IMAGE_FOLDERS for d in classes):
        return None
    return SourceSpec(root, "imagefolder", ((None, root),))


def force_class_tree(root: Path) -> SourceSpec | None:
    """``--format imagefolder``: any folder with sub-folders of images is taken as classes."""
    if any(d.is_dir() and d.name.lower() in SPLIT_NAMES for d in root.iterdir()):
        return None  # split folders: read per split
    if _class_dirs(root):
        if has_image(root, recursive=False):
            log.warning("%s: images at the top level belong to no class folder and are not loaded", root)
        return SourceSpec(root, "imagefolder", ((None, root),))
    return None


def detect_flat(root: Path) -> SourceSpec | None:
    """Unlabelled images: images at the top level of ``root``, or only in folders like ``images/``.

    Loaded with FiftyOne's ``ImageDirectory`` (recursive); the audit then runs the checks that
    need no labels.
    """
    if not root.is_dir():
        return None
    if has_image(root, recursive=False):
        if _class_dirs(root):
            log.warning("%s has images at its top level and in sub-folders: read as unlabelled images; pass "
                        "--format imagefolder if the sub-folders are classes", root)
        return SourceSpec(root, "imagedir", ((None, root),))
    classes = _class_dirs(root)
    if classes and all(d.name.lower() in GENERIC_IMAGE_FOLDERS for d in classes):
        return SourceSpec(root, "imagedir", ((None, root),))
    return None


def force_flat(root: Path) -> SourceSpec | None:
    """``--format imagedir``: every image under ``root``, without labels."""
    return SourceSpec(root, "imagedir", ((None, root),)) if has_image(root) else None
