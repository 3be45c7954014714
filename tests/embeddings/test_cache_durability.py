"""The embedding cache keeps finished work through kills, sets corrupt shards aside, and
refuses a folder it can't use."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, write_image
from tests.embeddings.killable_run import BATCH_SIZE, embed, pixel_embedder, sha256
from workbench.embeddings.cache import COMPACT_BELOW_ROWS, CacheUnusable, EmbeddingCache
from workbench.embeddings.pipeline import embed_files


def _images(folder: Path, n: int) -> list[str]:
    return [str(write_image(folder / f"{i:03d}.png", i, size=12)) for i in range(n)]


def _shards(cache_root: Path) -> list[Path]:
    return sorted(cache_root.glob("*/shard-*.npz"))


def test_a_killed_run_keeps_every_finished_batch(tmp_path: Path) -> None:
    paths = _images(tmp_path / "imgs", 200)
    listing = tmp_path / "paths.txt"
    listing.write_text("\n".join(paths))
    cache = tmp_path / "cache"
    finished = 5  # batches the run completes before it is stuck mid-batch and killed
    child = subprocess.Popen([sys.executable, "-m", "tests.embeddings.killable_run", str(cache), str(listing),
                              str(finished)], cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300  # generous for a busy machine; the loop ends as soon as shards exist
        while len(_shards(cache)) < finished:
            assert child.poll() is None, f"the run ended early: {child.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no shards were written"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(_shards(cache)) == finished  # one shard per batch, nothing merged (the run never ended)

    again = embed(paths, cache)
    assert again.n_cached == finished * BATCH_SIZE and again.n_computed == 200 - finished * BATCH_SIZE
    assert again.n_cached + again.n_computed == 200 and len(again.ids) == 200
    fresh = embed(paths, tmp_path / "fresh-cache")
    np.testing.assert_allclose(again.vectors, fresh.vectors, atol=1e-6)
    assert len(_shards(cache)) == 1  # the batches and the killed run's shards, merged
    assert not [p for p in cache.rglob("*") if p.name.startswith(".tmp")]
    third = embed(paths, cache)
    assert third.n_cached == 200 and third.n_computed == 0


def test_each_batch_is_a_shard_until_the_run_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _images(tmp_path / "imgs", 40)
    seen: list[int] = []
    real_put = EmbeddingCache.put

    def counting_put(self, hashes, vectors):
        seen.append(len(_shards(tmp_path / "cache")))  # shards on disk before this batch is written
        return real_put(self, hashes, vectors)

    monkeypatch.setattr(EmbeddingCache, "put", counting_put)
    result = embed(paths, tmp_path / "cache")
    assert result.n_computed == 40 and seen == [0, 1, 2]  # batches of 16, 16, 8
    assert len(_shards(tmp_path / "cache")) == 1


def _cache_with(tmp_path: Path, rows: dict[str, int]) -> EmbeddingCache:
    cache = EmbeddingCache(tmp_path, "m", "p", dim=4)
    for name, n in rows.items():
        cache.put([f"{name}{i:063d}" for i in range(n)], np.eye(n, 4, dtype=np.float32) + 0.5)
    return cache


def _corrupt(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(512))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "npy, not npz":
        with open(path, "wb") as fh:
            np.save(fh, np.ones((2, 4), np.float32))
    elif how == "hashes are numbers":
        np.savez(path, hashes=np.arange(2), vectors=np.ones((2, 4), np.float32))
    elif how == "another model's width":
        np.savez(path, hashes=np.array(["x" * 64, "y" * 64]), vectors=np.ones((2, 7), np.float32))
    elif how == "rows don't match":
        np.savez(path, hashes=np.array(["x" * 64, "y" * 64]), vectors=np.ones((3, 4), np.float32))
    elif how == "NaN vectors":
        np.savez(path, hashes=np.array(["x" * 64, "y" * 64]), vectors=np.full((2, 4), np.nan, np.float32))
    elif how == "no vectors":
        np.savez(path, hashes=np.array(["x" * 64, "y" * 64]))


CORRUPTIONS = ["truncated", "garbage", "empty", "npy, not npz", "hashes are numbers", "another model's width",
               "rows don't match", "NaN vectors", "no vectors"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_shard_is_named_set_aside_and_the_rest_is_read(tmp_path: Path, how: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    cache = _cache_with(tmp_path, {"a": 3, "b": 2})
    good, bad = sorted(_shards(tmp_path), key=lambda p: p.stat().st_size, reverse=True)  # a: 3 rows
    _corrupt(bad, how)
    with caplog.at_level(logging.WARNING):
        reader = EmbeddingCache(tmp_path, "m", "p", dim=4)
        mask, vectors = reader.get([f"a{i:063d}" for i in range(3)] + [f"b{i:063d}" for i in range(2)])
    assert mask.tolist() == [True, True, True, False, False] and vectors.shape == (3, 4)
    assert str(bad) in caplog.text and "corrupt" in caplog.text
    assert not bad.exists() and bad.with_name(bad.name + ".corrupt").exists()  # renamed, never deleted
    assert reader.set_aside == [bad.with_name(bad.name + ".corrupt")] and good.exists()
    assert cache.dir == reader.dir


def test_known_hashes_sets_unreadable_shards_aside_too(tmp_path: Path) -> None:
    _cache_with(tmp_path, {"a": 3, "b": 2})
    bad = min(_shards(tmp_path), key=lambda p: p.stat().st_size)
    _corrupt(bad, "garbage")
    assert EmbeddingCache(tmp_path, "m", "p").known_hashes() == {f"a{i:063d}" for i in range(3)}
    assert bad.with_name(bad.name + ".corrupt").exists()


def test_vectors_of_a_corrupt_shard_are_computed_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = _images(tmp_path / "imgs", 20)
    cache = tmp_path / "cache"
    first = embed(paths[:10], cache)
    assert first.n_computed == 10
    embed(paths[10:], cache)  # two runs: two shards of 10 (each under the merge size, merged into one)
    (shard,) = _shards(cache)
    _corrupt(shard, "truncated")
    with caplog.at_level(logging.WARNING):
        again = embed(paths, cache)
    assert again.n_computed == 20 and again.n_cached == 0 and len(again.ids) == 20
    assert shard.name in caplog.text
    assert shard.with_name(shard.name + ".corrupt").exists() and len(_shards(cache)) == 1


def test_compaction_merges_small_shards_keeps_big_ones_and_survives_a_stale_reader(tmp_path: Path) -> None:
    cache = _cache_with(tmp_path, {"a": 3, "b": 2, "c": 4})
    big = [f"d{i:063d}" for i in range(COMPACT_BELOW_ROWS)]
    cache.put(big, np.ones((len(big), 4), np.float32))
    cache.put(["a" + "0" * 63], np.full((1, 4), 0.5, np.float32))  # a repeated row: kept once
    stale_listing = _shards(tmp_path)
    old_tmp = cache.dir / ".tmp-killed-writer.npz"
    old_tmp.write_bytes(b"half")
    os.utime(old_tmp, (time.time() - 7200,) * 2)
    live_tmp = cache.dir / ".tmp-live-writer.npz"
    live_tmp.write_bytes(b"half")

    reader = EmbeddingCache(tmp_path, "m", "p")
    merged = EmbeddingCache(tmp_path, "m", "p").compact()
    assert merged == 4 and len(_shards(tmp_path)) == 2  # the big shard and the merged one
    assert not old_tmp.exists() and live_tmp.exists()
    # A reader that listed the folder before the merge finds the merged shard instead of the vanished ones.
    listings = iter([stale_listing])
    real = reader._shard_files
    reader._shard_files = lambda: next(listings, None) or real()
    assert len(reader) == 9 + COMPACT_BELOW_ROWS and not reader.set_aside
    assert EmbeddingCache(tmp_path, "m", "p").known_hashes() == frozenset(reader._index)
    assert EmbeddingCache(tmp_path, "m", "p").compact() == 0  # nothing left to merge


def test_a_cache_folder_that_cannot_be_used_is_refused_before_any_work(tmp_path: Path) -> None:
    paths = _images(tmp_path / "imgs", 3)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    calls = []
    embedder = pixel_embedder()
    real_forward = embedder.forward
    embedder.forward = lambda batch: calls.append(1) or real_forward(batch)
    for root in (blocker, blocker / "below"):
        with pytest.raises(CacheUnusable, match=r"can't be used.*--cache-dir"):
            embed_files(["a", "b", "c"], paths, [sha256(p) for p in paths], embedder, cache_dir=str(root),
                        num_workers=0, progress=False)
    assert calls == []  # refused before the model ran
    with pytest.raises(CacheUnusable):
        EmbeddingCache(blocker, "m", "p").put(["a" * 64], np.ones((1, 4), np.float32))
    assert blocker.read_text() == "a file where the cache folder should be"
