"""``to_rgb``: one conversion of every pixel format, checked on real files made with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from workbench.io.pixels import to_rgb

BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def gradient16(path: Path, width: int = 512, height: int = 16) -> Path:
    """A 16-bit greyscale PNG, 0 on the left to 65535 on the right."""
    row = np.linspace(0, 65535, width).round().astype(np.uint16)
    Image.fromarray(np.tile(row, (height, 1))).save(path)
    return path


def line_drawing(kind: int, size: int = 128, mode: str = "RGBA") -> Image.Image:
    """Black line art on a fully transparent background whose hidden colour is black (as clip art stores it)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = (0, 0, 0, 255)
    if kind == 0:
        draw.ellipse((20, 20, size - 20, size - 20), outline=ink, width=4)
    elif kind == 1:
        draw.line((10, 10, size - 10, size - 10), fill=ink, width=4)
        draw.line((10, size - 10, size - 10, 10), fill=ink, width=4)
    else:
        draw.rectangle((30, 50, size - 30, size - 50), outline=ink, width=4)
    return img if mode == "RGBA" else img.convert(mode)


def test_16bit_png_keeps_its_gradient(tmp_path: Path) -> None:
    path = gradient16(tmp_path / "g16.png")
    with Image.open(path) as img:
        assert img.mode.startswith("I")
        clipped = np.asarray(img.convert("RGB"))[0, :, 0]  # Pillow's own conversion, the old behaviour
        rgb = to_rgb(img)
    px = np.asarray(rgb)
    assert rgb.mode == "RGB" and rgb.size == (512, 16)
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()
    row = px[0, :, 0].astype(int)
    assert len(np.unique(row)) > 200 and row[0] == 0 and row[-1] == 255
    assert (np.diff(row) >= 0).all()  # still a ramp
    assert abs(int(row[256]) - 128) <= 1  # scaled by the bit depth, not stretched or clipped
    assert (clipped == 255).mean() > 0.9  # before: almost everything clipped to white


def test_32bit_integer_and_float_images(tmp_path: Path) -> None:
    signed = np.linspace(-2**31, 2**31 - 1, 300).astype(np.int64).astype(np.int32)[None, :].repeat(4, 0)
    Image.fromarray(signed).save(tmp_path / "i32.tif")
    with Image.open(tmp_path / "i32.tif") as img:
        assert img.mode == "I"
        row = np.asarray(to_rgb(img))[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and len(np.unique(row)) > 200 and (np.diff(row) >= 0).all()

    unit = np.linspace(0.0, 1.0, 300, dtype=np.float32)[None, :].repeat(4, 0)
    Image.fromarray(unit).save(tmp_path / "f.tif")
    with Image.open(tmp_path / "f.tif") as img:
        assert img.mode == "F"
        row = np.asarray(to_rgb(img))[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and abs(row[150] - 128) <= 1

    wide = Image.fromarray(unit * 1000 - 500)  # not a 0..1 image: stretched from its minimum to its maximum
    row = np.asarray(to_rgb(wide))[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and len(np.unique(row)) > 200


def test_transparent_line_drawing_becomes_black_lines_on_white(tmp_path: Path) -> None:
    for mode in ("RGBA", "LA", "PA"):  # PA can't be written to a file: converted in memory
        path = tmp_path / f"drawing-{mode}.png"
        if mode == "PA":
            rgb = to_rgb(line_drawing(0, mode=mode))
        else:
            line_drawing(0, mode=mode).save(path)
            with Image.open(path) as img:
                assert img.mode == mode
                rgb = to_rgb(img)
        px = np.asarray(rgb)
        assert rgb.mode == "RGB", mode
        assert tuple(px[64, 64]) == WHITE and tuple(px[2, 2]) == WHITE, mode  # transparent: white, not black
        assert tuple(px[64, 22]) == BLACK, mode  # the circle's left edge
        assert (px == 255).all(axis=2).mean() > 0.8, mode
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 128))  # half-transparent black: mid grey on white
    assert abs(int(np.asarray(to_rgb(half))[0, 0, 0]) - 127) <= 1


def test_palette_image_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (64, 64), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)  # index 0 black (transparent), 1 red
    ImageDraw.Draw(img).line((0, 32, 63, 32), fill=1, width=3)
    path = tmp_path / "palette.png"
    img.save(path, transparency=0)
    with Image.open(path) as opened:
        assert opened.mode == "P" and "transparency" in opened.info
        px = np.asarray(to_rgb(opened))
    assert tuple(px[5, 5]) == WHITE
    assert tuple(px[32, 10]) == (200, 30, 30)
    gif = tmp_path / "palette.gif"  # GIF keeps its transparent index the same way
    img.save(gif, transparency=0)
    with Image.open(gif) as opened:
        assert tuple(np.asarray(to_rgb(opened))[5, 5]) == WHITE


def test_cmyk_jpeg_colours(tmp_path: Path) -> None:
    img = Image.new("CMYK", (48, 16))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 15, 15), fill=(0, 255, 255, 0))  # red
    draw.rectangle((16, 0, 31, 15), fill=(255, 0, 0, 0))  # cyan
    draw.rectangle((32, 0, 47, 15), fill=(0, 0, 0, 255))  # black
    path = tmp_path / "cmyk.jpg"
    img.save(path, quality=95)
    with Image.open(path) as opened:
        assert opened.mode == "CMYK"
        px = np.asarray(to_rgb(opened)).astype(int)
    for x, want in ((8, (255, 0, 0)), (24, (0, 255, 255)), (40, (0, 0, 0))):
        assert np.abs(px[8, x] - np.array(want)).max() <= 12, (x, px[8, x])


def exif_rotated_jpeg(path: Path, orientation: int = 6) -> Path:
    """40 wide × 20 high as stored, left half reddish, right half bluish (with a texture, so that
    perceptual hashes have something to see), with an EXIF orientation tag."""
    texture = np.random.default_rng(3).integers(0, 60, (5, 10, 3)).repeat(4, 0).repeat(4, 1)
    texture[:, :20, 0] += 190
    texture[:, 20:, 2] += 190
    img = Image.fromarray(texture.astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes(), quality=95)
    return path


def test_exif_rotated_jpeg_is_seen_upright(tmp_path: Path) -> None:
    path = exif_rotated_jpeg(tmp_path / "rotated.jpg")  # 6: turn 90° clockwise to view
    with Image.open(path) as img:
        assert img.size == (40, 20)
        rgb = to_rgb(img)
    assert rgb.size == (20, 40)
    px = np.asarray(rgb).astype(int)
    assert px[5, 10, 0] > 180 and px[5, 10, 2] < 60  # the stored left (red) is now on top
    assert px[35, 10, 2] > 180 and px[35, 10, 0] < 60


def test_plain_rgb_jpeg_is_not_copied(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path)
    with Image.open(path) as img:
        img.draft("RGB", (32, 32))
        assert to_rgb(img) is img


@pytest.mark.parametrize("mode", ["1", "L", "P", "YCbCr", "I;16B"])
def test_every_other_mode_gives_rgb(mode: str) -> None:
    img = Image.new("L", (8, 8), 200)
    if mode == "I;16B":  # big-endian 16-bit (some TIFFs): 51400 / 257 = 200
        img = Image.frombytes("I;16B", (8, 8), np.full((8, 8), 51400, ">u2").tobytes())
    else:
        img = img.convert(mode)
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (8, 8)
    assert abs(int(np.asarray(out)[0, 0, 0]) - (255 if mode == "1" else 200)) <= 2
