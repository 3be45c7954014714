"""Atomic writes: a reader sees the old file or the new one, never half of one, and no temporary file stays."""

from __future__ import annotations

import os

import numpy as np
import pytest

from workbench.io.outputs import replaced_atomically, save_npy_atomic, write_text_atomic


def test_save_npy_atomic_keeps_the_name_and_leaves_no_temporary(tmp_path):
    target = save_npy_atomic(tmp_path / "knn-indices.npy", np.arange(6).reshape(2, 3))
    assert target == tmp_path / "knn-indices.npy"
    assert np.array_equal(np.load(target), np.arange(6).reshape(2, 3))
    assert sorted(os.listdir(tmp_path)) == ["knn-indices.npy"]
    save_npy_atomic(tmp_path / "plain", np.zeros(2))  # numpy.save would have added ".npy"
    assert sorted(os.listdir(tmp_path)) == ["knn-indices.npy", "plain"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path):
    old = tmp_path / "pairs.csv"
    old.write_text("row_a,row_b\n0,1\n")
    with pytest.raises(RuntimeError):
        with replaced_atomically(old) as tmp:
            tmp.write_text("row_a,row_b\n0,")
            raise RuntimeError("disk full")
    assert old.read_text() == "row_a,row_b\n0,1\n"
    assert os.listdir(tmp_path) == ["pairs.csv"]


def test_a_writer_stopped_half_way_leaves_the_old_graph(tmp_path):
    old = save_npy_atomic(tmp_path / "g.npy", np.ones(3))
    with pytest.raises(ValueError):
        with replaced_atomically(old) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.zeros(3))
            raise ValueError("the writer stopped half-way")
    assert np.array_equal(np.load(old), np.ones(3))
    assert os.listdir(tmp_path) == ["g.npy"]


def test_write_text_atomic_gives_a_new_file_the_umask_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        path = write_text_atomic(tmp_path / "sub" / "audit.json", "{}")
    finally:
        os.umask(umask)
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o640
