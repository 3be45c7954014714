"""Pixel evidence of image pairs, kept by content across audits (``<cache>/pairs.sqlite``).

A second reader with the same cache measures nothing and returns what the first measured; the
same two contents in another dataset (other rows, other order) get the same numbers; a damaged or
unwritable cache costs a re-measurement, never the audit, and no user file changes.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
from PIL import Image

from workbench.checks.pair_pixels import PairPixels, PairReader
from workbench.io.pair_cache import PAIRS_VERSION, PairCache


def _images(tmp_path):
    rng = np.random.default_rng(3)
    base = (rng.random((200, 260, 3)) * 255).astype(np.uint8)
    base[40:120, 60:200] = [200, 40, 40]
    pics = {"a.png": Image.fromarray(base), "crop.png": Image.fromarray(base[8:192, 10:250]),
            "tiny.png": Image.fromarray(base[:28, :28]), "tiny2.png": Image.fromarray(np.roll(base[:28, :28], 1, 1))}
    paths, sizes, hashes = [], [], []
    for name, img in pics.items():
        img.save(tmp_path / name)
        paths.append(str(tmp_path / name))
        sizes.append(img.size)
        hashes.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    return paths, sizes, hashes


def _thumbs(n):
    rng = np.random.default_rng(5)
    return [bytes((rng.random(16 * 16 * 3) * 255).astype(np.uint8)).hex() for _ in range(n)]


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_a_second_audit_reads_the_evidence_instead_of_measuring_it(tmp_path, monkeypatch):
    paths, sizes, hashes = _images(tmp_path)
    thumbs = _thumbs(len(paths))
    db = tmp_path / "cache" / "pairs.sqlite"
    first_cache = PairCache(db)
    first_cache.load(hashes)
    first = PairReader(paths, sizes, hashes, first_cache)
    measured = {(0, 1): first(0, 1), (2, 3): first(3, 2), (0, 2): first(0, 2)}
    thumb = first.thumb_similarity(0, 1, thumbs)
    assert measured[(0, 1)].inliers and measured[(2, 3)].aligned is not None
    first_cache.save()
    assert first_cache.n_new == 0 and db.is_file()

    again = PairCache(db)
    assert again.load(hashes) == 4  # three pixel pairs and one thumbnail pair
    second = PairReader(paths, sizes, hashes, again)
    monkeypatch.setattr(PairReader, "_measure", lambda self, a, b: (_ for _ in ()).throw(AssertionError("measured")))
    assert second(1, 0) == measured[(0, 1)] and second(2, 3) == measured[(2, 3)] and second(2, 0) == measured[(0, 2)]
    assert second.thumb_similarity(1, 0, thumbs) == thumb and again.hits == 4


def test_the_same_contents_in_another_dataset_get_the_same_numbers(tmp_path):
    paths, sizes, hashes = _images(tmp_path)
    plain = PairReader(paths, sizes, hashes, None)
    reordered = PairReader(paths[::-1], sizes[::-1], hashes[::-1], None)
    n = len(paths)
    for a, b in [(0, 1), (2, 3), (0, 3)]:
        assert plain(a, b) == reordered(n - 1 - b, n - 1 - a)  # measured in the order of the hashes


def test_only_pairs_of_this_datasets_contents_are_loaded(tmp_path):
    cache = PairCache(tmp_path / "pairs.sqlite")
    cache.put("aa", "bb", "thumb", (0.5,))
    cache.put("aa", "zz", "thumb", (0.7,))
    cache.put("cc", "bb", "pixels", (12, 0.9, None))
    cache.save()
    fresh = PairCache(tmp_path / "pairs.sqlite")
    assert fresh.load(["bb", "aa", "cc", None]) == 2
    assert fresh.get("bb", "aa", "thumb").v1 == 0.5 and fresh.get("aa", "zz", "thumb") is None
    assert fresh.get("bb", "cc", "pixels") == (12, 0.9, None)


# --- bad inputs -------------------------------------------------------------------------------

def test_bad_input_damaged_pair_cache_is_set_aside_and_pairs_measured_again(tmp_path, caplog):
    """Expected: a pairs.sqlite that is not a database is moved to pairs.damaged with a warning; the pairs
    are measured as without a cache, and the next save starts a good file. Images untouched."""
    paths, sizes, hashes = _images(tmp_path)
    before = _snapshot(tmp_path)
    db = tmp_path / "pairs.sqlite"
    db.write_bytes(b"this is not sqlite" * 100)
    cache = PairCache(db)
    assert cache.load(hashes) == 0
    assert (tmp_path / "pairs.damaged").is_file() and "unusable" in caplog.text
    reader = PairReader(paths, sizes, hashes, cache)
    assert reader(0, 1) == PairReader(paths, sizes, hashes, None)(0, 1)
    cache.save()
    assert PairCache(db).load(hashes) == 1
    assert _snapshot(tmp_path) == before


def test_bad_input_unwritable_pair_cache_only_warns(tmp_path, caplog):
    """Expected: a cache path whose folder is a file: the audit's numbers are unchanged, a warning says the
    evidence was not cached, and the file in the way is untouched."""
    paths, sizes, hashes = _images(tmp_path)
    blocker = tmp_path / "cache"
    blocker.write_bytes(b"user data")
    cache = PairCache(blocker / "pairs.sqlite")
    assert cache.load(hashes) == 0
    reader = PairReader(paths, sizes, hashes, cache)
    value = reader(2, 3)
    cache.save()
    assert value.aligned is not None and "not cached" in caplog.text
    assert blocker.read_bytes() == b"user data"


def test_bad_input_older_version_of_the_evidence_is_dropped(tmp_path):
    """Expected: pairs stored by another PAIRS_VERSION are not used (measured again, then stored anew)."""
    db = tmp_path / "pairs.sqlite"
    cache = PairCache(db)
    cache.put("aa", "bb", "thumb", (0.5,))
    cache.save()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {PAIRS_VERSION + 1}")
    con.commit()
    con.close()
    assert PairCache(db).load(["aa", "bb"]) == 0


def test_without_hashes_or_cache_the_reader_measures_as_before(tmp_path):
    paths, sizes, _ = _images(tmp_path)
    reader = PairReader(paths + [None], sizes + [(None, None)])
    assert reader(0, 4) == PairPixels() and reader(0, 1).inliers and reader.cache is None


def test_bad_input_values_that_are_not_numbers_are_measured_again(tmp_path):
    """Expected: a row whose values are text (a hand-edited or foreign pairs.sqlite) is not used; the pair is
    measured again and the audit's numbers are those without a cache."""
    paths, sizes, hashes = _images(tmp_path)
    db = tmp_path / "pairs.sqlite"
    cache = PairCache(db)
    reader = PairReader(paths, sizes, hashes, cache)
    good = reader(2, 3)
    cache.save()
    con = sqlite3.connect(db)
    con.execute("UPDATE pairs SET v2 = 'junk'")
    con.commit()
    con.close()
    again = PairCache(db)
    assert again.load(hashes) == 0
    assert PairReader(paths, sizes, hashes, again)(2, 3) == good
