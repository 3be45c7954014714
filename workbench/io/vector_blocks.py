"""Embedding vectors on disk, read as memory-mapped blocks: ``.npy`` files and the embedding cache's shards.

The neighbour graph on a cluster (:mod:`workbench.checks.neighbors_cluster`) never holds all
vectors in one process: every task maps the blocks it needs and copies out only its rows.

- A ``.npy`` file: a 2-D float16 or float32 array, one row per vector.
- An embedding cache folder (``<cache>/embeddings/<key>``, the one with ``meta.json``): each
  ``shard-*.npz`` holds its ``vectors`` member uncompressed (``np.savez``), so the member is
  mapped in place at its offset inside the zip. A content hash held by several shards is read
  once (its first shard): the graph has one row per distinct image.

:func:`open_blocks` checks every file's header (type, shape, size on disk) before any work;
:meth:`RowStore.gather` checks the rows it reads (finite, not all zero) and scales every row to
unit length (float16 rounding alone moves a stored unit vector's length by up to ~1e-3, which
would put two identical rows that far apart).
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.errors import WorkbenchError



class VectorInputError(WorkbenchError, ValueError):
    """Vectors that can't be graphed: not a float matrix, dimensions that differ, non-finite or zero rows."""


@dataclass(frozen=True)
class VectorBlock:
    """One memory-mappable 2-D array: ``rows x dim`` values of ``dtype`` at ``offset`` bytes into ``path``.

    ``keep`` (sorted local rows) selects the rows that belong to the graph; ``None`` keeps all.
    """

    path: str
    offset: int
    dtype: str
    rows: int
    dim: int
    label: str
    keep: np.ndarray | None = field(default=None, compare=False)

    @property
    def n(self) -> int:
        return self.rows if self.keep is None else len(self.keep)

    def mapped(self) -> np.ndarray:
        """The whole array, memory-mapped read-only (nothing is read until rows are indexed)."""
        return np.memmap(self.path, dtype=np.dtype(self.dtype), mode="r", offset=self.offset,
                         shape=(self.rows, self.dim))


def _header(fh, label: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    try:
        major, _ = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    except (ValueError, OSError, EOFError, SyntaxError, struct.error) as exc:
        raise VectorInputError(f"{label} is not a readable .npy array ({exc})") from None
    return dtype, shape, fortran


def _check_array(label: str, dtype: np.dtype, shape: tuple[int, ...], fortran: bool, available: int) -> None:
    if dtype.kind != "f" or dtype.itemsize not in (2, 4):
        fix = ("convert with array.astype('float32')" if dtype.kind in "fiub" and not dtype.fields
               else "save a plain float32 array, one row per vector")
        raise VectorInputError(f"{label} holds {dtype} values; the graph reads float16 or float32 vectors ({fix})")
    if len(shape) != 2 or shape[1] < 1:
        raise VectorInputError(f"{label} has shape {shape}; the graph needs a 2-D array, one row per vector")
    if fortran and shape[0] > 1 and shape[1] > 1:
        raise VectorInputError(f"{label} is stored column by column (Fortran order); save it with "
                               "np.save(path, np.ascontiguousarray(array))")
    need = shape[0] * shape[1] * dtype.itemsize
    if available < need:
        raise VectorInputError(f"{label} is truncated: its header promises {need} bytes of vectors, the file "
                               f"holds {max(available, 0)}")


def npy_block(path: str | os.PathLike[str]) -> VectorBlock:
    """The block of one ``.npy`` file (its header checked; no vector read)."""
    path = os.path.abspath(os.fspath(path))
    try:
        with open(path, "rb") as fh:
            dtype, shape, fortran = _header(fh, path)
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise VectorInputError(f"can't read {path} ({exc.strerror or exc})") from None
    _check_array(path, dtype, shape, fortran, size - offset)
    return VectorBlock(path, offset, dtype.str, int(shape[0]), int(shape[1]), path)


def cache_shard_blocks(folder: str | os.PathLike[str]) -> tuple[list[VectorBlock], list[np.ndarray]]:
    """The ``vectors`` members of an embedding cache folder's shards, and each block's kept hashes.

    A shard whose ``vectors`` member is compressed (not written by workbench) is refused.
    """
    folder = Path(folder)
    blocks: list[VectorBlock] = []
    hashes_of: list[np.ndarray] = []
    seen: set[str] = set()
    for shard in sorted(folder.glob("shard-*.npz")):
        label = f"{shard} (vectors)"
        try:
            with zipfile.ZipFile(shard) as zf:
                info = zf.getinfo("vectors.npy")
                with zf.open("hashes.npy") as fh:
                    hashes = np.lib.format.read_array(fh, allow_pickle=False)
            if info.compress_type != zipfile.ZIP_STORED:
                raise VectorInputError(f"{label} is compressed, so it can't be mapped; the cache holds "
                                       "uncompressed shards only (rewrite it with np.savez)")
            with open(shard, "rb") as fh:
                fh.seek(info.header_offset)
                local = fh.read(30)
                name_len, extra_len = struct.unpack("<HH", local[26:30])
                fh.seek(info.header_offset + 30 + name_len + extra_len)
                dtype, shape, fortran = _header(fh, label)
                offset = fh.tell()
        except VectorInputError:
            raise
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, struct.error) as exc:
            raise VectorInputError(f"{shard} is not a readable cache shard ({exc}); move it aside") from None
        available = info.file_size - (offset - (info.header_offset + 30 + name_len + extra_len))
        _check_array(label, dtype, shape, fortran, available)
        if hashes.shape != (shape[0],):
            raise VectorInputError(f"{shard} holds {shape[0]} vectors but {hashes.shape} hashes; move it aside")
        fresh = np.array([h not in seen for h in hashes.tolist()], dtype=bool)
        seen.update(hashes.tolist())
        if not fresh.any():
            continue
        keep = None if fresh.all() else np.flatnonzero(fresh)
        blocks.append(VectorBlock(str(shard.resolve()), offset, dtype.str, int(shape[0]), int(shape[1]),
                                  label, keep))
        hashes_of.append(hashes[fresh])
    return blocks, hashes_of


