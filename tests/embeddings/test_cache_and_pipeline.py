import hashlib

import numpy as np
import pytest

from tests.conftest import write_image
from workbench.config import EmbedderConfig
from workbench.embeddings.backends import load_clip
from workbench.embeddings.cache import EmbeddingCache
from workbench.embeddings.pipeline import embed_files


def test_cache_round_trip_and_persistence(tmp_path):
    c = EmbeddingCache(tmp_path, "model", "prep")
    c.put(["a" * 64, "b" * 64], np.eye(2, dtype=np.float32))
    mask, vecs = EmbeddingCache(tmp_path, "model", "prep").get(["b" * 64, "c" * 64, None])
    assert mask.tolist() == [True, False, False]
    np.testing.assert_array_equal(vecs, [[0, 1]])
    assert len(EmbeddingCache(tmp_path, "model", "other-prep")) == 0  # keyed by preprocessing too
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]  # no temp files


def test_known_hashes_and_writers_that_never_read(tmp_path):
    writer = EmbeddingCache(tmp_path, "model", "prep")
    writer.put(["a" * 64], np.ones((1, 2), np.float32))
    assert writer._index is None  # a writer (a distributed task) never loads the other shards
    EmbeddingCache(tmp_path, "model", "prep").put(["b" * 64], np.ones((1, 2), np.float32))
    reader = EmbeddingCache(tmp_path, "model", "prep")
    assert reader.known_hashes() == {"a" * 64, "b" * 64} and reader._index is None
    assert reader.get(["b" * 64])[0].tolist() == [True]
    reader.put(["c" * 64], np.zeros((1, 2), np.float32))  # a loaded index stays current
    assert reader.known_hashes() == {"a" * 64, "b" * 64, "c" * 64} and len(reader) == 3
    # a half-written shard of a concurrent writer is invisible to readers
    (writer.dir / ".tmp-partial.npz").write_bytes(b"PK\x03\x04 half")
    assert len(EmbeddingCache(tmp_path, "model", "prep")) == 3


@pytest.fixture(scope="module")
def tiny_clip():
    return load_clip(EmbedderConfig(name="clip", clip_model="RN50", clip_pretrained=None, device="cpu"))


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_rerun_embeds_only_new_or_changed(tmp_path, tiny_clip):
    paths = [write_image(tmp_path / f"{i}.png", i) for i in range(6)]
    ids = [f"id{i}" for i in range(6)]
    cache = tmp_path / "cache"
    first = embed_files(ids, [str(p) for p in paths], [_sha(p) for p in paths], tiny_clip, cache_dir=cache,
                        batch_size=4, num_workers=0, progress=False)
    assert first.n_computed == 6 and first.n_cached == 0 and first.vectors.shape == (6, 1024)
    write_image(paths[2], 100)  # changed content
    paths.append(write_image(tmp_path / "new.png", 7))
    ids.append("id-new")
    second = embed_files(ids, [str(p) for p in paths], [_sha(p) for p in paths], tiny_clip, cache_dir=cache,
                         batch_size=4, num_workers=0, progress=False)
    assert second.n_cached == 5 and second.n_computed == 2 and len(second.ids) == 7
    np.testing.assert_allclose(second.vectors[0], first.vectors[0], atol=1e-6)


def test_identical_content_embedded_once_and_bad_file_reported(tmp_path, tiny_clip):
    a = write_image(tmp_path / "a.png", 1)
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = embed_files(["a", "b", "bad", "gone"], [str(a), str(b), str(bad), str(tmp_path / "gone.png")],
                    [_sha(a), _sha(b), _sha(bad), None], tiny_clip, cache_dir=tmp_path / "c", num_workers=0,
                    progress=False)
    assert r.ids == ("a", "b") and r.n_computed == 2
    np.testing.assert_array_equal(r.vectors[0], r.vectors[1])
    assert set(r.failed) == {"bad", "gone"} and "Error" in r.failed["bad"]
