"""Bad-input catalogue: unusual pixel formats and a damaged or unusable embedding cache.

Each case states its expected outcome. Pixel cases: exit 0, and the duplicates found are
exactly the real copies (different 16-bit, transparent, rotated or CMYK images are told
apart; the same picture in two encodings is linked). Cache cases: a corrupt shard is set
aside and recomputed (exit 0); a cache folder that can't be used is exit 2 with a message.
The user's files are never changed (:func:`untouched`).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.catalogue.harness import Outcome, run_cli, untouched
from tests.io.test_pixels import exif_rotated_jpeg, line_drawing


def audit(root: Path, name: str, work: Path, *extra: str, embedder: str = "none") -> tuple[Outcome, dict]:
    """``workbench audit ROOT`` with a private cache, no write-back; returns the outcome and its JSON."""
    out = work / f"{name}-{len(list(work.glob('*.json')))}.json"
    outcome = run_cli("audit", root, "--embedder", embedder, "--cache-dir", work / "cache", "--json", out,
                      "--no-write-back", "--quiet", "--name", name, *extra)
    return outcome, (json.loads(out.read_text()) if out.exists() else {})


def clusters(report: dict) -> list[set[str]]:
    """Each duplicate cluster as the set of its file names."""
    return [{Path(p).name for p in c["paths"]} for c in report["duplicates"]]


def texture(seed: int, mode: str = "RGB", size: tuple[int, int] = (8, 6)) -> Image.Image:
    """A blocky random picture (distinct seeds: distinct pictures, far apart in any hash)."""
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    return Image.fromarray(px).convert(mode)


def texture16(seed: int) -> Image.Image:
    """A 16-bit greyscale picture whose every value is above 255 (Pillow's convert makes it all white)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(1000, 65535, (6, 8)).repeat(16, 0).repeat(16, 1).astype(np.uint16))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def folder(tmp_path: Path, images: dict[str, Image.Image | bytes], **save: dict) -> Path:
    """An image folder ``root/train/<class>/<file>`` from ``{"class/file": image}``."""
    root = tmp_path / "data"
    for rel, img in images.items():
        path = root / "train" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(img, bytes):
            path.write_bytes(img)
        else:
            img.save(path, **save.get(rel, {}))
    return root


# ------------------------------------------------------------------ pixels: exit 0, only real copies linked


def test_different_16bit_images_are_not_duplicates(tmp_path: Path, work: Path, unique_name: str) -> None:
    """Exit 0, no duplicates: before, every 16-bit image clipped to white and all hashed alike."""
    root = folder(tmp_path, {f"{'ab'[s % 2]}/g{s}.png": texture16(s) for s in range(6)})
    with untouched(root):
        outcome, report = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    assert report["summary"]["duplicates"] == 0 and report["duplicates"] == []


def test_different_transparent_drawings_are_not_one_cluster(tmp_path: Path, work: Path, unique_name: str) -> None:
    """Exit 0, no duplicates: clip art on a transparent background no longer flattens to black squares."""
    root = folder(tmp_path, {f"{'ab'[k % 2]}/drawing{k}.png": line_drawing(k) for k in range(3)}
                  | {"b/drawing3.png": line_drawing(0).rotate(45), "a/drawing4.png": line_drawing(2).rotate(90)})
    with untouched(root):
        outcome, report = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    assert report["duplicates"] == [], clusters(report)


def test_different_transparent_drawings_are_far_apart_for_the_model(tmp_path: Path, work: Path,
                                                                     unique_name: str) -> None:
    """Exit 0, no near duplicates with EfficientNet-Lite0: before, every drawing embedded as the same black square."""
    root = folder(tmp_path, {f"{'ab'[k % 2]}/drawing{k}.png": line_drawing(k) for k in range(3)}
                  | {"b/drawing3.png": line_drawing(0).rotate(45)})
    with untouched(root):
        outcome, report = audit(root, unique_name, work, embedder="efficientnet-lite0")
    assert outcome.code == 0, outcome.text
    assert report["embedding_model"]["n_computed"] == 4 and report["duplicates"] == [], clusters(report)


def test_one_drawing_as_rgba_and_as_palette_png_is_one_duplicate(tmp_path: Path, work: Path,
                                                                  unique_name: str) -> None:
    """Exit 0 with the finding: the same drawing in two transparent encodings is one near-duplicate pair;
    its report thumbnails show black lines on white."""
    drawing = line_drawing(1)
    ink = np.asarray(drawing)[..., 3] > 0
    palette = Image.fromarray(ink.astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # both entries black; index 0 transparent
    root = folder(tmp_path, {"a/rgba.png": drawing, "b/palette.png": palette, "a/other.png": line_drawing(0)},
                  **{"b/palette.png": {"transparency": 0}})
    with untouched(root):
        outcome, report = audit(root, unique_name, work, "--report", work / "report.html")
    assert outcome.code == 0, outcome.text
    assert clusters(report) == [{"rgba.png", "palette.png"}]
    html = (work / "report.html").read_text()
    uris = [chunk.split('"', 1)[0] for chunk in html.split('src="data:image/png;base64,')[1:]]
    assert len(uris) >= 2
    for uri in uris:
        thumb = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("RGB"))
        assert (thumb > 200).all(axis=2).mean() > 0.7 and (thumb < 60).all(axis=2).any()  # lines on white


def test_exif_rotated_photo_and_its_upright_copy_are_duplicates(tmp_path: Path, work: Path,
                                                                 unique_name: str) -> None:
    """Exit 0 with the finding: a photo stored sideways with an orientation tag is its upright copy."""
    root = folder(tmp_path, {"b/other.png": texture(7)})
    (root / "train" / "a").mkdir()
    rotated = exif_rotated_jpeg(root / "train" / "a" / "phone.jpg")
    with Image.open(rotated) as img:
        img.transpose(Image.Transpose.ROTATE_270).save(root / "train" / "b" / "upright.png")  # as viewers show it
    with untouched(root):
        outcome, report = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    assert clusters(report) == [{"phone.jpg", "upright.png"}]


def test_cmyk_jpeg_and_its_rgb_copy_are_duplicates(tmp_path: Path, work: Path, unique_name: str) -> None:
    """Exit 0 with the finding: the CMYK print file and the RGB web copy of one picture are linked."""
    root = folder(tmp_path, {"a/web.jpg": texture(5), "b/print.jpg": texture(5, "CMYK"), "b/other.jpg": texture(6)},
                  **{"a/web.jpg": {"quality": 90}, "b/print.jpg": {"quality": 90}})
    with untouched(root):
        outcome, report = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    assert clusters(report) == [{"web.jpg", "print.jpg"}]


def test_every_unusual_format_is_embedded(tmp_path: Path, work: Path, unique_name: str) -> None:
    """Exit 0: 16-bit, transparent, palette, CMYK and EXIF-rotated files are all embedded, none fails."""
    root = folder(tmp_path, {"a/g16.png": texture16(1), "a/drawing.png": line_drawing(0),
                             "a/palette.gif": texture(2, "P"), "b/cmyk.jpg": texture(3, "CMYK"),
                             "b/la.png": line_drawing(2, mode="LA")})
    exif_rotated_jpeg(root / "train" / "b" / "phone.jpg")
    with untouched(root):
        outcome, report = audit(root, unique_name, work, embedder="efficientnet-lite0")
    assert outcome.code == 0, outcome.text
    model = report["embedding_model"]
    assert model["n_computed"] == 6 and model["n_cached"] == 0 and report["file_problems"] == []


def test_facts_from_before_the_fix_are_not_trusted(tmp_path: Path, work: Path, unique_name: str) -> None:
    """Exit 0, no duplicates: perceptual hashes stored by an older workbench (all drawings alike) are recomputed."""
    root = folder(tmp_path, {f"{'ab'[k % 2]}/drawing{k}.png": line_drawing(k) for k in range(3)})
    outcome, _ = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    with sqlite3.connect(work / "cache" / "files.sqlite") as con:  # as the old version left it
        con.execute("UPDATE facts SET phash = '8000000000000000'")
        con.execute("PRAGMA user_version = 0")
    with untouched(root):
        outcome, report = audit(root, unique_name, work)
    assert outcome.code == 0, outcome.text
    assert report["duplicates"] == []


# ------------------------------------------------------------------ the embedding cache


def test_a_corrupt_cache_shard_is_set_aside_and_recomputed(tmp_path: Path, work: Path, unique_name: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Exit 0 both times: the second audit names the corrupt shard in a warning, renames it
    ``*.corrupt`` and embeds its images again."""
    root = folder(tmp_path, {"a/a1.png": texture(1), "a/a2.png": texture(2), "b/b3.png": texture(3)})
    outcome, first = audit(root, unique_name, work, embedder="efficientnet-lite0")
    assert outcome.code == 0 and first["embedding_model"]["n_computed"] == 3, outcome.text
    (shard,) = (work / "cache").glob("*/shard-*.npz")
    shard.write_bytes(shard.read_bytes()[:100])  # truncated, as a full disk or a crash of another tool leaves it
    with untouched(root), caplog.at_level(logging.WARNING):
        outcome, second = audit(root, unique_name, work, embedder="efficientnet-lite0")
    assert outcome.code == 0, outcome.text
    assert second["embedding_model"]["n_computed"] == 3 and second["embedding_model"]["n_cached"] == 0
    assert str(shard) in caplog.text + outcome.text and "corrupt" in caplog.text + outcome.text
    assert shard.with_name(shard.name + ".corrupt").exists()
    _, third = audit(root, unique_name, work, embedder="efficientnet-lite0")
    assert third["embedding_model"]["n_cached"] == 3  # the recomputed vectors were stored


@pytest.mark.parametrize("where", ["--cache-dir is a file", "--cache-dir is below a file", "WORKBENCH_CACHE is a file"])
def test_a_cache_folder_that_cannot_be_used_is_exit_2(tmp_path: Path, work: Path, unique_name: str, where: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2, the message names the file in the way and says to choose another folder; nothing is written."""
    root = folder(tmp_path, {"a/x.png": texture(1), "b/y.png": texture(2)})
    blocker = tmp_path / "cache-file"
    blocker.write_text("a file where the cache folder should be")
    options: list[str | Path] = []
    if where.startswith("WORKBENCH_CACHE"):
        monkeypatch.setenv("WORKBENCH_CACHE", str(blocker))
    else:
        options = ["--cache-dir", blocker if where.endswith("is a file") else blocker / "embeddings"]
    with untouched(root):
        outcome = run_cli("audit", root, "--embedder", "none", *options, "--no-write-back", "--quiet",
                          "--name", unique_name)
    assert outcome.code == 2, outcome.text
    assert f"{blocker} is a file, not a folder" in outcome.stderr and "cache" in outcome.stderr
    if not options:  # the library's own check (the CLI checks --cache-dir itself, with the same outcome)
        assert "can't be used" in outcome.stderr and "--cache-dir" in outcome.stderr
    assert blocker.read_text() == "a file where the cache folder should be"


def test_workbench_cache_inside_the_dataset_is_exit_2_before_any_work(tmp_path: Path, unique_name: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Expected: WORKBENCH_CACHE pointing into the dataset folder is refused like --cache-dir there (exit 2, the
    message names the folder and both ways to choose another); nothing is written into the dataset."""
    root = folder(tmp_path, {"a/x.png": texture(1), "b/y.png": texture(2)})
    monkeypatch.setenv("WORKBENCH_CACHE", str(root / ".wbc"))
    with untouched(root):
        outcome = run_cli("audit", root, "--embedder", "none", "--no-write-back", "--quiet", "--name", unique_name)
    assert outcome.code == 2, outcome.text
    assert "$WORKBENCH_CACHE" in outcome.stderr and "inside the dataset folder" in outcome.stderr
    assert "--cache-dir DIR or WORKBENCH_CACHE" in outcome.stderr
    assert not (root / ".wbc").exists()
