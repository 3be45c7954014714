"""Licences: the dataset's ``licenses`` block and per-image licence ids, and research-only datasets it names.

``../shared/DATA_GUIDE.md``: ImageNet, CelebA, the face sets (CASIA-WebFace, VGGFace2, MS-Celeb-1M,
Glint360K, WebFace260M), SA-1B, LFW, MOT, Kinetics, ADE20K and Cityscapes are research or
non-commercial only: training on them and shipping the weights commercially breaks most of their
terms. COCO (CC-BY-4.0, per image as recorded) and Open Images (CC-BY-2.0) are usable with
attribution. Where a dataset records licences (COCO's ``licenses`` block and each image's
``license`` id) they are summarised; the names are looked for in the dataset's name, source
folders, info (COCO ``info``: description, url, contributor), licence names, the text values of
its fields and the folders its images are in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.checks.registry import (CheckInputs, GateSpec, PanelSpec, SampleTag, SavedView, Writes,
                                       register_check)
from workbench.results.licences import LicenceResult, LicenceUse, ResearchOnlyName

if TYPE_CHECKING:
    from workbench.config import AuditConfig

#: Research or non-commercial datasets (DATA_GUIDE.md): (name, pattern, what their terms say).
RESEARCH_ONLY: tuple[tuple[str, str, str], ...] = (
    ("ImageNet", r"image-?net(?:-?v2|-?(?:1|21|22)k)?|ilsvrc(?:-?\d{2,4})?",
     "research and non-commercial use only (ImageNet terms of access)"),
    ("CelebA", r"celeb-?a(?:-?mask)?(?:-?hq)?", "CC BY-NC-SA 4.0: non-commercial research only"),
    ("CASIA-WebFace", r"casia-?webface", "face set: research only"),
    ("VGGFace2", r"vgg-?face2?", "face set: research only"),
    ("MS-Celeb-1M", r"ms-?celeb(?:-?1m)?|ms1m(?:-?v\d)?|faces-?emore", "face set: withdrawn, research only"),
    ("Glint360K", r"glint-?360k", "face set: research only"),
    ("WebFace260M", r"webface-?260m", "face set: research only"),
    ("SA-1B", r"sa-?1b", "SA-1B licence: research only"),
    ("LFW", r"lfw|labeled faces in the wild", "face set: research only"),
    ("MOT", r"mot(?:1[5-9]|20)|mot-?challenge", "MOTChallenge: non-commercial (CC BY-NC-SA)"),
    ("Kinetics", r"kinetics-?(?:400|600|700)|kinetics dataset", "YouTube videos: research only"),
    ("ADE20K", r"ade-?20k|adechallengedata\d*", "research and non-commercial use only"),
    ("Cityscapes", r"cityscapes|leftimg8bit|gtfine", "non-commercial purposes only"),
    ("LAION", r"laion(?:-?\d+[bm])?", "metadata CC-BY-4.0, but the images belong to third parties (under litigation)"),
)
#: Each pattern whole, not inside another word; "-" in a pattern also matches "_", " " or nothing.
_PATTERNS = tuple((name, re.compile(rf"(?<![a-z0-9])(?:{pattern.replace('-?', '[-_ ]?')})(?![a-z0-9])",
                                    re.IGNORECASE), terms)
                  for name, pattern, terms in RESEARCH_ONLY)

#: Distinct text values read per field, and image folders read, when looking for names.
MAX_VALUES = 500


def licence_kind(name: str, url: str = "") -> str:
    """What a licence allows, from its name or URL: ``non-commercial``, ``no-derivatives``, ``share-alike``,
    ``attribution``, ``unrestricted`` or ``unknown``.

    Example:
        >>> licence_kind("Attribution-NonCommercial-ShareAlike License", "http://creativecommons.org/licenses/by-nc-sa/2.0/")
        'non-commercial'
        >>> licence_kind("No known copyright restrictions"), licence_kind("", "https://creativecommons.org/licenses/by/4.0/")
        ('unrestricted', 'attribution')
    """
    text = f"{name} {url}".lower().replace("_", " ")
    if re.search(r"non[- ]?commercial|by-nc|\bnc\b|not for commercial|no commercial|(?:research|academic|"
                 r"educational|evaluation)(?: purposes?| use)? only|for (?:research|academic) (?:purposes|use) only",
                 text):
        return "non-commercial"
    if re.search(r"no[- ]?deriv(?:s|atives?)?\b|by-nd|\bnd\b", text):
        return "no-derivatives"
    if re.search(r"share[- ]?alike|by-sa", text):
        return "share-alike"
    if re.search(r"no known copyright|public ?domain|publicdomain|\bcc0\b|government work", text):
        return "unrestricted"
    if re.search(r"attribution|/by/|cc-?by\b|cc by\b|\bmit\b|apache|\bbsd\b", text):
        return "attribution"
    return "unknown"


def find_research_only(texts: Iterable[tuple[str, str]]) -> tuple[ResearchOnlyName, ...]:
    """Research-only dataset names in ``(where, text)`` pairs, each dataset once per place.

    Example:
        >>> [r.dataset for r in find_research_only([("source folder", "/data/ILSVRC2012/train")])]
        ['ImageNet']
        >>> find_research_only([("field source", "imagenetic"), ("name", "my-lfwx")])
        ()
    """
    found: dict[tuple[str, str], ResearchOnlyName] = {}
    for where, text in texts:
        for name, pattern, terms in _PATTERNS:
            if (name, where) not in found and pattern.search(text):
                found[name, where] = ResearchOnlyName(name, terms, where, text)
    return tuple(found.values())


def summarise_licences(block: Sequence[Mapping[str, Any]], per_image: Sequence[object], sample_ids: Sequence[str],
                       notes: list[str] | None = None) -> tuple[tuple[LicenceUse, ...], int, set[str]]:
    """The licences of ``block`` (``[{id, name, url}]``) with how many images carry each id, ids images carry
    that the block lacks, the number of images without an id, and the ids of images under a restricted licence.

    Example:
        >>> uses, without, restricted = summarise_licences(
        ...     [{"id": 1, "name": "Attribution-NonCommercial License"}, {"id": 4, "name": "Attribution License"}],
        ...     [1, 4, 4, None, 9], ["a", "b", "c", "d", "e"])
        >>> [(u.id, u.kind, u.n_images) for u in uses], without, sorted(restricted)
        ([('1', 'non-commercial', 1), ('4', 'attribution', 2), ('9', 'unknown', 1)], 1, ['a'])
    """
    if notes is None:
        notes = []

    def key(value: object) -> str | None:
        if value is None or value == "" or isinstance(value, bool):
            return None
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else str(value)
        return str(value)

    ids = [key(v) for v in per_image]
    counts = Counter(i for i in ids if i is not None)
    uses, known = [], set()
    for n, entry in enumerate(block):
        lid = key(entry.get("id"))
        if lid is None:
            notes.append(f"licenses entry {n + 1} ({str(entry.get('name') or '')[:40]!r}) has no id: left out")
            continue
        if lid in known:
            notes.append(f"licence id {lid} is given twice; the first entry is used, the other "
                         f"({str(entry.get('name') or '')[:40]!r}) left out")
            continue
        known.add(lid)
        name, url = str(entry.get("name") or ""), str(entry.get("url") or "")
        uses.append(LicenceUse(lid, name, url, licence_kind(name, url), counts.get(lid, 0)))
    uses += [LicenceUse(lid, f"id {lid} (not in the licenses block)", "", "unknown", n)
             for lid, n in sorted(counts.items()) if lid not in known]
    restricted_ids = {u.id for u in uses if u.kind in ("non-commercial", "no-derivatives")}
    restricted = {sid for sid, lid in zip(sample_ids, ids) if lid in restricted_ids}
    return tuple(uses), sum(i is None for i in ids), restricted


def _texts(inputs: CheckInputs) -> list[tuple[str, str]]:
    """Where names are looked for, as ``(where, text)``."""
    import os

    info = inputs.dataset_info
    own = info.get("workbench", {}) if isinstance(info.get("workbench"), dict) else {}
    out = [("dataset name", inputs.dataset_name)]
    out += [("source folder", str(r)) for r in own.get("roots", []) or [own.get("source", "")] if r]
    for key, value in info.items():
        if key in ("workbench", "classes", "default_classes", "mask_targets", "categories", "licenses"):
            continue
        for sub, text in (value.items() if isinstance(value, dict) else [("", value)]):
            if isinstance(text, str) and text:
                out.append((f"dataset info {key}{'.' + sub if sub else ''}", text))
    for entry in info.get("licenses", []) or []:
        if isinstance(entry, dict):
            out.append((f"licence {entry.get('id')}", f"{entry.get('name', '')} {entry.get('url', '')}"))
    for name, values in inputs.metadata.items():
        distinct = list(dict.fromkeys(v for v in values if isinstance(v, str) and v))[:MAX_VALUES]
        out += [(f"field {name}", v) for v in distinct]
    folders = list(dict.fromkeys(os.path.dirname(p) for p in inputs.columns.filepaths))[:MAX_VALUES]
    out += [("image folder", f) for f in folders]
    return out


TAG = "wb:restricted_licence"


@register_check(
    name="licences", title="licences", result=LicenceResult, count_key="licence_issues",
    writes=Writes(tags=(SampleTag("restricted_licence", TAG, lambda r: set(r.restricted_ids)),),
                  views=(SavedView("restricted_licence", "wb-restricted-licence", TAG),)),
    gate=GateSpec("licences", "research-only datasets named or restricted licences", lambda r: r.n_findings,
                  total=lambda r, audit: max(1, len(r.licences) + len(r.datasets_named))),
    section="sections/licences.html.j2", panel=PanelSpec("Licences"), absent_export={"licences": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> LicenceResult:
    """The ``licenses`` block of the dataset's info, the ``license`` field, and the names in its metadata."""
    raw = inputs.dataset_info.get("licenses", []) or []
    notes = [] if isinstance(raw, list) else [f"the licenses block is a {type(raw).__name__}, not a list: left out"]
    block = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    per_image = inputs.metadata.get("license", (None,) * len(inputs.columns.ids))
    uses, without, restricted = summarise_licences(block, per_image, inputs.columns.ids, notes)
    recorded = [w for w, present in (("the licenses block", bool(block)),
                                     ("the license field", any(v is not None for v in per_image))) if present]
    return LicenceResult(uses, without, len(inputs.columns.ids), find_research_only(_texts(inputs)),
                         " and ".join(recorded), tuple(sorted(restricted)), tuple(notes))
