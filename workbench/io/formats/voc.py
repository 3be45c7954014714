"""Pascal VOC detection: ``Annotations/*.xml`` + ``JPEGImages/``, or FiftyOne's ``labels/*.xml`` + ``data/``.

An XML counts when its root element is ``<annotation>`` (VOC's); the layout is recognised when
most of the first XMLs are VOC's, so one malformed file doesn't turn the dataset into unlabelled
images (the importer reports it). Splits come from
``ImageSets/Main/{train,val,test}.txt`` when present (``trainval.txt`` and per-class lists
are not splits); annotations listed in none of them are loaded without a split.
"""

from __future__ import annotations

from pathlib import Path

from workbench.io.formats._probe import first, xml_outline
from workbench.io.sources import SPLIT_NAMES, SourceSpec

#: (media folder, annotations folder) pairs, VOC's own first.
PAIRS = (("JPEGImages", "Annotations"), ("data", "labels"), ("images", "annotations"), ("images", "labels"))


def is_voc_xml(path: Path) -> bool:
    """Whether ``path`` is a VOC annotation (root element ``<annotation>``)."""
    tag, _ = xml_outline(path)
    return tag == "annotation"


def split_lists(root: Path) -> list[tuple[str, Path]]:
    """``ImageSets/Main/<split>.txt`` files of ``root``, as ``(split, path)``."""
    folder = root / "ImageSets" / "Main"
    if not folder.is_dir():
        return []
    return sorted((SPLIT_NAMES[p.stem.lower()], p) for p in folder.glob("*.txt") if p.stem.lower() in SPLIT_NAMES)


def detect(root: Path) -> SourceSpec | None:
    """A media folder and a folder of VOC XMLs side by side at ``root``."""
    for data, labels in PAIRS:
        if not ((root / data).is_dir() and (root / labels).is_dir()):
            continue
        xmls = first((p for p in sorted((root / labels).rglob("*.xml")) if not p.name.startswith(".")), 5)
        n_voc = sum(is_voc_xml(p) for p in xmls)
        if n_voc and 2 * n_voc > len(xmls):  # most are VOC: a malformed one is the importer's to report
            lists = split_lists(root)
            parts = tuple((split, path) for split, path in lists) + ((None, root),)
            return SourceSpec(root, "voc", parts, locations=(("data", data), ("labels", labels)))
    return None
