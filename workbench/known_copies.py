"""Known copies of a dataset's own images, measured against their originals (for calibration).

:data:`TRANSFORMS` are the edits that make realistic copies: half-size re-encodes, JPEG at low
quality, brightness and contrast changes, a 90% crop, a mirror image and a 5° rotation. Each
copy is encoded to bytes and decoded again exactly as a file is (JPEG draft decode, upright
RGB), embedded with the audit's model, and measured against its original four ways:
embedding distance, thumbnail correlation, perceptual-hash bits, and agreeing local features
or, under 64 px, aligned pixels (:class:`~workbench.checks.calibration.Measure`).

Measurements (each copy's embedding distance, thumbnail and hashes) are cached per original (by
content hash) under ``<cache>/calibration/``, keyed by model and preprocessing, so a re-audit
only measures the originals it has not seen.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from workbench.checks.calibration import CopyMeasure, Measure
from workbench.checks.near_rule import hamming, thumb_similarity, thumbnail
from workbench.embeddings.backends import LoadedEmbedder

log = logging.getLogger(__name__)

#: Bump when a transform changes: cached measurements of other versions are ignored.
COPIES_VERSION = 9


class Original(NamedTuple):
    """A sampled image: content hash, path, its embedding and its stored signatures."""

    sha256: str
    filepath: str
    vector: np.ndarray
    thumb: str | None
    phash: str | None


def _jpeg(img: Any, quality: int) -> tuple[Any, str]:
    return img, f"JPEG:{quality}"


def _resize(img: Any) -> tuple[Any, str]:
    """Photos are shared at half size; small images (icons, 28-px digits) get rescaled up (28 -> 32)."""
    from PIL import Image

    w, h = img.size
    scale = 0.5 if min(w, h) >= 128 else 8 / 7
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC), "JPEG:85"


def _enhance(kind: str, factor: float) -> Callable[[Any], tuple[Any, str]]:
    def apply(img: Any) -> tuple[Any, str]:
        from PIL import ImageEnhance

        return getattr(ImageEnhance, kind)(img).enhance(factor), "JPEG:90"
    return apply


def _crop(img: Any) -> tuple[Any, str]:
    w, h = img.size
    dx, dy = round(w * 0.05), round(h * 0.05)
    return img.crop((dx, dy, w - dx, h - dy)), "PNG"


def _mirror(img: Any) -> tuple[Any, str]:
    from PIL import Image

    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"


def _rotate(img: Any) -> tuple[Any, str]:
    from PIL import Image

    return img.rotate(5, resample=Image.Resampling.BICUBIC), "PNG"


#: name -> edit returning ``(image, how to encode it)``.
TRANSFORMS: dict[str, Callable[[Any], tuple[Any, str]]] = {
    "resize": _resize,
    "jpeg": lambda img: _jpeg(img, 50),
    "brightness": _enhance("Brightness", 1.15),
    "contrast": _enhance("Contrast", 1.25),
    "crop": _crop,
    "mirror": _mirror,
    "rotate": _rotate,
}


def make_copy(img: Any, transform: str, size: int) -> Any:
    """``img`` (upright RGB) edited by ``transform``, saved and decoded back as the audit decodes files."""
    from PIL import Image

    from workbench.io.pixels import to_rgb

    edited, encoding = TRANSFORMS[transform](img)
    buf = io.BytesIO()
    fmt, _, quality = encoding.partition(":")
    edited.save(buf, format=fmt, **({"quality": int(quality)} if quality else {}))
    buf.seek(0)
    with Image.open(buf) as decoded:
        if decoded.format == "JPEG":
            decoded.draft("RGB", (size, size))
        return to_rgb(decoded).copy()


def _store_path(cache_root: Path, embedder: LoadedEmbedder) -> Path:
    from workbench.embeddings.cache import cache_key

    return cache_root / "calibration" / f"{cache_key(embedder.model_id, embedder.preprocessing)}-v{COPIES_VERSION}.json"


def _load(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict[str, list]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a cache that can't be written costs time next run, never the audit
        log.warning("calibration measurements not cached (%s)", exc)


def measure_copies(originals: Sequence[Original], embedder: LoadedEmbedder, *,
                   cache_root: Path | None, batch_size: int = 64) -> list[CopyMeasure]:
    """Copies of each original, made with every transform and measured against it.

    An original that can't be opened is skipped (it was readable a moment ago; a race with the user).
    """
    from PIL import Image

    from workbench.checks.geometry import aligned_similarity, dense_similarity, describe, register, wants_dense
    from workbench.embeddings.pipeline import embed_images
    from workbench.io.files import image_signatures
    from workbench.io.pixels import to_rgb

    path = _store_path(cache_root, embedder) if cache_root is not None else None
    stored = _load(path) if path is not None else {}
    todo = [o for o in originals if o.sha256 not in stored]
    if todo:
        images, owners, matched = [], [], []
        for k, original in enumerate(todo):
            try:
                with Image.open(original.filepath) as img:
                    rgb = to_rgb(img).copy()
            except Exception as exc:  # noqa: BLE001 - any decode failure: skip this original
                log.debug("calibration: can't reopen %s: %s", original.filepath, exc)
                continue
            features = describe(rgb)
            for name in TRANSFORMS:
                images.append(make_copy(rgb, name, embedder.input_size))
                owners.append((k, name))
                copy_features = describe(images[-1])
                found = register(features, copy_features)
                if found is None:
                    matched.append([None, aligned_similarity(rgb, images[-1]), None])
                else:  # features register it poorly or not at all: align the grey images directly too
                    dense = dense_similarity(features, copy_features) if wants_dense(found) else None
                    matched.append([found.inliers, found.similarity, dense])
        vectors = embed_images(images, embedder, batch_size=batch_size) if images else np.zeros((0, embedder.dim))
        fresh: dict[str, list] = {}
        for (k, name), img, vec, n in zip(owners, images, vectors, matched):
            original = todo[k]
            phash, phash_mirror, thumb = image_signatures(img)
            distance = float(1.0 - np.dot(vec, original.vector))
            fresh.setdefault(original.sha256, []).append([name, distance, thumb, phash, phash_mirror, n])
        stored.update(fresh)
        if path is not None and fresh:
            _save(path, stored)
    return _measures(originals, stored)


def _measures(originals: Sequence[Original], stored: dict[str, list]) -> list[CopyMeasure]:
    out = []
    for original in originals:
        reference = thumbnail(original.thumb)
        for name, distance, thumb, phash, phash_mirror, (n_inliers, aligned, dense) in stored.get(original.sha256, []):
            direct, mirrored = hamming(original.phash, phash), hamming(original.phash, phash_mirror)
            use_mirror = mirrored is not None and (direct is None or mirrored < direct)
            similarity = thumb_similarity(reference, thumbnail(thumb))
            out.append(CopyMeasure(name, Measure(distance, similarity, mirrored if use_mirror else direct,
                                                 use_mirror, n_inliers, aligned, dense)))
    return out
