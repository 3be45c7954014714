"""Thumbnails for the panels: small data-URI images, built lazily, cached, and capped per redraw.

Encoding is the HTML report's (:func:`workbench.render.thumbnails.encode_thumbnail`):
a JPEG (PNG with transparency) whose longest side is at most ``px``. A missing or
unreadable file becomes a placeholder box, never an exception.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from workbench.panels.markup import Html, esc

if TYPE_CHECKING:
    from workbench.render.overlays import Overlay

logger = logging.getLogger(__name__)

#: Longest side of a panel thumbnail, in pixels.
THUMBNAIL_PX = 80
#: Thumbnails kept in memory per panel (oldest dropped first).
MAX_CACHED = 2000


class ThumbnailCache:
    """Encodes each file once and hands out ``<img>`` snippets; at most ``limit`` new files per call.

    Example:
        >>> thumbs = ThumbnailCache(px=64)
        >>> "file missing" in thumbs.render(["/no/such.png"], limit=10)[0]
        True
    """

    def __init__(self, px: int = THUMBNAIL_PX, max_cached: int = MAX_CACHED,
                 blocked: frozenset[str] = frozenset()) -> None:
        if not 8 <= px <= 96:
            raise ValueError(f"thumbnail size must be 8 to 96 pixels, not {px}")
        self.px = px
        self.blocked = blocked  # outside the dataset root: never opened
        self.max_cached = max(1, max_cached)
        self.n_encoded = 0
        self._cache: OrderedDict[str, Html] = OrderedDict()
        self._sizes: dict[str, tuple[int, int]] = {}

    def render(self, filepaths: Sequence[str | None], *, limit: int,
               overlays: Sequence[Sequence[Overlay]] | None = None) -> list[Html]:
        """An ``<img>`` (or placeholder) per path; files not cached yet are encoded up to ``limit``.

        Args:
            filepaths: Image paths in display order (None: no file).
            limit: Most files encoded by this call; later ones get a "not loaded" placeholder.
            overlays: Per path, the boxes to draw over its image
                (:func:`workbench.render.overlays.overlays_for`); none by default.

        Returns:
            One snippet per path.
        """
        out = self._render(filepaths, limit)
        if overlays is None:
            return out
        from workbench.render.overlays import overlay_svg

        for n, (filepath, boxes) in enumerate(zip(filepaths, overlays)):
            size = self._sizes.get(filepath or "")
            if boxes and size and filepath in self._cache:
                out[n] = Html(f'<div class="wb-thumb-boxes" style="position:relative;width:{self.px}px;'
                              f'height:{self.px}px">{out[n]}{overlay_svg(boxes, *size)}</div>')
        return out

    def _render(self, filepaths: Sequence[str | None], limit: int) -> list[Html]:
        out: list[Html] = []
        budget = max(0, int(limit))
        for filepath in filepaths:
            if not filepath:
                out.append(self._placeholder("", "no file"))
                continue
            if filepath in self.blocked:
                out.append(self._placeholder(filepath, "outside the dataset folder"))
                continue
            cached = self._cache.get(filepath)
            if cached is not None:
                self._cache.move_to_end(filepath)
                out.append(cached)
            elif budget > 0:
                budget -= 1
                out.append(self._remember(filepath, self._encode(filepath)))
            else:
                out.append(self._placeholder(filepath, "not loaded (thumbnail limit)"))
        return out

    def _encode(self, filepath: str) -> Html:
        from workbench.render.thumbnails import encode_thumbnail

        thumb = encode_thumbnail(filepath, self.px)
        self.n_encoded += 1
        if thumb.uri is None:
            return self._placeholder(filepath, thumb.note)
        self._sizes[filepath] = (thumb.width, thumb.height)
        return Html(f'<img src="{esc(thumb.uri)}" alt="{esc(thumb.name)}" title="{esc(filepath)}" '
                    f'style="display:block;width:{self.px}px;height:{self.px}px;object-fit:contain;'
                    f'background:#e9ecf1;border-radius:4px">')

    def _remember(self, filepath: str, snippet: Html) -> Html:
        self._cache[filepath] = snippet
        while len(self._cache) > self.max_cached:
            self._sizes.pop(self._cache.popitem(last=False)[0], None)
        return snippet

    def _placeholder(self, filepath: str, note: str) -> Html:
        return Html(f'<div class="wb-thumb-placeholder" title="{esc(filepath)}" style="display:flex;'
                    f"align-items:center;justify-content:center;text-align:center;width:{self.px}px;"
                    f"height:{self.px}px;background:#e9ecf1;border-radius:4px;color:#5d6677;font-size:10px;"
                    f'padding:2px;box-sizing:border-box">{esc(note)}</div>')
