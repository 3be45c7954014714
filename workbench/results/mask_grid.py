"""A mask small enough to keep in a result: the pixels reduced to a coarse grid laid over a box of the image.

Renderers draw masks from the result alone (they never open a mask file), so a finding about a mask
carries a :class:`MaskGrid`: the tight box around the mask's pixels (relative ``(x, y, w, h)``, like
FiftyOne's boxes), a grid of at most ``cells`` cells on its longer side over that box (a cell is on
when at least :data:`ON_SHARE` of its pixels are; a mask too thin for that keeps every cell it
touches), and the cells as row-major run lengths, starting with a run of off cells. A grid whose runs
exceed ``max_runs`` (a speckled region) is coarsened until it fits, so one mask costs at most a few
hundred numbers in the JSON however large the mask.

Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 20), bool); mask[2:6, 10:20] = True     # the right half, rows 2-5
    >>> grid = mask_grid(mask, (0.0, 0.0, 0.4, 0.2), cells=4)
    >>> grid.box, (grid.columns, grid.rows), grid.runs
    ((0.2, 0.04, 0.2, 0.08), (4, 2), (0, 8))
    >>> list(grid.spans())
    [(0, 0, 4), (1, 0, 4)]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Cells on the longer side of an instance mask's grid (the mask of one object).
MASK_CELLS = 16
#: Cells on the longer side of a region of a semantic mask (it spans the whole image).
REGION_CELLS = 32
#: Run lengths one grid keeps at most; a grid needing more is coarsened.
MAX_RUNS = 160
#: Share of a cell's pixels that must be on for the cell to be on.
ON_SHARE = 0.4


@dataclass(frozen=True)
class MaskGrid:
    """A mask as ``columns`` × ``rows`` cells over ``box`` (relative ``(x, y, w, h)``), as row-major run
    lengths (first a run of off cells, then on, off, ...; the cells after the last run are off)."""

    box: tuple[float, float, float, float]
    columns: int
    rows: int
    runs: tuple[int, ...]

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """``(row, first column, column after the last)`` of each horizontal stretch of on cells; a malformed
        grid (runs past its cells, negative runs) yields what it can and stops."""
        if self.columns <= 0 or self.rows <= 0:
            return
        position, total = 0, self.columns * self.rows
        for k, run in enumerate(self.runs):
            run = int(run)
            if run < 0 or position + run > total:
                return
            if k % 2:
                start = position
                while start < position + run:
                    row, col = divmod(start, self.columns)
                    end = min(position + run, (row + 1) * self.columns)
                    yield row, col, col + end - start
                    start = end
            position += run

    @property
    def n_on(self) -> int:
        """Cells that are on."""
        return sum(end - start for _, start, end in self.spans())

    def to_list(self) -> list[int]:
        """``[columns, rows, *runs]``: how it is stored on a FiftyOne object (its box is the mask's tight box,
        stored with it; :meth:`from_list`)."""
        return [int(self.columns), int(self.rows), *(int(r) for r in self.runs)]

    @classmethod
    def from_list(cls, box: Any, values: Any) -> MaskGrid | None:
        """The inverse of :meth:`to_list` over ``box``; ``None`` for anything malformed (no grid).

        Example:
            >>> MaskGrid.from_list((0, 0, 1, 1), [2, 1, 1, 1]).runs, MaskGrid.from_list((0, 0, 1, 1), ["x"])
            ((1, 1), None)
        """
        if box is None or not isinstance(values, (list, tuple)) or not 2 <= len(values) <= MAX_RUNS + 2:
            return None
        try:
            x, y, w, h = (float(v) for v in box)
            columns, rows, *runs = (int(v) for v in values)
        except (TypeError, ValueError):
            return None
        if not (0 < columns <= REGION_CELLS and 0 < rows <= REGION_CELLS) or any(r < 0 for r in runs) \
                or sum(runs) > columns * rows:
            return None
        return cls((x, y, w, h), columns, rows, tuple(runs))


def _edges(n: int, parts: int) -> Any:
    """``parts + 1`` increasing integer edges splitting ``range(n)`` into ``parts`` near-equal stretches."""
    import numpy as np

    return (np.arange(parts + 1) * n) // parts


def _reduce(on: Any, cells: int) -> Any:
    """``on`` (2-D bool) as at most ``cells`` cells on its longer side: a cell is on when ``ON_SHARE`` of it is."""
    import numpy as np

    h, w = on.shape
    scale = min(1.0, cells / max(h, w))
    rows, cols = max(1, min(h, round(h * scale))), max(1, min(w, round(w * scale)))
    re, ce = _edges(h, rows), _edges(w, cols)
    sums = np.add.reduceat(np.add.reduceat(on.astype(np.int32), re[:-1], axis=0), ce[:-1], axis=1)
    share = sums / np.outer(np.diff(re), np.diff(ce))
    grid = share >= ON_SHARE
    return grid if grid.any() else share > 0  # too thin to fill a cell: keep what it touches


def _runs(grid: Any) -> tuple[int, ...]:
    """Row-major run lengths of ``grid`` (bool), starting with off, without the trailing off run."""
    import numpy as np

    flat = np.concatenate([[False], grid.ravel(), [False]])
    change = np.flatnonzero(flat[1:] != flat[:-1])  # starts and ends of on stretches, alternating
    bounds = np.concatenate([[0], change])
    return tuple(int(v) for v in np.diff(bounds))


def mask_grid(mask: Any, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0), *,
              cells: int = MASK_CELLS, max_runs: int = MAX_RUNS) -> MaskGrid | None:
    """The :class:`MaskGrid` of ``mask``, a 2-D array covering ``box`` of the image (any resolution; non-zero
    is on; a 3-D array counts a pixel when any channel is non-zero); ``None`` when no pixel is on.

    Example:
        >>> import numpy as np
        >>> mask_grid(np.eye(4, dtype=bool), cells=2).runs    # a thin diagonal keeps the cells it crosses
        (0, 1, 2, 1)
    """
    import numpy as np

    on = np.asarray(mask)
    if on.ndim == 3:
        on = on.any(axis=2)
    on = on != 0
    if on.ndim != 2 or not on.any():
        return None
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    mh, mw = on.shape
    x, y, w, h = (float(v) for v in box)
    tight = (x + w * cols[0] / mw, y + h * rows[0] / mh, w * (cols[-1] + 1 - cols[0]) / mw,
             h * (rows[-1] + 1 - rows[0]) / mh)
    crop = on[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    n = max(1, int(cells))
    while True:
        grid = _reduce(crop, n)
        runs = _runs(grid)
        if len(runs) <= max_runs or n == 1:
            break
        n = max(1, n // 2)
    return MaskGrid(tuple(round(float(v), 6) for v in tight), int(grid.shape[1]), int(grid.shape[0]),  # type: ignore[arg-type]
                    runs)


def mask_export(grid: MaskGrid | None) -> dict[str, Any] | None:
    """A mask as the JSON export writes it: ``{"box": [x, y, w, h], "grid": [columns, rows, *runs]}``
    (relative box of the mask's tight box; runs alternate off/on cells row by row), or ``None``.

    Example:
        >>> mask_export(None) is None
        True
    """
    return None if grid is None else {"box": [float(v) for v in grid.box], "grid": grid.to_list()}

