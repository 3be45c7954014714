import hashlib

import numpy as np
import pytest

from tests.conftest import write_image
from workbench.io.files import inspect_file, inspect_files


def test_good_image(tmp_path):
    p = write_image(tmp_path / "a.png", 1, size=20)
    facts = inspect_file(str(p))
    assert facts.ok and (facts.width, facts.height, facts.image_format) == (20, 20, "PNG")
    assert facts.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_missing_empty_truncated_and_text(tmp_path):
    good = write_image(tmp_path / "g.png", 2, size=64).read_bytes()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    kinds = {p: inspect_file(str(tmp_path / p)).problem_kind
             for p in ("nope.png", "empty.jpg", "trunc.png", "text.png")}
    assert kinds == {"nope.png": "missing", "empty.jpg": "empty", "trunc.png": "unreadable",
                     "text.png": "unreadable"}
    assert "restore it" in inspect_file(str(tmp_path / "nope.png")).problem


def test_inspect_files_keeps_order(tmp_path):
    paths = [str(write_image(tmp_path / f"{i}.png", i)) for i in range(5)] + [str(tmp_path / "missing.png")]
    facts = inspect_files(paths, progress=False)
    assert [f.filepath for f in facts] == paths
    assert [f.ok for f in facts] == [True] * 5 + [False]


def test_messages_are_stable_and_say_what_to_do(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    msg = inspect_file(str(tmp_path / "text.png")).problem
    assert "0x" not in msg and "re-export or remove it" in msg


def test_transparent_line_drawings_get_distinct_perceptual_hashes(tmp_path):
    import imagehash
    from PIL import Image

    from tests.io.test_pixels import line_drawing

    paths = []
    for kind in range(3):
        paths.append(tmp_path / f"drawing-{kind}.png")
        line_drawing(kind).save(paths[-1])
    hashes = [imagehash.hex_to_hash(inspect_file(str(p)).phash) for p in paths]
    for a in range(3):
        for b in range(a + 1, 3):
            assert hashes[a] - hashes[b] > 10, (a, b)  # different drawings, far apart
            with Image.open(paths[a]) as x, Image.open(paths[b]) as y:
                assert imagehash.phash(x) - imagehash.phash(y) <= 2  # before: alpha dropped, all black


def test_exif_rotation_and_bit_depth_reach_the_perceptual_hash(tmp_path):
    import imagehash
    from PIL import Image

    from tests.io.test_pixels import exif_rotated_jpeg

    rotated = exif_rotated_jpeg(tmp_path / "rotated.jpg")
    with Image.open(rotated) as img:
        upright = img.transpose(Image.Transpose.ROTATE_270)  # what a viewer shows
    upright.save(tmp_path / "upright.png")  # lossless: the same pixels, upright, no orientation tag
    facts = inspect_file(str(rotated))
    assert facts.ok and (facts.width, facts.height) == (20, 40)  # as shown, not the header's 40x20
    upright_hash = imagehash.hex_to_hash(inspect_file(str(tmp_path / "upright.png")).phash)
    assert imagehash.hex_to_hash(facts.phash) - upright_hash <= 2
    with Image.open(rotated) as img:
        assert imagehash.phash(img) - upright_hash > 10  # before: hashed as stored, sideways

    hashes = []
    for seed in (1, 2):  # two different 16-bit textures, every value above 255
        texture = np.random.default_rng(seed).integers(1000, 65535, (8, 8)).repeat(16, 0).repeat(16, 1)
        Image.fromarray(texture.astype(np.uint16)).save(tmp_path / f"t{seed}.png")
        with Image.open(tmp_path / f"t{seed}.png") as img:
            assert img.mode == "I;16"
            hashes.append((imagehash.hex_to_hash(inspect_file(str(tmp_path / f"t{seed}.png")).phash),
                           imagehash.phash(img.convert("RGB"))))
    (new_a, old_a), (new_b, old_b) = hashes
    assert new_a - new_b > 10 and old_a - old_b == 0  # before: both clipped to one white square


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_malformed_exif_still_decodes(tmp_path):
    from PIL import Image

    path = tmp_path / "bad-exif.jpg"
    Image.new("RGB", (16, 16), (9, 99, 199)).save(path, exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x0f")
    facts = inspect_file(str(path))
    assert facts.ok and facts.phash


def test_facts_of_an_older_version_are_read_again(tmp_path):
    import sqlite3

    from workbench.io.facts_cache import FACTS_VERSION

    path = str(write_image(tmp_path / "a.png", 1))
    db = tmp_path / "cache" / "files.sqlite"
    fresh = inspect_files([path], progress=False, cache_path=db)[0]
    with sqlite3.connect(db) as con:  # as an older workbench left it: another phash, no version
        con.execute("UPDATE facts SET phash = '0000000000000000'")
        con.execute("PRAGMA user_version = 0")
    again = inspect_files([path], progress=False, cache_path=db)[0]
    assert again.phash == fresh.phash != "0000000000000000"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == FACTS_VERSION


def test_unusable_cache_folder_is_a_clear_error(tmp_path):
    from workbench.io.cache_folder import CacheUnusable

    path = str(write_image(tmp_path / "a.png", 1))
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    for folder in (tmp_path / "blocked", tmp_path / "blocked" / "below"):
        with pytest.raises(CacheUnusable, match="can't be used.*--cache-dir"):
            inspect_files([path], progress=False, cache_path=folder / "files.sqlite")

