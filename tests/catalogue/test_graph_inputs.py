"""Bad-input catalogue: ``workbench graph`` on vectors it can't use, and output folders it must not write.

Every case is exit 2 with a message naming the file and what to do, before any cluster is
started; the input files (and an earlier graph) are never changed (:func:`untouched`).
"""

from __future__ import annotations

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
    "one vector": Case(saved("one.npy", unit(1)), 2, ("at least 2 vectors",)),
    "compressed cache shard": Case(compressed_cache, 2, ("compressed",)),
    "foreign zip in a cache": Case(foreign_zip, 2, ("not a readable cache shard", "move it aside")),
    "folder without vectors": Case(empty_folder, 2, ("no .npy files",)),
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
    assert outcome.code == 2 and "inside the input folder" in outcome.text


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
