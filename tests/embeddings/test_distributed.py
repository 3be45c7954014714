"""A Dask job on a real LocalCluster (two worker processes) fills the cache the single-machine path reads."""

import hashlib
import shutil

import numpy as np
import pytest

from tests.conftest import DEMO, tree_digest
from workbench.config import EmbedderConfig
from workbench.embeddings.backends import load_embedder
from workbench.embeddings.distributed import embed_files_distributed
from workbench.embeddings.pipeline import embed_files
from workbench.errors import EmbedderUnavailable
from workbench.io.files import inspect_files
from workbench.io.sources import find_image_files

pytestmark = pytest.mark.slow

LITE0 = EmbedderConfig(name="efficientnet-lite0", device="cpu")


@pytest.fixture(scope="module")
def client(dask_local_client):
    return dask_local_client


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """38 distinct demo images in class folders, one exact copy of one of them, one truncated PNG, one text file."""
    root = tmp_path_factory.mktemp("images")
    picked = sorted(DEMO.glob("train/*/train-*.png"))[::20][:38]
    digests = set()
    for src in picked:
        digests.add(hashlib.sha256(src.read_bytes()).hexdigest())
        (root / src.parent.name).mkdir(exist_ok=True)
        shutil.copyfile(src, root / src.parent.name / src.name)
    assert len(digests) == 38, "the picked demo images are distinct"
    (root / "copies").mkdir()
    shutil.copyfile(picked[0], root / "copies" / "same-content.png")
    (root / "copies" / "corrupt.png").write_bytes(picked[1].read_bytes()[:120])
    (root / "copies" / "notes.txt").write_text("not an image")
    return root


def _plugins(dask_client) -> list[str]:
    return sorted(n for names in dask_client.run(lambda dask_worker: list(dask_worker.plugins)).values()
                  for n in names if n.startswith("workbench-"))


def test_job_writes_the_cache_that_embed_files_reads(client, images, tmp_path):
    files = find_image_files([images])
    assert len(files) == 40  # 38 + the copy + the corrupt file; notes.txt is not an image
    before = tree_digest(images)
    cache = tmp_path / "cache"
    corrupt = str(images / "copies" / "corrupt.png")

    report = embed_files_distributed(files, LITE0, client=client, cache_dir=cache, partition_size=8, progress=False)

    assert (report.n_files, report.n_cached, report.n_computed, report.n_failed) == (40, 0, 39, 1)
    assert list(report.failed) == [corrupt] and "not a decodable image" in report.failed[corrupt]
    shards = sorted(cache.rglob("shard-*.npz"))
    # 38 distinct contents, at most 8 a partition: 5 rounded up to 6 for the 2 workers (6-7 files each)
    assert report.n_shards_written == len(shards) == report.n_partitions == 6
    rows = sum(len(np.load(s)["hashes"]) for s in shards)
    assert rows == 38  # identical content embedded once
    assert not [p for p in cache.rglob("*") if p.name.startswith(".")]  # no temporary file left behind
    assert report.cache_dir == str(shards[0].parent) and report.model_id.startswith("efficientnet-lite0")
    assert _plugins(client) == []  # the job unregistered its worker plugin (the model is dropped)

    # The single-machine path finds every vector cached, and they match a fresh computation.
    embedder = load_embedder(LITE0)
    assert embedder.model_id == report.model_id
    facts = [f for f in inspect_files(files, progress=False) if f.ok]
    paths, hashes = [f.filepath for f in facts], [f.sha256 for f in facts]
    cached = embed_files(paths, paths, hashes, embedder, cache_dir=cache, num_workers=0, progress=False)
    assert (cached.n_computed, cached.n_cached, len(cached.ids)) == (0, 39, 39)
    merged = sorted(cache.rglob("shard-*.npz"))
    assert len(merged) == 1 and merged != shards  # the single-machine read merged the job's small shards
    fresh = embed_files(paths, paths, hashes, embedder, cache_dir=tmp_path / "fresh", num_workers=0, progress=False)
    assert fresh.n_computed == 39 and fresh.ids == cached.ids
    cosine = np.sum(cached.vectors * fresh.vectors, axis=1)
    assert cosine.min() > 0.999, cosine.min()

    again = embed_files_distributed(files, LITE0, client=client, cache_dir=cache, partition_size=8, progress=False)
    assert (again.n_cached, again.n_computed, again.n_shards_written, list(again.failed)) == (39, 0, 0, [corrupt])
    assert sorted(cache.rglob("shard-*.npz")) == merged
    assert tree_digest(images) == before  # input files are only read


def test_a_model_that_cannot_load_stops_the_job_with_its_error(client, images, tmp_path):
    files = find_image_files([images])[:3]
    no_weights = EmbedderConfig(name="clip", clip_checkpoint=str(tmp_path / "missing.pt"), device="cpu")
    with pytest.raises(EmbedderUnavailable, match="open_clip could not load"):
        embed_files_distributed(files, no_weights, client=client, cache_dir=tmp_path / "c", progress=False)
    assert _plugins(client) == [] and not (tmp_path / "c").exists()


def test_no_files_needs_no_cluster(tmp_path):
    report = embed_files_distributed([], LITE0, client="tcp://127.0.0.1:1", cache_dir=tmp_path, progress=False)
    assert (report.n_files, report.n_shards_written) == (0, 0)


def test_fiftyone_still_imports_after_dask_in_one_process():
    """dask's importlib-metadata must stay < 8 while FiftyOne's voxel51-eta 0.17 reads a missing "Author"."""
    import subprocess
    import sys

    code = "import distributed, importlib_metadata; import fiftyone; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
