"""Simple image properties a model could learn instead of the object: the per-file measures of the
spurious-correlation check, and the table of properties it tests against the labels.

Two measures are taken here, in the pass that already decodes every file (``file_measures``):

* ``colourfulness``: Hasler and Süsstrunk's colourfulness of the upright RGB pixels (0 for a grey
  image, about 15 for muted, 45 for vivid and over 100 for saturated synthetic colour), on at most
  :data:`SIDE` px;
* ``jpeg_quality``: the IJG quality (1-100) the file's luminance quantisation table corresponds to,
  for JPEG files only (the key is absent otherwise).

The others come from facts every audit has (width, height, format) and from the image-quality
check's measures (brightness, contrast, sharpness, greyscale), read from the same cached pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

#: Longest side (px) colourfulness is measured at.
SIDE = 128

#: The IJG standard luminance quantisation table (JPEG Annex K, Table K.1), sorted: the estimate compares
#: sorted values, so it does not depend on the order (zig-zag or natural) a file stores its table in.
_IJG_LUMA = np.sort(np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.int64))


def _ijg_tables() -> np.ndarray:
    """Row q-1: the sorted luminance table IJG's ``jpeg_set_quality(q)`` writes (baseline, 1-255)."""
    q = np.arange(1, 101, dtype=np.int64)[:, None]
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    return np.clip((_IJG_LUMA[None, :] * scale + 50) // 100, 1, 255)


PropertyKind = Literal["numeric", "categorical"]

#: Each property the check tests: its kind, where it comes from and the words for it.
PROPERTIES: dict[str, tuple[PropertyKind, str]] = {
    "brightness": ("numeric", "mean luma (0 black - 1 white)"),
    "contrast": ("numeric", "standard deviation of luma"),
    "sharpness": ("numeric", "Laplacian variance over grey variance (low = blurry)"),
    "colourfulness": ("numeric", "Hasler-Süsstrunk colourfulness (0 = grey)"),
    "grayscale": ("categorical", "grey or colour pixels"),
    "size": ("numeric", "sqrt(width x height), px"),
    "aspect_ratio": ("numeric", "width / height"),
    "file_format": ("categorical", "the file's format"),
    "jpeg_quality": ("numeric", "JPEG quality the quantisation table corresponds to (JPEG files only)"),
}


def jpeg_quality(tables: Mapping[int, Sequence[int]] | None) -> float | None:
    """The IJG quality (1-100) whose luminance quantisation table is nearest the file's; ``None`` without tables.

    IJG (libjpeg, Pillow, OpenCV) scales the standard table by ``5000 / q`` percent below quality 50 and
    ``200 - 2q`` percent above; the nearest of the 100 scaled tables (sum of absolute differences of
    the sorted values) names the quality, and an encoder's own tables get the nearest IJG quality.

    Example:
        >>> jpeg_quality({0: [1] * 64})
        100.0
        >>> jpeg_quality(None) is None
        True
    """
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    table = np.sort(np.asarray(list(tables[0]), dtype=np.int64))
    gaps = np.abs(_ijg_tables() - table[None, :]).sum(axis=1)
    return float(np.argmin(gaps) + 1)  # a tie goes to the lowest quality


def property_measures(image: Any) -> dict[str, float]:
    """The check's per-file measures of one decoded upright RGB image (see the module docstring).

    Example:
        >>> from PIL import Image
        >>> property_measures(Image.new("RGB", (40, 30), (128, 128, 128)))
        {'colourfulness': 0.0}
    """
    from PIL import Image

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if max(rgb.size) > SIDE:
        scale = SIDE / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)
    x = np.asarray(rgb, dtype=np.float32).reshape(-1, 3)
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    colourful = math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))
    out = {"colourfulness": float(f"{colourful:.6g}")}
    quality = jpeg_quality(image.info.get("quantization"))
    if quality is not None:
        out["jpeg_quality"] = quality
    return out


def property_table(facts: Sequence[Any], quality: Sequence[Mapping[str, float] | None],
                   own: Sequence[Mapping[str, float] | None]) -> dict[str, list[Any]]:
    """Per property of :data:`PROPERTIES`, its value per row (``None``: not measured for that file).

    The values are in their natural units (px, w/h): the tests are rank-based and binned by quantiles,
    so no scale changes them.

    Args:
        facts: per row, the file's facts (``ok``, ``width``, ``height``, ``image_format``) or ``None``.
        quality: per row, the image-quality check's measures (``None``: not measured).
        own: per row, :func:`property_measures`' numbers (``None``: not measured).

    Example:
        >>> from types import SimpleNamespace as F
        >>> t = property_table([F(ok=True, width=100, height=50, image_format="PNG")], [None], [None])
        >>> t["size"], t["aspect_ratio"], t["file_format"], t["brightness"]
        ([70.711], [2.0], ['PNG'], [None])
    """
    table: dict[str, list[Any]] = {name: [] for name in PROPERTIES}
    for f, q, o in zip(facts, quality, own):
        ok = f is not None and getattr(f, "ok", False) and f.width and f.height
        q, o = q or {}, o or {}
        table["brightness"].append(q.get("brightness"))
        table["contrast"].append(q.get("contrast"))
        table["sharpness"].append(q.get("sharpness"))
        table["colourfulness"].append(o.get("colourfulness"))
        grey = q.get("grayscale")
        table["grayscale"].append(None if grey is None else ("grey" if grey >= 0.5 else "colour"))
        table["size"].append(round(math.sqrt(f.width * f.height), 3) if ok else None)
        table["aspect_ratio"].append(round(f.width / f.height, 6) if ok else None)
        table["file_format"].append(f.image_format if ok and f.image_format else None)
        table["jpeg_quality"].append(o.get("jpeg_quality"))
    return table
