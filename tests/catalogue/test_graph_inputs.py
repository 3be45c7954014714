"""Bad-input catalogue: ``workbench graph`` on vectors it can't use, and output folders it must not write.

Every case is exit 2 with a message naming the file and what to do, before any cluster is
started; the input files (and an earlier graph) are never changed (:func:`untouched`).
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.catalogue.harness import Case, run_cli, untouched


def unit(n: int, dim: int = 8) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def saved(name: str, array: np.ndarray):
    def build(root: Path) -> Path:
        np.save(root / name, array)
        return root / name
    return build


def truncated(root: Path) -> Path:
    np.save(root / "cut.npy", unit(100))
    data = (root / "cut.npy").read_bytes()
    (root / "cut.npy").write_bytes(data[:len(data) // 2])
    return root / "cut.npy"


def not_npy(root: Path) -> Path:
    (root / "vectors.npy").write_text("id,x,y\n1,0.1,0.2\n")
    return root / "vectors.npy"


def mixed_dims(root: Path) -> Path:
    np.save(root / "a.npy", unit(10, 8))
    np.save(root / "b.npy", unit(10, 16))
    return root


def compressed_cache(root: Path) -> Path:
    cache = root / "cache"
    cache.mkdir()
    (cache / "meta.json").write_text('{"model_id": "m", "preprocessing": "p", "format": 1}')
    with open(cache / "shard-x.npz", "wb") as fh:
        np.savez_compressed(fh, hashes=np.array(["a" * 64, "b" * 64], dtype="U64"), vectors=unit(2))
    return cache


def foreign_zip(root: Path) -> Path:
    cache = root / "cache"
    cache.mkdir()
    (cache / "meta.json").write_text("{}")
    with zipfile.ZipFile(cache / "shard-y.npz", "w") as zf:
        zf.writestr("readme.txt", "not a shard")
    return cache


def empty_folder(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


CASES = {
    "missing file": Case(lambda r: r / "nope.npy", 2, ("nope.npy does not exist",)),
    "integer vectors": Case(saved("ints.npy", np.arange(40).reshape(10, 4)), 2, ("int64", "float16 or float32")),
    "one-dimensional": Case(saved("flat.npy", unit(10).ravel()), 2, ("shape (80,)", "2-D")),
    "column order": Case(saved("f.npy", np.asfortranarray(unit(10))), 2, ("Fortran order",)),
    "truncated": Case(truncated, 2, ("cut.npy is truncated",)),
    "not an npy": Case(not_npy, 2, ("not a readable .npy",)),
    "dimensions differ": Case(mixed_dims, 2, ("differ in dimension", "8", "16")),
    "one vector": Case(saved("one.npy", unit(1)), 2, ("at least 2 vectors; found 1",)),
    "an npz archive": Case(lambda r: (np.savez(r / "v.npz", a=unit(3)), r / "v.npz")[1], 2, ("is a .npz archive", "np.save")),
    "structured rows": Case(saved("s.npy", np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])), 2,
                            ("save a plain float32 array",)),
    "compressed cache shard": Case(compressed_cache, 2, ("compressed",)),
    "foreign zip in a cache": Case(foreign_zip, 2, ("not a readable cache shard", "move it aside")),
    "folder without vectors": Case(empty_folder, 2, ("no .npy files directly", "subfolders are not searched")),
    "a CSV file": Case(lambda r: (r / "v.csv").write_text("1,2\n") and r / "v.csv", 2, ("not a .npy file",)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_graph_input_catalogue(name, tmp_path):
    case = CASES[name]
    root = tmp_path / "inputs"
    root.mkdir()
    target = case.build(root)
    with untouched(root):
        outcome = run_cli("graph", target, "--out", tmp_path / "out", *case.args)
    assert outcome.code == case.code, outcome.text
    for phrase in case.phrases:
        assert phrase in outcome.text, (phrase, outcome.text)
    assert not (tmp_path / "out" / "knn-indices.npy").exists()


def test_out_inside_the_input_folder_is_refused(tmp_path):
    np.save(tmp_path / "v.npy", unit(10))
    with untouched(tmp_path):
        outcome = run_cli("graph", tmp_path / "v.npy", "--out", tmp_path / "graph")
    assert outcome.code == 2 and "inside one another" in outcome.text
    (tmp_path / "vectors").mkdir()
    np.save(tmp_path / "vectors" / "w.npy", unit(10))
    with untouched(tmp_path):  # nor may --out hold the input folder
        outcome = run_cli("graph", tmp_path / "vectors", "--out", tmp_path)
    assert outcome.code == 2 and "inside one another" in outcome.text


def _out_is_a_file(out: Path) -> None:
    out.write_text("mine")


def _out_holds_a_graph(out: Path) -> None:
    out.mkdir()
    (out / "pairs.csv").write_text("earlier")


@pytest.mark.parametrize("prepare, phrases", [(_out_is_a_file, ("is a file",)),
                                              (_out_holds_a_graph, ("already holds pairs.csv", "--overwrite"))])
def test_an_out_folder_that_would_lose_a_file_is_refused(tmp_path, prepare, phrases):
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "v.npy", unit(10))
    prepare(tmp_path / "out")
    with untouched(tmp_path):
        outcome = run_cli("graph", tmp_path / "in", "--out", tmp_path / "out")
    assert outcome.code == 2 and all(p in outcome.text for p in phrases), outcome.text


def test_bad_options_are_usage_errors(tmp_path):
    np.save(tmp_path / "v.npy", unit(10))
    for args in (("-k", "0"), ("--threshold", "3"), ("--nprobe", "x"), ("--local-workers", "0")):
        outcome = run_cli("graph", tmp_path / "v.npy", "--out", tmp_path / "o", *args)
        assert outcome.code == 2, args
    assert run_cli("graph", tmp_path / "v.npy").code == 2  # --out is required


def test_a_small_input_is_searched_exactly_here_and_written_like_a_cluster_graph(tmp_path):
    (tmp_path / "in").mkdir()
    x = unit(300, 16)
    x[1] = x[0]
    np.save(tmp_path / "in" / "v.npy", x.astype(np.float16))
    with untouched(tmp_path / "in"):
        outcome = run_cli("graph", tmp_path / "in", "--out", tmp_path / "out", "-k", "5", "--threshold", "1e-6")
    assert outcome.code == 0, outcome.text
    assert "searched exactly in this process" in outcome.stdout
    indices, distances = np.load(tmp_path / "out" / "knn-indices.npy"), np.load(tmp_path / "out" / "knn-distances.npy")
    assert indices.shape == (300, 5) and indices[0, 0] == 1 and distances[0, 0] <= 2.5e-7  # float16 twins
    lines = (tmp_path / "out" / "pairs.csv").read_text().splitlines()
    assert lines[1].startswith("0,1,0.000000,") and len(lines) == 2




def test_a_wrong_scheduler_is_an_input_error_before_any_work(tmp_path):
    """A malformed address, a closed port, and a server that greets in another protocol: exit 2 with the reason
    (never a hang, a traceback or exit 3); nothing is written."""
    import socket
    import threading

    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "v.npy", unit(10_001, 4))  # above 10,000: the cluster is needed
    banner = socket.socket()
    banner.bind(("127.0.0.1", 0))
    banner.listen()

    def greet() -> None:
        with contextlib.suppress(OSError):  # until the test closes the socket
            while True:
                conn, _ = banner.accept()
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n" * 4)

    threading.Thread(target=greet, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    cases = {"garbage": "not a scheduler address", f"tcp://127.0.0.1:{closed_port}": "connection refused",
             f"tcp://127.0.0.1:{banner.getsockname()[1]}": "is not a Dask scheduler"}
    try:
        for address, phrase in cases.items():
            with untouched(tmp_path):
                outcome = run_cli("graph", tmp_path / "in", "--out", tmp_path / "out", "--scheduler", address)
            assert outcome.code == 2 and phrase in outcome.text and "Traceback" not in outcome.text, outcome.text
            assert not (tmp_path / "out").exists()
    finally:
        banner.close()


def test_a_wrong_scheduler_is_refused_even_when_few_vectors_need_no_cluster(tmp_path):
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "v.npy", unit(50))
    with untouched(tmp_path / "in"):
        outcome = run_cli("graph", tmp_path / "in", "--out", tmp_path / "out", "--scheduler", "garbage")
    assert outcome.code == 2 and "not a scheduler address" in outcome.text
    assert not (tmp_path / "out").exists()
