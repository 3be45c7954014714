"""The next images to label: a batch ranked by the probe's uncertainty and by diversity in embedding space."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.protocol import printable


@dataclass(frozen=True)
class SelectedSample:
    """One image of the batch: its place (1 = label first) and the numbers that chose it."""

    sample_id: str
    filepath: str
    label: str | None
    rank: int
    uncertainty: float
    #: Cosine distance to the nearest image already labelled or picked (``None``: nothing before it).
    distance: float | None
    score: float


@dataclass(frozen=True)
class SelectionResult:
    """A batch of ``budget`` images from the ``pool``, how they were scored, and what was left out.

    ``probe`` says where the uncertainty came from (the probe fitted on the labelled images, out of
    fold for labelled ones) or why there is none (no labels: diversity alone).
    """

    picks: tuple[SelectedSample, ...] = ()
    pool: str = "unlabelled"
    pool_size: int = 0
    budget: int = 0
    uncertainty: str = "entropy"
    weights: dict[str, float] = field(default_factory=dict)
    probe: str = ""
    #: ``{reason: images}`` kept out of the pool (copies of a duplicate cluster's first image, no embedding).
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def n_findings(self) -> int:
        return len(self.picks)

    def summary(self) -> str:
        """A headline, then how the batch was scored.

        Example:
            >>> SelectionResult(pool_size=0, budget=10).summary().splitlines()[0]
            '0 of 0 unlabelled images selected to label next (budget 10)'
        """
        pool = "unlabelled images" if self.pool == "unlabelled" else "images (every image)"
        u, d = self.weights.get("uncertainty", 0.0), self.weights.get("diversity", 0.0)
        q = self.weights.get("uniqueness", 0.0)
        plus = f" + uniqueness {q:g}" if q else " alone"
        if self.probe.startswith("no uncertainty") or not u:
            how = f"by k-center diversity{plus}"
        elif not d:
            how = f"by {self.uncertainty} uncertainty{plus}"
        else:
            how = (f"by {self.uncertainty} uncertainty {u:g} + k-center diversity {d:g}{plus if q else ''}, among the "
                   f"{self.weights.get('shortlist', 0):g} x budget most uncertain")
        lines = [f"{len(self.picks):,} of {self.pool_size:,} {pool} selected to label next"
                 + (f" (budget {self.budget:,})" if self.budget > len(self.picks) else ""),
                 f"{how}; {printable(self.probe)}"]
        if self.excluded:
            lines.append("left out: " + ", ".join(f"{n:,} {printable(why)}" for why, n in self.excluded.items()))
        return "\n".join(lines)

    def to_frame(self) -> Any:
        """One row per selected image: ``selection_rank, sample_id, filepath, label, uncertainty, distance, score``."""
        import pandas as pd

        columns = ["selection_rank", "sample_id", "filepath", "label", "uncertainty", "distance", "score"]
        return pd.DataFrame([{"selection_rank": p.rank, "sample_id": p.sample_id, "filepath": p.filepath,
                              "label": p.label, "uncertainty": p.uncertainty, "distance": p.distance,
                              "score": p.score} for p in self.picks], columns=columns)

    def to_export(self) -> dict[str, Any]:
        return {"selection": {"pool": self.pool, "pool_size": self.pool_size, "budget": self.budget,
                              "uncertainty": self.uncertainty, "weights": dict(self.weights), "probe": self.probe,
                              "excluded": dict(self.excluded),
                              "picks": [{"rank": p.rank, "path": p.filepath, "label": p.label,
                                         "uncertainty": p.uncertainty, "distance": p.distance, "score": p.score}
                                        for p in self.picks]}}
