"""Results of the duplicates and leakage checks: clusters of copies, and copies across splits."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal
from workbench.results.protocol import Finding

DuplicateKind = Literal["exact", "near"]
#: Boxes kept per copy in ``DuplicateCluster.objects`` / ``LeakPair.objects``.
MAX_COPY_OBJECTS = 20


@dataclass(frozen=True)
class NearCalibration:
    """How the near-duplicate rule was set, and what it is expected to find (see ``checks/calibration``).

    ``method``: ``calibrated`` (from copies of this dataset's own images), ``user`` (``--near-threshold``,
    judged on the same copies), or ``fixed`` (calibration off or impossible: the model's default).
    ``recall``: per transform, the share of known copies the rule links. ``false_pair_rate``: the share
    of images whose nearest different-file neighbour the rule links; an upper bound on false pairs,
    since the dataset's own real copies are counted in it.
    """

    method: str
    strict: float
    loose: float
    thumb: float
    phash_bits: int
    #: Correlation of a pair's pixels, registered by matched local features (images under 64 px: shifted
    #: into line at native size), that confirms it (``None``: that tier off).
    pixels: float | None = None
    n_originals: int = 0
    n_copies: int = 0
    n_negatives: int = 0
    recall: tuple[tuple[str, float], ...] = ()
    false_pair_rate: float | None = None
    note: str = ""
    #: Edge correlation of two smooth images aligned directly (too few features to register them) that
    #: confirms a pair (``None``: that tier off).
    dense: float | None = None

    @property
    def min_recall(self) -> float | None:
        return min((r for _, r in self.recall), default=None)

    def rule(self) -> Any:
        """The :class:`~workbench.checks.near_rule.NearRule` these thresholds make."""
        from workbench.checks.near_rule import NearRule

        return NearRule(self.strict, self.loose, self.thumb, self.phash_bits, self.pixels, self.dense)


@dataclass(frozen=True)
class DuplicateLink:
    """One linking pair inside a cluster and the evidence for it (see ``checks/near_rule``)."""

    sample_id_a: str
    sample_id_b: str
    distance: float
    evidence: str


@dataclass(frozen=True)
class CopyObject:
    """One annotated object of a copy whose boxes disagree with another copy's: what the report and the
    panels draw over that copy's thumbnail (relative ``(x, y, w, h)``, FiftyOne's)."""

    sample_id: str
    label: str | None
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of samples that show the same picture.

    ``kind`` is ``exact`` when every member has the same file content hash, else ``near``.
    ``max_distance`` is the largest cosine distance of a linking pair (0 for exact).
    """

    cluster_id: int
    kind: DuplicateKind
    sample_ids: tuple[str, ...]
    filepaths: tuple[str, ...]
    splits: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    max_distance: float
    #: The pairs that link the members, each with its evidence (exact copies: ``exact``).
    links: tuple[DuplicateLink, ...] = ()
    #: Detection: members with the same classes whose boxes don't match (same class, IoU < 0.5).
    box_conflict: bool = False
    #: With ``box_conflict``: the members' boxes (at most ``MAX_COPY_OBJECTS`` per member), to draw.
    objects: tuple[CopyObject, ...] = ()

    @property
    def label_conflict(self) -> bool:
        """Members labelled differently: other classes (detection: other objects) or other boxes."""
        return len({lab for lab in self.labels if lab is not None}) > 1 or self.box_conflict

    @property
    def evidence(self) -> tuple[str, ...]:
        """The kinds of evidence that link this cluster, most common first."""
        from collections import Counter

        return tuple(e for e, _ in Counter(link.evidence for link in self.links).most_common())

    @property
    def spans_splits(self) -> bool:
        return len({s for s in self.splits if s is not None}) > 1


