"""The k-NN graph on a real Dask LocalCluster (two worker processes) equals the single-machine engine."""

from __future__ import annotations

import numpy as np
import pytest

from tests.catalogue.harness import untouched
from workbench.checks.neighbors import knn_graph
from workbench.checks.neighbors_cluster import group_lists, knn_graph_on_cluster
from workbench.io.vector_blocks import RowStore, VectorInputError, open_blocks

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client(dask_local_client):
    return dask_local_client


def clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Unit rows around ``n // 50`` centres, with a few exact and near copies."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(2, n // 50), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.4 * rng.standard_normal((n, dim)).astype(np.float32)
    x[1::97] = x[0::97][:len(x[1::97])] + 0.001 * rng.standard_normal((len(x[1::97]), dim)).astype(np.float32)
    x[5] = x[4]  # an exact copy: a tie the two engines must break the same way
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def single_engine(x: np.ndarray, k: int):
    """The single-machine ``ivf`` engine with one BLAS thread, as each worker task runs."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return knn_graph(x, k, method="ivf")
    finally:
        faiss.omp_set_num_threads(before)


def test_same_graph_as_the_single_machine_engine(tmp_path, dask_client):
    x = clustered(12_000)
    data = tmp_path / "vectors"
    data.mkdir()
    np.save(data / "a.npy", x[:5000])
    np.save(data / "b.npy", x[5000:9000].astype(np.float16))  # float16 blocks are read as float32
    np.save(data / "c.npy", x[9000:])
    blocks, hashes = open_blocks([data])
    assert hashes is None and [b.n for b in blocks] == [5000, 4000, 3000]
    with untouched(data):
        report = knn_graph_on_cluster(blocks, tmp_path / "graph", k=8, client=dask_client, part_rows=2500,
                                      group_rows=2000, threads=1)
    assert (report.n, report.k, report.n_parts) == (12_000, 8, 5) and report.n_groups >= 6
    assert set(report.seconds) >= {"train", "assign", "search", "merge", "write", "total"}
    assert len(report.workers) == 2 and all(w["heap_peak_mb"] > 0 for w in report.workers.values())
    got = report.graph()
    want = single_engine(RowStore(blocks).read(0, 12_000), 8)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.distances, want.distances)
    assert got.distances[4, 0] == 0.0 and got.indices[4, 0] == 5  # the exact copy
    assert not list((tmp_path / "graph").glob(".knn-work-*"))  # the work folder is removed


def test_an_embedding_cache_folder_is_read_in_place_once_per_content(tmp_path, dask_client):
    from workbench.embeddings.cache import EmbeddingCache

    x = clustered(3000, seed=3)
    digests = [f"{i:064x}" for i in range(3000)]
    cache = EmbeddingCache(tmp_path / "cache", "model", "prep")
    cache.put(digests[:2000], x[:2000])
    cache.put(digests[1500:], x[1500:])  # 500 contents in both shards: read once
    blocks, hashes = open_blocks([cache.dir])
    assert sum(b.n for b in blocks) == 3000
    flat = np.concatenate(hashes)
    assert len(set(flat.tolist())) == 3000
    report = knn_graph_on_cluster(blocks, tmp_path / "graph", k=5, client=dask_client, threads=1, method="ivf")
    order = np.array([int(h, 16) for h in flat.tolist()])  # graph row -> original row
    want = single_engine(x[order], 5)
    np.testing.assert_array_equal(report.graph().indices, want.indices)


def test_a_non_finite_vector_is_named_by_the_task_that_reads_it(tmp_path, dask_client):
    x = clustered(3000)
    x[2222, 3] = np.nan
    data = tmp_path / "vectors"
    data.mkdir()
    np.save(data / "bad.npy", x)
    blocks, _ = open_blocks([data / "bad.npy"])
    with untouched(data), pytest.raises(VectorInputError, match=r"vector 2222 .*bad\.npy row 2222.*NaN"):
        knn_graph_on_cluster(blocks, tmp_path / "graph", k=5, client=dask_client, part_rows=1000, method="ivf")
    assert not list((tmp_path / "graph").glob(".knn-work-*"))


def test_every_row_is_read_at_unit_length_so_identical_float16_rows_are_at_distance_zero(tmp_path):
    x = clustered(100)
    x[7] *= 3.0
    x16 = x.astype(np.float16)
    x16[9] = x16[8]
    np.save(tmp_path / "v.npy", x16)
    read = RowStore(open_blocks([tmp_path / "v.npy"])[0]).read(0, 100)
    np.testing.assert_allclose(np.linalg.norm(read, axis=1), 1.0, atol=1e-6)
    graph = knn_graph(read, 3, method="exact")
    assert graph.indices[8, 0] == 9 and graph.distances[8, 0] <= 2.5e-7  # one float32 step from 0 at most (was ~1e-4)


def test_list_groups_are_balanced_by_cost_and_cover_every_list():
    members = np.array([100, 1, 1, 1, 1, 1, 1, 100])
    starts = group_lists(members, members * 4, 4)
    assert starts[0] == 0 and starts[-1] == 8 and (np.diff(starts) > 0).all()
    assert starts.tolist()[:2] == [0, 1]  # the costly first list is a group of its own


def test_cli_graph_on_a_scheduler_writes_the_graph_and_the_pairs(tmp_path, dask_client):
    from tests.catalogue.harness import run_cli

    x = clustered(12_000, seed=5)
    data = tmp_path / "vectors"
    data.mkdir()
    np.save(data / "part-0.npy", x[:8000])
    np.save(data / "part-1.npy", x[8000:])
    out = tmp_path / "out"
    with untouched(data):
        outcome = run_cli("graph", data, "--out", out, "--scheduler", dask_client.scheduler.address,
                          "-k", "6", "--threshold", "0.01")
    assert outcome.code == 0, outcome.text
    assert f"12,000 vectors (64-d, 2 blocks) on {dask_client.scheduler.address}" in outcome.stdout
    assert "list groups" in outcome.stdout and "pairs " in outcome.stdout
    indices = np.load(out / "knn-indices.npy")
    assert indices.shape == (12_000, 6)
    rows = (out / "pairs.csv").read_text().splitlines()
    assert rows[0] == "row_a,row_b,distance,file_a,file_row_a,file_b,file_row_b"
    planted = {(i, i + 1) for i in range(0, 12_000, 97) if i + 1 < 12_000} | {(4, 5)}
    found = {(int(r.split(",")[0]), int(r.split(",")[1])) for r in rows[1:]}
    assert planted <= found
    by_row = {int(r.split(",")[0]): r.split(",") for r in rows[1:]}
    assert by_row[8051][3:] == [str(data / "part-1.npy"), "51", str(data / "part-1.npy"), "52"]  # part-1's rows 51, 52
    summary = (out / "graph.json").read_text()
    assert '"threshold": 0.01' in summary and '"method": "ivf"' in summary
    again = run_cli("graph", data, "--out", out, "--scheduler", dask_client.scheduler.address)
    assert again.code == 2 and "--overwrite" in again.text  # the graph already there is kept
    assert np.array_equal(np.load(out / "knn-indices.npy"), indices)
    # --overwrite replaces the graph only once the new one is made, and drops what the new run does not write
    replaced = run_cli("graph", data, "--out", out, "--scheduler", dask_client.scheduler.address, "--overwrite")
    assert replaced.code == 0, replaced.text
    assert not (out / "pairs.csv").exists() and np.load(out / "knn-indices.npy").shape == (12_000, 10)


def test_empty_neighbour_slots_are_reported(tmp_path, dask_client):
    from tests.catalogue.harness import run_cli

    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "v.npy", clustered(10_500))
    outcome = run_cli("graph", tmp_path / "in" / "v.npy", "--out", tmp_path / "out", "--scheduler",
                      dask_client.scheduler.address, "-k", "300", "--nprobe", "1")
    assert outcome.code == 0, outcome.text
    indices = np.load(tmp_path / "out" / "knn-indices.npy")
    empty = int((indices < 0).sum())
    assert empty > 0 and f"{empty:,} neighbour slots" in outcome.stdout and "raise --nprobe" in outcome.stdout
