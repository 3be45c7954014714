"""Object-level label issues: one flagged box (or a box the annotators missed) with its evidence.

Shared by both ways of finding them: a detector's predictions scored with cleanlab's
``object_detection`` module, and, without a detector, the crops of the boxes embedded and voted
among their nearest crops (``workbench.checks.object_crops``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: ``swapped``: the box is right but its class is not; ``badly_located``: the class is right but the
#: box is off; ``overlooked``: an object with no box (the box is where it should be; no object id).
ObjectIssueKind = Literal["swapped", "badly_located", "overlooked"]
OBJECT_ISSUE_KINDS: tuple[str, ...] = ("swapped", "badly_located", "overlooked")


@dataclass(frozen=True)
class ObjectLabelIssue:
    """One object whose annotation is likely wrong.

    ``box`` is FiftyOne's relative ``(x, y, w, h)``; ``object_id`` is the annotated object's id
    (``None`` for ``overlooked``: there is no annotation). ``score`` is the label quality in [0, 1]
    (low = likely wrong); ``suggested_label`` the class the evidence points to (``None``: no
    suggestion); ``method`` ``predictions`` or ``crops``.

    Example:
        >>> ObjectLabelIssue("s1", "/d/a.jpg", "o1", "cat", (0.1, 0.1, 0.2, 0.2), "swapped", 0.08, "dog",
        ...                  "crops").kind
        'swapped'
    """

    sample_id: str
    filepath: str
    object_id: str | None
    label: str | None
    box: tuple[float, float, float, float] | None
    kind: str
    score: float
    suggested_label: str | None
    method: str
