"""Licences: what the dataset records about its licences, and research-only datasets named in its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.results.protocol import Finding, printable

#: Commercial use, as the licence's terms allow it, per kind of licence (see ``checks/licences.py``).
TERMS = {
    "non-commercial": "no commercial use",
    "no-derivatives": "no derivatives: training and shipping a model may count as one; check the terms",
    "share-alike": "commercial use allowed with attribution; derivatives under the same licence",
    "attribution": "commercial use allowed with attribution",
    "unrestricted": "no known restrictions",
    "unknown": "not a licence workbench recognises; read its terms",
}


@dataclass(frozen=True)
class LicenceUse:
    """One licence of the dataset's ``licenses`` block (or an id images carry that the block lacks)."""

    id: str
    name: str
    url: str
    kind: str
    n_images: int

    @property
    def terms(self) -> str:
        return TERMS.get(self.kind, TERMS["unknown"])


@dataclass(frozen=True)
class ResearchOnlyName:
    """A research or non-commercial dataset named in the dataset's metadata: which, where, and the text."""

    dataset: str
    licence: str
    where: str
    text: str


@dataclass(frozen=True)
class LicenceResult:
    """The licences block and per-image ids summarised, and research-only dataset names found.

    ``n_findings`` counts the research-only names found plus the licences that forbid commercial use
    (or derivatives) and cover at least one image: the things to clear before shipping a model.
    """

    licences: tuple[LicenceUse, ...] = ()
    #: Images with no licence id, among ``n_images``.
    n_without: int = 0
    n_images: int = 0
    research_only: tuple[ResearchOnlyName, ...] = ()
    #: Where the licences came from (``the licenses block``, ``the license field``), "" for nowhere.
    recorded_in: str = ""
    #: Sample ids of the images under a licence that forbids commercial use or derivatives.
    restricted_ids: tuple[str, ...] = ()
    #: What was left out of the licenses block, and why (entries without an id, ids given twice).
    notes: tuple[str, ...] = ()

    @property
    def unreadable(self) -> tuple[LicenceUse, ...]:
        """Licences covering images whose terms workbench can't read (read them yourself)."""
        return tuple(u for u in self.licences if u.kind == "unknown" and u.n_images)

    @property
    def restricted(self) -> tuple[LicenceUse, ...]:
        return tuple(u for u in self.licences if u.kind in ("non-commercial", "no-derivatives") and u.n_images)

    @property
    def datasets_named(self) -> dict[str, list[ResearchOnlyName]]:
        """Each research-only dataset found, with every place it is named."""
        out: dict[str, list[ResearchOnlyName]] = {}
        for r in self.research_only:
            out.setdefault(r.dataset, []).append(r)
        return out

    @property
    def n_findings(self) -> int:
        """Research-only datasets named (each once) plus restricted licences covering images."""
        return len(self.datasets_named) + len(self.restricted)

    def summary(self) -> str:
        """A headline, then a line per restricted licence and per research-only name (three at most).

        Example:
            >>> LicenceResult(n_images=4, n_without=4).summary()
            'no licence recorded for 4 images (your own or synthetic data avoids the question)'
        """
        if not self.licences and not self.research_only:
            return (f"no licence recorded for {self.n_images:,} images (your own or synthetic data avoids the "
                    "question)")
        counted = sum(u.n_images for u in self.licences)
        named = self.datasets_named
        head = (f"{len(self.licences)} licences over {counted:,} of {self.n_images:,} images" if self.licences
                else f"no licence recorded for {self.n_images:,} images")
        lines = [head + (f"; {len(self.restricted)} restrict commercial use" if self.restricted else "")
                 + (f"; research-only data named: {', '.join(named)}" if named else "")]
        lines += [f"{u.n_images:,} images under '{printable(u.name)}': {u.terms}" for u in self.restricted[:5]]
        if len(self.restricted) > 5:
            lines.append(f"... and {len(self.restricted) - 5} more restricted licences (see the report or the JSON)")
        if self.unreadable:
            n = sum(u.n_images for u in self.unreadable)
            lines.append(f"{n:,} images under licences workbench can't read, to check by hand: "
                         + ", ".join(f"'{printable(u.name)}'" for u in self.unreadable[:4])
                         + (f" and {len(self.unreadable) - 4} more" if len(self.unreadable) > 4 else ""))
        lines += [f"{name}: {hits[0].licence}; named in {', '.join(printable(h.where) for h in hits[:3])}"
                  + (f" and {len(hits) - 3} more places" if len(hits) > 3 else "")
                  + f" ('{printable(hits[0].text[:60])}')" for name, hits in list(named.items())[:3]]
        lines += [printable(n) for n in self.notes[:3]]
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each research-only dataset named, and each restricted licence, by name."""
        named = [Finding("research_only", (), (name,), None, None, "; ".join(sorted({h.where for h in hits})))
                 for name, hits in self.datasets_named.items()]
        return tuple(named + [Finding("restricted_licence", (), (u.name,), None, None, f"{u.n_images} images")
                              for u in self.restricted])

    def to_frame(self) -> Any:
        """One row per licence: ``id, name, url, kind, terms, n_images``."""
        import pandas as pd

        return pd.DataFrame([{"id": u.id, "name": u.name, "url": u.url, "kind": u.kind, "terms": u.terms,
                              "n_images": u.n_images} for u in self.licences],
                            columns=["id", "name", "url", "kind", "terms", "n_images"])

    def to_export(self) -> dict[str, Any]:
        return {"licences": {
            "recorded_in": self.recorded_in, "n_images": self.n_images, "n_without_licence": self.n_without,
            "licences": [{"id": u.id, "name": u.name, "url": u.url, "kind": u.kind, "terms": u.terms,
                          "n_images": u.n_images} for u in self.licences],
            "research_only": [{"dataset": r.dataset, "licence": r.licence, "where": r.where, "text": r.text}
                              for r in self.research_only], "notes": list(self.notes)}}
