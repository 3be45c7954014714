"""One way to turn any decoded image into the 8-bit RGB pixels workbench looks at.

Embedding, the perceptual hash and thumbnails all call :func:`to_rgb`, so the model, the
hash and the reviewer see the same picture. The rules:

- **EXIF orientation** is applied (:func:`PIL.ImageOps.exif_transpose`): a photo stored
  sideways with an orientation tag is seen upright, as every viewer shows it.
- **16- and 32-bit greyscale** (modes ``I;16*``, ``I``) are rescaled to 8 bits by the file's
  bit depth (``value * 255 / (2**bits - 1)``, rounded): a 16-bit gradient keeps its gradient
  (Pillow's own ``convert`` clips everything above 255 to white). The depth is the mode's
  (16 for ``I;16*``), a TIFF's ``BitsPerSample``, or else the smallest of 16/32 bits that
  holds the values; negative values (signed data) are shifted up by half the range.
  **Float** images (mode ``F``) are taken as 0..1 when their values lie there, else
  stretched from their minimum to their maximum.
- **Transparency** (RGBA, LA, PA, palette or greyscale images with a transparent colour) is
  composited onto a **white** background. White, because most transparent images in
  datasets are drawings, icons and logos made for a white page: black line art on a
  transparent background stays black lines on white instead of turning into an all-black
  square. Fully transparent pixels become white whatever colour they stored.
- **CMYK** is converted by Pillow (``r = (255 - c)(255 - k) / 255``; inverted Adobe CMYK
  JPEGs are un-inverted by the decoder). Embedded ICC profiles are not applied, in any mode.
- Anything else (``1``, ``L``, ``P``, ``YCbCr``, ``HSV``, …) goes through ``convert("RGB")``.

An RGB image without an orientation tag (the common JPEG) is returned as it is, no copy.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

#: The colour transparent pixels are composited onto.
BACKGROUND = (255, 255, 255)

#: Names this conversion in embedding-cache keys (through the models' preprocessing string):
#: change it whenever :func:`to_rgb` gives other pixels for some image, so that vectors and
#: stored neighbour graphs made from the old pixels are not reused.
PIXELS_VERSION = "pixels2"

_EXIF_ORIENTATION = 0x0112
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(img: Image.Image) -> Image.Image:
    """The image as upright 8-bit RGB, transparency on white (see the module's rules).

    Args:
        img: A PIL image, opened or loaded; ``draft()`` may have been called on it.

    Returns:
        An ``RGB`` image: ``img`` itself when it is RGB without an orientation tag, else a new one.

    Example:
        >>> from PIL import Image
        >>> drawing = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # transparent, black underneath
        >>> to_rgb(drawing).getpixel((0, 0))
        (255, 255, 255)
    """
    from PIL import ImageOps

    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError, struct.error):
        orientation = 1  # a malformed EXIF block: the pixels are still good, keep them as stored
    if orientation not in (1, None):
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode in _HIGH_DEPTH_MODES:
        return _rescale_integer(img).convert("RGB")
    if mode == "F":
        return _rescale_float(img).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        return _on_background(img.convert("RGBA"))
    return img.convert("RGB")


def _declared_bits(img: Image.Image) -> int | None:
    if img.mode.startswith("I;16"):
        return 16
    tags = getattr(img, "tag_v2", None)  # TIFF: BitsPerSample
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return int(bits) if isinstance(bits, int) and 8 <= bits <= 32 else None


def _rescale_integer(img: Image.Image) -> Image.Image:
    import numpy as np
    from PIL import Image

    values = np.asarray(img).astype(np.float64)
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    bits = _declared_bits(img) or (16 if 0 <= low and high <= 65535 else 32)
    if low < 0:  # signed data: its range is [-2**(bits-1), 2**(bits-1))
        values += 2.0 ** (bits - 1)
    scaled = np.rint(values * (255.0 / (2.0 ** bits - 1)))
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _rescale_float(img: Image.Image) -> Image.Image:
    import numpy as np
    from PIL import Image

    values = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    if low < 0.0 or high > 1.0:  # not a 0..1 image: stretch what is there
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8), "L")


def _on_background(rgba: Image.Image) -> Image.Image:
    from PIL import Image

    out = Image.new("RGB", rgba.size, BACKGROUND)
    out.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return out
