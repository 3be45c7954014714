"""CVAT for images: ``annotations.xml`` + ``images/`` (CVAT's export) or ``labels.xml`` + ``data/`` (FiftyOne's).

An XML counts when its root is ``<annotations>`` with ``<image>`` elements. CVAT for video
(``<track>`` elements) is refused by name rather than read as a folder of unlabelled frames.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SourceError
from workbench.io.formats._probe import has_image, xml_outline
from workbench.io.sources import SourceSpec

LABEL_FILES = ("annotations.xml", "labels.xml")
MEDIA_FOLDERS = ("images", "data")


def is_cvat_image_xml(path: Path) -> bool:
    """Whether ``path`` is a CVAT-for-images annotation file."""
    tag, children = xml_outline(path)
    return tag == "annotations" and "image" in children


def _spec(root: Path, xml: Path) -> SourceSpec | None:
    media = next((m for m in MEDIA_FOLDERS if (root / m).is_dir()), None)
    if media is None and has_image(root, recursive=False):
        media = "."
    if media is None:
        return None
    return SourceSpec(root, "cvat", ((None, root),), locations=(("data", media), ("labels", xml.name)))


def detect(root: Path) -> SourceSpec | None:
    """A CVAT image annotation file with its media folder at ``root``.

    Raises:
        SourceError: the file is a CVAT *video* export, which workbench doesn't read (its frames
            would otherwise be audited as unlabelled images).
    """
    for name in LABEL_FILES:
        xml = root / name
        if not xml.is_file():
            continue
        tag, children = xml_outline(xml)
        if tag == "annotations" and "image" in children:
            return _spec(root, xml)
        if tag == "annotations" and "track" in children:
            raise SourceError(f"{xml} is a CVAT for video export (<track> elements), which workbench doesn't read; "
                              "export the task as 'CVAT for images 1.1' and audit that folder")
    return None


def detect_file(path: Path) -> SourceSpec | None:
    """A CVAT ``annotations.xml`` named directly (its media folder beside it)."""
    if path.suffix.lower() == ".xml" and is_cvat_image_xml(path):
        return _spec(path.parent, path)
    return None
