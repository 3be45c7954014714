"""Read each image file once: content hash, header facts and whether it decodes.

Read-only: nothing here writes to, moves or deletes a user's file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

from workbench.io.facts import FileFacts
from workbench.io.facts_cache import FactsCache

__all__ = ["THUMB_SIDE", "FileFacts", "area_thumbnail", "image_signatures", "inspect_file", "inspect_files",
           "perceptual_hash"]

log = logging.getLogger(__name__)


#: Per-file measures: ``{key: function of the decoded upright RGB image -> {name: number}}``.
Measures = Mapping[str, Callable[[Any], dict[str, float]]]


def inspect_file(filepath: str, measures: Measures | None = None) -> FileFacts:
    """Hash ``filepath``, check that it is a decodable image and take the ``measures`` of its pixels.

    A measure that raises is logged and left out; the file's other facts stand.

    Example:
        >>> facts = inspect_file("data/demo/fashion-mnist/train/Bag/corrupt-truncated.png")  # doctest: +SKIP
        >>> facts.problem_kind  # doctest: +SKIP
        'unreadable'
    """
    from PIL import Image, UnidentifiedImageError

    from workbench.io.pixels import to_rgb

    try:
        with open(filepath, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return FileFacts(filepath, None, None, None, None, None,
                         "file not found; restore it or remove the sample from the dataset", "missing")
    except OSError as exc:
        return FileFacts(filepath, None, None, None, None, None,
                         f"can't read the file ({exc.strerror}); check its permissions", "missing")
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return FileFacts(filepath, digest, 0, None, None, None,
                         "the file is empty (0 bytes); re-export or re-download it", "empty")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.load()  # a full decode catches truncated files that verify() lets through
            upright = to_rgb(img)
            width, height = upright.size  # as shown: an EXIF-rotated photo reports its upright size
            phash, phash_mirror, thumb = image_signatures(upright)
            measured = _measure(upright, img, measures, filepath) if measures else None
    except UnidentifiedImageError:
        return FileFacts(filepath, digest, len(data), None, None, None,
                         "not an image in any format Pillow reads; re-export or remove it", "unreadable")
    except Exception as exc:  # Pillow raises many types for bad data; all mean "not decodable"
        return FileFacts(filepath, digest, len(data), None, None, None,
                         f"not a decodable image ({type(exc).__name__}: {exc}); re-export or remove it",
                         "unreadable")
    return FileFacts(filepath, digest, len(data), width, height, fmt, phash=phash, phash_mirror=phash_mirror,
                     thumb=thumb, measures=measured)


def _measure(upright, original, measures: Measures, filepath: str) -> str:
    """The measures as JSON text; each measure gets the upright RGB image (its ``info["mode"]`` holds
    the file's own mode, e.g. ``L`` for a grey file, and ``info["quantization"]`` a JPEG's quantisation
    tables, ``None`` for other formats)."""
    import json

    upright.info["mode"] = original.mode
    upright.info["quantization"] = getattr(original, "quantization", None)
    out = {}
    for key, fn in measures.items():
        try:
            out[key] = {k: float(v) for k, v in fn(upright).items()}
        except Exception as exc:  # one measure's bug must not make the file unreadable
            log.warning("measure %s failed on %s: %s: %s", key, filepath, type(exc).__name__, exc)
    return json.dumps(out, sort_keys=True, allow_nan=False)


#: Side of the greyscale thumbnail kept per image (see :func:`image_signatures`).
THUMB_SIDE = 16


def image_signatures(rgb) -> tuple[str, str, str]:
    """``(phash, mirrored phash, thumbnail hex)`` of an upright RGB image (see :class:`FileFacts`).

    Example:
        >>> from PIL import Image
        >>> p, m, t = image_signatures(Image.new("RGB", (40, 30), (10, 200, 30)))
        >>> len(p), len(m), len(t)
        (16, 16, 1536)
    """
    from PIL import Image

    mirrored = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return perceptual_hash(rgb), perceptual_hash(mirrored), area_thumbnail(rgb).tobytes().hex()


def area_thumbnail(rgb, side: int = THUMB_SIDE):
    """``[side, side, 3]`` uint8: each pixel the exact mean of the image area it covers.

    Exact area weights (not PIL's resampling, which is not mirror-symmetric at fractional
    scales): the thumbnail of a mirror image is the mirrored thumbnail, and a rescaled copy's
    thumbnail matches its original's. Large images are first reduced by an integer factor.

    Example:
        >>> from PIL import Image
        >>> import numpy as np
        >>> img = Image.fromarray(np.arange(28 * 28 * 3, dtype=np.uint8).reshape(28, 28, 3))
        >>> flip = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        >>> bool((area_thumbnail(img)[:, ::-1] == area_thumbnail(flip)).all())
        True
    """
    import numpy as np

    img = rgb.convert("RGB")
    factor = min(img.size) // (side * 8)
    if factor > 1:
        img = img.reduce(factor)
    x = np.asarray(img, dtype=np.float64)
    t = np.einsum("ih,hwc->iwc", _area_weights(x.shape[0], side), x)
    t = np.einsum("iwc,jw->ijc", t, _area_weights(x.shape[1], side))
    return np.clip(np.rint(t), 0, 255).astype(np.uint8)


def _area_weights(n: int, side: int):
    """``[side, n]``: row ``i`` averages the input cells ``[i * n / side, (i + 1) * n / side)``."""
    import numpy as np

    edges = np.arange(side + 1) * n / side
    cells = np.arange(n)
    lo, hi = edges[:-1, None], edges[1:, None]
    w = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def perceptual_hash(img) -> str:
    """imagehash's DCT perceptual hash (64 bits, hex) of a decoded PIL image.

    Pass the image through :func:`workbench.io.pixels.to_rgb` first (as :func:`inspect_file`
    does): imagehash's own greyscale conversion drops transparency and clips 16-bit values.
    """
    import imagehash

    return str(imagehash.phash(img))


def inspect_files(filepaths: Sequence[str], *, workers: int | None = None, progress: bool = True,
                  cache_path: str | os.PathLike | None = None, measures: Measures | None = None) -> list[FileFacts]:
    """:func:`inspect_file` over many files with a thread pool (I/O and hashing release the GIL).

    With ``cache_path`` (a SQLite file, see :mod:`workbench.io.facts_cache`), files whose size
    and modification time are unchanged since they were last read are not read again.
    """
    from tqdm.auto import tqdm

    cache = None
    known: dict[int, FileFacts] = {}
    if cache_path is not None:
        cache = FactsCache(cache_path)
        known = cache.lookup(filepaths, tuple(measures or ()))
    todo = [p for i, p in enumerate(filepaths) if i not in known]
    workers = workers or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        it: Iterable[FileFacts] = pool.map(partial(inspect_file, measures=measures), todo, chunksize=64)
        fresh = list(tqdm(it, total=len(todo), desc="reading files", unit="img",
                          disable=not progress or len(todo) < 500))
    if cache is not None:
        cache.store(fresh)
    if not known:
        return fresh
    it_fresh = iter(fresh)
    return [known[i] if i in known else next(it_fresh) for i in range(len(filepaths))]