@dataclass(frozen=True)
class DuplicatesResult:
    near_threshold: float
    clusters: tuple[DuplicateCluster, ...] = ()
    n_exact_pairs: int = 0
    n_near_pairs: int = 0
    #: How the near-duplicate rule was set and what it is expected to find; ``None`` without embeddings.
    calibration: NearCalibration | None = None
    #: Candidate pairs within the loose threshold that no second signal confirmed (not reported).
    n_rejected_candidates: int = 0
    #: Links dropped so that no cluster chains different pictures (members farther apart than ``loose``).
    n_split_links: int = 0
    #: In memory only: the linking pairs (``checks.duplicate_edges.EdgeSet``) the leakage check reads.
    edges: Any = field(default=None, compare=False, repr=False, metadata={"serialize": False})

    @property
    def expected_near_precision(self) -> float | None:
        """The share of images in near clusters expected to be there rightly, by the calibration's
        false-pair rate (images expected to link to a different picture / images in near clusters).

        Only as good as the negatives: look-alikes inside the known copies' range are not counted.
        """
        cal = self.calibration
        in_near = sum(len(c.sample_ids) for c in self.clusters if c.kind == "near")
        if cal is None or cal.false_pair_rate is None or cal.n_negatives == 0 or not in_near:
            return None
        expected_false = cal.false_pair_rate * cal.n_negatives  # images linked to a different picture
        return round(max(0.0, 1.0 - expected_false / in_near), 4)

    @property
    def n_redundant(self) -> int:
        """Samples that could be removed while keeping one of each cluster."""
        return sum(len(c.sample_ids) - 1 for c in self.clusters)

    @property
    def n_findings(self) -> int:
        return len(self.clusters)

    def summary(self) -> str:
        """The counts, then how near duplicates were decided and how far to trust them."""
        n_exact = sum(c.kind == "exact" for c in self.clusters)
        return (f"{len(self.clusters)} clusters ({n_exact} exact, {len(self.clusters) - n_exact} near; "
                f"{self.n_redundant} redundant samples; {self._threshold_text()})\n{self.rule_text()}")

    def _threshold_text(self) -> str:
        if self.near_threshold < 0:  # calibration found no distance safe on its own
            return "no pair on embedding distance alone"
        return f"threshold {self.near_threshold:.4g}"

    def rule_text(self) -> str:
        """How near duplicates were decided and how far to trust them, in one sentence or two."""
        cal = self.calibration
        if cal is None:
            if self.near_threshold > 0:
                return (f"near duplicates (not calibrated): embedding distance <= {self.near_threshold:.4g}, the "
                        "model's fixed default; perceptual hashes confirmed by it")
            return "near duplicates: content and perceptual hashes only (no embeddings)"
        how = {"calibrated": "calibrated on this dataset", "user": "--near-threshold", "fixed": "the model's default"}
        if cal.thumb > 1.0:  # one threshold, no thumbnail tier
            text = (f"near duplicates ({how.get(cal.method, cal.method)}): embedding distance <= {cal.strict:.4g}; "
                    "perceptual hashes confirmed by it")
        else:
            geometry = f", registered pixels (>= {cal.pixels:.3f})" if cal.pixels is not None else ""
            if cal.dense is not None:
                geometry += f", aligned edges of smooth images (>= {cal.dense:.3f})"
            alone = (f"embedding distance <= {cal.strict:.4g}, or " if cal.strict >= 0 else
                     "no pair on embedding distance alone; ")
            text = (f"near duplicates ({how.get(cal.method, cal.method)}): {alone}embedding distance <= "
                    f"{cal.loose:.4g} confirmed by thumbnails (>= {cal.thumb:.3f}){geometry} or perceptual hashes")
        if cal.recall:
            recall = ", ".join(f"{t} {r:.0%}" for t, r in cal.recall)
            text += f"; expected recall on {cal.n_copies} known copies: {recall}"
        if cal.false_pair_rate is not None:
            text += f"; estimated false-pair rate {cal.false_pair_rate:.2%} of images"
        if self.expected_near_precision is not None:
            text += f"; images in near clusters expected right: {self.expected_near_precision:.0%} (est.)"
        if self.n_rejected_candidates or self.n_split_links:
            text += (f"; {self.n_rejected_candidates} candidate pairs unconfirmed, {self.n_split_links} links cut so "
                     "that no cluster chains different pictures")
        return text

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each cluster as a group of its files: a copy added to or removed from it leaves it the same
        finding (``Finding.group``); removing every copy fixes it."""
        out = []
        for c in self.clusters:
            files = tuple(sorted(c.filepaths))
            out.append(Finding(c.kind, files, (), next((x for x in c.labels if x), None), c.max_distance,
                               f"{len(files)} copies", group=True))
        return tuple(out)

    def to_frame(self):
        """One row per duplicated sample: ``is_duplicate_issue``, ``duplicate_score``, cluster."""
        import pandas as pd

        rows = []
        for c in self.clusters:
            far = c.max_distance / max(self.near_threshold, 1e-9)
            score = 0.0 if c.kind == "exact" else round(min(1.0, far) * 0.5, 6)
            for sid, fp, sp, lab in zip(c.sample_ids, c.filepaths, c.splits, c.labels):
                rows.append({"sample_id": sid, "filepath": fp, "split": sp, "label": lab,
                             "cluster_id": c.cluster_id, "kind": c.kind,
                             "is_duplicate_issue": True, "duplicate_score": score,
                             "label_conflict": c.label_conflict})
        return pd.DataFrame(rows, columns=["sample_id", "filepath", "split", "label", "cluster_id", "kind",
                                           "is_duplicate_issue", "duplicate_score", "label_conflict"])

    def to_export(self) -> dict[str, Any]:
        """``duplicates`` (clusters by path, with their links), the threshold and how it was set."""
        return {"duplicates": [{"kind": c.kind, "paths": list(c.filepaths), "splits": list(c.splits),
                                "labels": list(c.labels), "max_distance": c.max_distance,
                                "label_conflict": c.label_conflict, "box_conflict": c.box_conflict,
                                "evidence": list(c.evidence),
                                "links": [_link(link, c) for link in c.links]} for c in self.clusters],
                "near_duplicate_threshold": self.near_threshold, "near_duplicates": self._near_export()}

    def _near_export(self) -> dict[str, Any]:
        cal = self.calibration
        return {
            "calibration": None if cal is None else {
                "method": cal.method, "strict_threshold": cal.strict, "loose_threshold": cal.loose,
                "thumbnail_threshold": cal.thumb, "phash_bits": cal.phash_bits, "pixels_threshold": cal.pixels,
                "dense_threshold": cal.dense, "n_originals": cal.n_originals, "n_copies": cal.n_copies,
                "expected_recall": dict(cal.recall), "expected_false_pair_rate": cal.false_pair_rate,
                "note": cal.note},
            "n_rejected_candidates": self.n_rejected_candidates, "n_split_links": self.n_split_links,
            "expected_precision": {"exact": 1.0, "near": self.expected_near_precision},
        }


def _link(link: DuplicateLink, cluster: DuplicateCluster) -> dict[str, Any]:
    path = dict(zip(cluster.sample_ids, cluster.filepaths))
    return {"path_a": path.get(link.sample_id_a), "path_b": path.get(link.sample_id_b), "distance": link.distance,
            "evidence": link.evidence}


@dataclass(frozen=True)
class LeakPair:
    """Two copies of one picture in different splits."""

    sample_id_a: str
    sample_id_b: str
    filepath_a: str
    filepath_b: str
    split_a: str
    split_b: str
    label_a: str | None
    label_b: str | None
    kind: DuplicateKind
    distance: float
    cluster_id: int
    #: What links the two (``exact``, ``embedding``, ``embedding+thumbnail``, ``phash``...; see ``near_rule``).
    evidence: str = ""
    #: Detection: the two carry the same classes but boxes that don't match (same class, IoU < 0.5).
    box_conflict: bool = False
    #: With ``box_conflict``: both copies' boxes (at most ``MAX_COPY_OBJECTS`` each), to draw.
    objects: tuple[CopyObject, ...] = ()

    @property
    def label_conflict(self) -> bool:
        """The two copies are labelled differently: another class (detection: other objects) or other boxes."""
        differ = self.label_a is not None and self.label_b is not None and self.label_a != self.label_b
        return differ or self.box_conflict


@dataclass(frozen=True)
class LeakageResult:
    pairs: tuple[LeakPair, ...] = ()
    n_clusters: int = 0

    @property
    def leaked_ids(self) -> frozenset[str]:
        return frozenset(i for p in self.pairs for i in (p.sample_id_a, p.sample_id_b))

    @property
    def n_label_conflicts(self) -> int:
        return sum(p.label_conflict for p in self.pairs)

    @property
    def n_findings(self) -> int:
        return len(self.pairs)

    def summary(self) -> str:
        return f"{len(self.pairs)} cross-split pairs ({self.n_label_conflicts} with conflicting labels)"

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each leaked pair, by its two files (sorted)."""
        return tuple(Finding(p.kind, tuple(sorted((p.filepath_a, p.filepath_b))), (), p.label_a, p.distance,
                             f"{p.split_a} / {p.split_b}" + (" (labels differ)" if p.label_conflict else ""))
                     for p in self.pairs)

    def to_frame(self):
        """One row per leaked sample and partner: the sample (``filepath``, ``split``, ``label``), the copy
        in the other split (``other_*``), the evidence, ``label_conflict`` and ``is_leak_issue``."""
        import pandas as pd

        cols = ["sample_id", "filepath", "split", "label", "other_sample_id", "other_filepath", "other_split",
                "other_label", "kind", "distance", "evidence", "cluster_id", "label_conflict", "is_leak_issue"]
        rows = []
        for p in self.pairs:
            for mine, other in (("a", "b"), ("b", "a")):
                rows.append({"sample_id": getattr(p, f"sample_id_{mine}"), "filepath": getattr(p, f"filepath_{mine}"),
                             "split": getattr(p, f"split_{mine}"), "label": getattr(p, f"label_{mine}"),
                             "other_sample_id": getattr(p, f"sample_id_{other}"),
                             "other_filepath": getattr(p, f"filepath_{other}"),
                             "other_split": getattr(p, f"split_{other}"), "other_label": getattr(p, f"label_{other}"),
                             "kind": p.kind, "distance": p.distance, "evidence": p.evidence,
                             "cluster_id": p.cluster_id, "label_conflict": p.label_conflict, "is_leak_issue": True})
        return pd.DataFrame(rows, columns=cols)

    def pairs_frame(self):
        """One row per pair, as stored (``*_a``, ``*_b``), with ``label_conflict``."""
        import pandas as pd

        cols = [f.name for f in dataclasses.fields(LeakPair)] + ["label_conflict"]
        return pd.DataFrame([{**dataclasses.asdict(p), "label_conflict": p.label_conflict} for p in self.pairs],
                            columns=cols)

    def to_export(self) -> dict[str, Any]:
        return {"leaks": [{"path_a": p.filepath_a, "split_a": p.split_a, "label_a": p.label_a,
                           "path_b": p.filepath_b, "split_b": p.split_b, "label_b": p.label_b, "kind": p.kind,
                           "distance": p.distance, "label_conflict": p.label_conflict,
                           "box_conflict": p.box_conflict, "evidence": p.evidence}
                          for p in self.pairs]}