def open_blocks(inputs: list[str | os.PathLike[str]]) -> tuple[list[VectorBlock], list[np.ndarray] | None]:
    """The blocks of ``.npy`` files, folders of them (by name), or one embedding cache folder.

    Returns the blocks in row order and, for a cache folder, the content hash of every row.
    """
    blocks: list[VectorBlock] = []
    hashes: list[np.ndarray] | None = None
    for raw in inputs:
        path = Path(os.path.expanduser(os.fspath(raw)))
        if not path.exists():
            raise VectorInputError(f"{raw} does not exist")
        if path.is_dir() and (path / "meta.json").exists():
            if len(inputs) > 1:
                raise VectorInputError(f"{raw} is an embedding cache folder: graph it on its own")
            blocks, hashes = cache_shard_blocks(path)
            if not blocks:
                raise VectorInputError(f"{raw} holds no readable shard-*.npz")
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".npy" and p.is_file())
            if not found:
                raise VectorInputError(f"{raw} holds no .npy files directly (subfolders are not searched; and "
                                       "no meta.json: it is not an embedding cache folder)")
            blocks += [npy_block(p) for p in found]
        elif path.suffix.lower() == ".npy":
            blocks.append(npy_block(path))
        elif path.suffix.lower() == ".npz":
            raise VectorInputError(f"{raw} is a .npz archive; save the array of vectors as .npy "
                                   "(np.save('vectors.npy', np.load(path)['name'])), or pass an embedding cache "
                                   "folder (the one holding meta.json)")
        else:
            raise VectorInputError(f"{raw} is not a .npy file, a folder of them or an embedding cache folder")
    dims = {b.dim for b in blocks}
    if len(dims) > 1:
        first = blocks[0]
        other = next(b for b in blocks if b.dim != first.dim)
        raise VectorInputError(f"the vectors differ in dimension: {first.label} has {first.dim}, "
                               f"{other.label} has {other.dim}; graph one model's vectors at a time")
    blocks = [b for b in blocks if b.n]
    if sum(b.n for b in blocks) < 2:
        raise VectorInputError(f"the graph needs at least 2 vectors; found {sum(b.n for b in blocks)}")
    return blocks, hashes


class RowStore:
    """Rows ``0 .. n-1`` over blocks in order; :meth:`gather` reads any sorted rows as unit float32 vectors.

    Picklable (only the block descriptions travel); each process maps the files itself, once.
    """

    def __init__(self, blocks: list[VectorBlock]) -> None:
        self.blocks = list(blocks)
        self.starts = np.concatenate([[0], np.cumsum([b.n for b in self.blocks])]).astype(np.int64)
        self.dim = self.blocks[0].dim if self.blocks else 0
        self._maps: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict:
        return {"blocks": self.blocks, "starts": self.starts, "dim": self.dim}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._maps = {}

    @property
    def n(self) -> int:
        return int(self.starts[-1])

    def close(self) -> None:
        """Drop this process's maps (the page cache keeps what the OS wants)."""
        self._maps.clear()

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop-1``."""
        return self.gather(np.arange(start, stop, dtype=np.int64))

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The unit float32 vectors of ``rows`` (ascending). Raises :class:`VectorInputError` on a bad row."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        cuts = np.flatnonzero(np.diff(which)) + 1
        for part in np.split(np.arange(len(rows)), cuts):
            if not len(part):
                continue
            b = int(which[part[0]])
            block = self.blocks[b]
            local = rows[part] - self.starts[b]
            if block.keep is not None:
                local = block.keep[local]
            mapped = self._maps.get(b)
            if mapped is None:
                mapped = self._maps[b] = block.mapped()
            out[part] = mapped[local]
        return _unit_rows(out, rows, self)

    def locate(self, row: int) -> tuple[str, int]:
        """The file and the row within it of global ``row``."""
        b = int(np.searchsorted(self.starts, row, side="right") - 1)
        block = self.blocks[b]
        return block.path, int(row - self.starts[b] if block.keep is None else block.keep[row - self.starts[b]])

    def where(self, row: int) -> str:
        """``file row N`` of global ``row``, for messages."""
        b = int(np.searchsorted(self.starts, row, side="right") - 1)
        return f"{self.blocks[b].label} row {self.locate(row)[1]}"


def _unit_rows(x: np.ndarray, rows: np.ndarray, store: RowStore) -> np.ndarray:
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise VectorInputError(f"vector {int(rows[np.argmax(bad)])} ({store.where(int(rows[np.argmax(bad)]))}) "
                               "holds NaN or infinite values; fix or drop it before graphing")
    norms = np.linalg.norm(x, axis=1)
    if (norms == 0).any():
        row = int(rows[np.argmax(norms == 0)])
        raise VectorInputError(f"vector {row} ({store.where(row)}) is all zeros: it has no direction to compare")
    x /= norms[:, None]
    return x
