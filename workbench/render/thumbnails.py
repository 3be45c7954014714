"""Thumbnails of flagged samples, as data URIs for the HTML report and the notebook panels."""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass

from workbench.render.formatting import _basename

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    """One image as the report shows it: a data URI, or a placeholder note."""

    filepath: str
    name: str
    uri: str | None
    note: str = ""
    #: The encoded thumbnail's size in pixels (0 for a placeholder): what box overlays are drawn on.
    width: int = 0
    height: int = 0


class _Thumbnails:
    """Thumbnails of flagged samples: at most ``max_thumbnails`` images placed in the page in all.

    Every place an image appears counts (a file shown in a leak pair and in a duplicate
    cluster counts twice), so the limit bounds both the number of ``<img>`` elements and
    the size of the report. Each file is decoded once.
    """

    def __init__(self, max_thumbnails: int, px: int, blocked: frozenset[str] = frozenset()) -> None:
        self.max_thumbnails = max(0, int(max_thumbnails))
        self.blocked = blocked  # outside the dataset root: never opened
        self.px = max(8, int(px))
        self.n_embedded = 0
        self.n_failed = 0
        self._cache: dict[str, Thumbnail] = {}

    def allocate(self, groups: list[list[str | None]]) -> list[list[Thumbnail]]:
        """One thumbnail per file path in each group (a section), sharing the limit round-robin.

        Round-robin keeps one long section from using the whole budget. A file that can't
        be read gets a placeholder and doesn't count against the limit; once the limit is
        reached the remaining places get a placeholder too.

        Args:
            groups: File paths in display order, one list per section.

        Returns:
            Thumbnails aligned with ``groups``.
        """
        out: list[list[Thumbnail | None]] = [[None] * len(group) for group in groups]
        positions = [0] * len(groups)
        while any(pos < len(group) for pos, group in zip(positions, groups, strict=True)):
            for i, group in enumerate(groups):
                if positions[i] >= len(group):
                    continue
                filepath = group[positions[i]]
                if not filepath:
                    thumb = Thumbnail("", "", None, "no file")
                elif filepath in self.blocked:
                    thumb = Thumbnail(filepath, _basename(filepath), None, "outside the dataset folder")
                elif self.n_embedded < self.max_thumbnails:
                    thumb = self._thumbnail(filepath)
                    self.n_embedded += thumb.uri is not None
                else:
                    thumb = Thumbnail(filepath, _basename(filepath), None, "not embedded (thumbnail limit)")
                out[i][positions[i]] = thumb
                positions[i] += 1
        return out  # type: ignore[return-value]

    def _thumbnail(self, filepath: str) -> Thumbnail:
        cached = self._cache.get(filepath)
        if cached is None:
            cached = self._cache[filepath] = encode_thumbnail(filepath, self.px)
            self.n_failed += cached.uri is None
        return cached

def encode_thumbnail(filepath: str, px: int = 96) -> Thumbnail:
    """A small JPEG (PNG when the image has transparency) of ``filepath`` as a data URI.

    The pixels are the ones the model and the perceptual hash see
    (:func:`workbench.io.pixels.to_rgb`: upright, 8-bit, transparency composited on white);
    a transparent image (usually a drawing) is saved as PNG so its lines stay crisp.

    A missing or undecodable file gives a placeholder (``uri`` None, ``note`` says why);
    this never raises for a bad image.

    Args:
        filepath: The image file.
        px: Longest side of the thumbnail, in pixels.

    Returns:
        The :class:`Thumbnail`.

    Example:
        >>> encode_thumbnail("/no/such/file.png").note
        'file missing'
    """
    from PIL import Image

    from workbench.io.pixels import to_rgb

    name = _basename(filepath)
    try:
        with Image.open(filepath) as img:
            img.draft("RGB", (px, px))  # fast JPEG downscale; no-op otherwise
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            img = to_rgb(img)
            img.thumbnail((px, px))
            width, height = img.size
            buffer = io.BytesIO()
            if has_alpha:
                img.save(buffer, format="PNG", optimize=True)
                mime = "image/png"
            else:
                img.save(buffer, format="JPEG", quality=82, optimize=True)
                mime = "image/jpeg"
    except FileNotFoundError:
        logger.debug("thumbnail: file not found: %s", filepath)
        return Thumbnail(filepath, name, None, "file missing")
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, Image.DecompressionBombError) as exc:
        # Pillow signals undecodable files with any of these; the report shows a placeholder.
        logger.debug("thumbnail: cannot read %s: %s", filepath, exc)
        return Thumbnail(filepath, name, None, "unreadable image")
    uri = f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(filepath, name, uri, width=width, height=height)
