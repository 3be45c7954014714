#!/usr/bin/env python3
"""Build the small Fashion-MNIST demo dataset that ``make demo`` audits.

The script samples a few hundred real Fashion-MNIST images (MIT licence,
Zalando Research), writes them as an ImageFolder tree
(``<out>/{train,test}/<class>/<file>``) and plants a documented set of dataset
issues into it: exact duplicates, near duplicates, train/test leaks (some with
a conflicting label), flipped labels, a rare class and two unreadable files.
Every planted issue is recorded in a JSON manifest (``PLANTED.json``) so tests
and the audit report can be checked against ground truth. See
``data/README.md`` for the table of planted issues.

The output is deterministic: a fixed seed drives every random choice and the
files are encoded with fixed options and no metadata, so a re-run reproduces
the tree and the manifest byte for byte. PNGs are written with
``compress_level=0`` (stored deflate blocks): the bytes then do not depend on
which zlib build (zlib or zlib-ng) a given Pillow wheel bundles, and the whole
tree still stays around 1 MB.

Dependencies: the standard library, numpy and Pillow.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import math
import os
import shutil
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

LOG = logging.getLogger("build_demo_data")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = REPO_ROOT / "data" / "demo" / "fashion-mnist"
DEFAULT_MANIFEST = REPO_ROOT / "data" / "demo" / "PLANTED.json"
INSTALL_HINT = "run: apt-get install dataset-fashion-mnist"

#: Seed for every random choice (the Fashion-MNIST release date).
SEED = 20170825

#: Folder-safe class names, in Fashion-MNIST label order (label i -> CLASSES[i]).
CLASSES: tuple[str, ...] = (
    "T-shirt_top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle_boot",
)
RARE_CLASS = "Ankle_boot"

#: Images per class before planting; the rare class gets far fewer.
TRAIN_PER_CLASS = 120
TEST_PER_CLASS = 30
RARE_TRAIN = 10
RARE_TEST = 5

#: Classes that even humans confuse. A planted label flip never stays inside
#: one of these groups (such a flip would not be a fair ground truth).
CONFUSABLE_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"T-shirt_top", "Pullover", "Coat", "Shirt", "Dress"}),
    frozenset({"Sandal", "Sneaker", "Ankle_boot"}),
)

N_EXACT_PAIRS = 5
N_EXACT_TRIPLES = 1
N_LEAK_EXACT = 4
N_LEAK_NEAR = 4
N_LEAK_CONFLICT = 2
N_FLIPS = 20
TRUNCATE_FRACTION = 0.6
NOT_AN_IMAGE_TEXT = b"this is not an image\n"
TRUNCATED_PATH = "train/Bag/corrupt-truncated.png"
NOT_AN_IMAGE_PATH = "train/Coat/not-an-image.png"
JPEG_QUALITY = 90

#: IDX file stems in the Fashion-MNIST distribution, per source split.
SOURCE_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class BuildError(RuntimeError):
    """A problem the user can fix (missing source, non-empty output, ...)."""


# --------------------------------------------------------------------------
# Reading Fashion-MNIST
# --------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) holding unsigned bytes."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read()
    if len(data) < 4:
        raise BuildError(f"{path}: too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise BuildError(f"{path}: not an unsigned-byte IDX file")
    header_len = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    array = np.frombuffer(data, dtype=np.uint8, offset=header_len)
    if array.size != math.prod(dims):
        raise BuildError(f"{path}: expected {math.prod(dims)} values, found {array.size}")
    return array.reshape(dims)


def find_source_file(source: Path, stem: str) -> Path:
    """Return ``<source>/<stem>.gz`` or ``<source>/<stem>``, whichever exists."""
    for name in (f"{stem}.gz", stem):
        candidate = source / name
        if candidate.is_file():
            return candidate
    raise BuildError(f"Fashion-MNIST file {stem}[.gz] not found in {source}; {INSTALL_HINT}")


def load_split(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load images ``(n, 28, 28)`` and labels ``(n,)`` of one Fashion-MNIST split."""
    image_stem, label_stem = SOURCE_FILES[split]
    images = read_idx(find_source_file(source, image_stem))
    labels = read_idx(find_source_file(source, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise BuildError(f"{source}: inconsistent {split} images {images.shape} / labels {labels.shape}")
    if int(labels.max()) >= len(CLASSES):
        raise BuildError(f"{source}: {split} labels outside 0..{len(CLASSES) - 1}")
    return images, labels


# --------------------------------------------------------------------------
# Encoding and near-duplicate transforms
# --------------------------------------------------------------------------


def encode_png(image: Image.Image, compress_level: int = 0) -> bytes:
    """Encode a PNG with fixed options and no metadata (deterministic bytes for level 0)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level, optimize=False)
    return buf.getvalue()


def encode_jpeg(image: Image.Image) -> bytes:
    """Encode a baseline JPEG at ``JPEG_QUALITY`` with no metadata."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return buf.getvalue()


def _from_array(array: np.ndarray) -> Image.Image:
    """Wrap a 2-D uint8 array as a grayscale image."""
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))


def _brightness(image: Image.Image) -> Image.Image:
    """Scale intensities by 1.08 (clipped to 255)."""
    scaled = np.rint(np.asarray(image, dtype=np.float64) * 1.08)
    return _from_array(np.clip(scaled, 0, 255))


def _shift(image: Image.Image) -> Image.Image:
    """Shift right by one pixel; the vacated column is background (0)."""
    array = np.asarray(image)
    shifted = np.zeros_like(array)
    shifted[:, 1:] = array[:, :-1]
    return _from_array(shifted)


def _identity(image: Image.Image) -> Image.Image:
    """Return the image unchanged (the change comes from the encoding: JPEG, or PNG at another level)."""
    return image.copy()


def _upscale(image: Image.Image) -> Image.Image:
    """A resized copy: upscale 2x with bicubic resampling (saved at the larger size)."""
    width, height = image.size
    return image.resize((2 * width, 2 * height), Image.Resampling.BICUBIC)


def _contrast(image: Image.Image) -> Image.Image:
    """Stretch contrast by 1.1 around the mean intensity (clipped to 0..255)."""
    array = np.asarray(image, dtype=np.float64)
    return _from_array(np.clip(np.rint((array - array.mean()) * 1.1 + array.mean()), 0, 255))


@dataclass(frozen=True)
class Transform:
    """A mild near-duplicate transform and the format its result is saved in."""

    name: str
    apply: Callable[[Image.Image], Image.Image]
    ext: str  # ".png" or ".jpg"

    def encode(self, image: Image.Image) -> bytes:
        """Apply the transform and encode the result in this transform's format."""
        out = self.apply(image)
        if self.name == "resave":
            return encode_png(out, compress_level=9)
        return encode_jpeg(out) if self.ext == ".jpg" else encode_png(out)


#: The six near-duplicate transforms, in the order they are planted.
TRANSFORMS: tuple[Transform, ...] = (
    Transform("brightness", _brightness, ".png"),
    Transform("shift", _shift, ".png"),
    Transform("jpeg", _identity, ".jpg"),
    Transform("upscale", _upscale, ".png"),
    Transform("contrast", _contrast, ".png"),
    Transform("resave", _identity, ".png"),
)
TRANSFORMS_BY_NAME: dict[str, Transform] = {t.name: t for t in TRANSFORMS}


# --------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------


def group_of(label: str) -> frozenset[str]:
    """The confusable group containing ``label`` (a singleton if none does)."""
    for group in CONFUSABLE_GROUPS:
        if label in group:
            return group
    return frozenset({label})


def cross_group_targets(label: str) -> list[str]:
    """Classes a ``label`` image may be flipped to: another group, never the rare class."""
    own = group_of(label)
    return [c for c in CLASSES if c not in own and c != RARE_CLASS]


@dataclass(frozen=True)
class SourceImage:
    """One Fashion-MNIST image: its source split, index and (true) class."""

    split: str  # "train" or "test": the Fashion-MNIST split, which is also ours
    index: int
    label: str

    @property
    def stem(self) -> str:
        """File stem naming the image after its origin, e.g. ``train-012345``."""
        return f"{self.split}-{self.index:06d}"

    @property
    def path(self) -> str:
        """Path of the unmodified image relative to the dataset root."""
        return f"{self.split}/{self.label}/{self.stem}.png"


@dataclass
class Plan:
    """The files to write (relative path -> bytes) and the manifest entries."""

    files: dict[str, bytes] = field(default_factory=dict)
    exact_duplicates: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    leaks: list[dict[str, Any]] = field(default_factory=list)
    flipped_labels: list[dict[str, Any]] = field(default_factory=list)
    bad_files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes) -> None:
        """Register a file; a path may only be written once."""
        if path in self.files:
            raise RuntimeError(f"planned twice: {path}")
        self.files[path] = data

    def counts(self) -> dict[str, dict[str, int]]:
        """Number of files per split and class folder (bad files included)."""
        counts = {split: {c: 0 for c in CLASSES} for split in ("train", "test")}
        for path in self.files:
            split, label, _ = path.split("/")
            counts[split][label] += 1
        return counts


def select_base(labels: np.ndarray, per_class: dict[str, int], rng: np.random.Generator) -> dict[str, list[int]]:
    """Pick ``per_class[c]`` distinct source indices of each class, sorted."""
    chosen: dict[str, list[int]] = {}
    for label_id, name in enumerate(CLASSES):
        candidates = np.flatnonzero(labels == label_id)
        picked = rng.choice(candidates, size=per_class[name], replace=False)
        chosen[name] = sorted(int(i) for i in picked)
    return chosen


def _near_bytes(transform: Transform, image: Image.Image, original: bytes, what: str) -> bytes:
    """Encode a near copy and make sure it really differs from its original.

    ``resave`` keeps the pixels and changes only the bytes (a re-saved file): it must
    differ in bytes; every other transform must also change pixels.
    """
    data = transform.encode(image)
    if data == original or transform.name != "resave" and np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(image)):
        raise RuntimeError(f"transform {transform.name} left {what} unchanged")
    return data


def make_plan(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
              test_labels: np.ndarray, seed: int) -> Plan:
    """Sample the base images and plant every issue; returns the full plan."""
    rng = np.random.default_rng(seed)
    train_sizes = {c: RARE_TRAIN if c == RARE_CLASS else TRAIN_PER_CLASS for c in CLASSES}
    test_sizes = {c: RARE_TEST if c == RARE_CLASS else TEST_PER_CLASS for c in CLASSES}
    base_train = select_base(train_labels, train_sizes, rng)
    base_test = select_base(test_labels, test_sizes, rng)

    plan = Plan()
    pil: dict[SourceImage, Image.Image] = {}
    png: dict[SourceImage, bytes] = {}

    def register(src: SourceImage, array: np.ndarray) -> None:
        pil[src] = _from_array(array)
        png[src] = encode_png(pil[src])

    for label, indices in base_train.items():
        for index in indices:
            register(SourceImage("train", index, label), train_images[index])
    for label, indices in base_test.items():
        for index in indices:
            register(SourceImage("test", index, label), test_images[index])

    # One shuffled pool of train images, cut into disjoint slices so that no
    # source image is involved in two planted categories. The rare class is
    # left out entirely so its counts stay exactly RARE_TRAIN / RARE_TEST.
    pool = [SourceImage("train", i, c) for c in CLASSES if c != RARE_CLASS for i in base_train[c]]
    order = rng.permutation(len(pool))
    shuffled = [pool[int(k)] for k in order]
    sizes = {
        "exact": N_EXACT_PAIRS + N_EXACT_TRIPLES,
        "near": len(TRANSFORMS),
        "leak_exact": N_LEAK_EXACT,
        "leak_near": N_LEAK_NEAR,
        "leak_conflict": N_LEAK_CONFLICT,
        "flip": N_FLIPS,
    }
    picks: dict[str, list[SourceImage]] = {}
    start = 0
    for name, size in sizes.items():
        picks[name] = shuffled[start:start + size]
        start += size

    # Flipped images move folders; every other base image stays where it is.
    flip_targets = {src: str(rng.choice(cross_group_targets(src.label))) for src in picks["flip"]}
    for src in png:
        if src not in flip_targets:
            plan.add(src.path, png[src])
    for src, given in flip_targets.items():
        path = f"train/{given}/{src.stem}.png"
        plan.add(path, png[src])
        plan.flipped_labels.append({"path": path, "true_label": src.label, "given_label": given})

    # a. exact duplicates: 5 pairs (one copy) and 1 triple (two copies).
    for k, src in enumerate(picks["exact"]):
        n_copies = 1 if k < N_EXACT_PAIRS else 2
        copies = [f"train/{src.label}/{src.stem}-copy{j}.png" for j in range(1, n_copies + 1)]
        for path in copies:
            plan.add(path, png[src])
        plan.exact_duplicates.append({"original": src.path, "copies": copies})

    # b. near duplicates: each transform applied once, in the same class folder.
    for src, transform in zip(picks["near"], TRANSFORMS, strict=True):
        path = f"train/{src.label}/{src.stem}-near-{transform.name}{transform.ext}"
        plan.add(path, _near_bytes(transform, pil[src], png[src], src.path))
        plan.near_duplicates.append({"original": src.path, "copy": path, "transform": transform.name})

    # c. train/test leaks: exact, near (4 distinct transforms), label conflicts.
    for src in picks["leak_exact"]:
        path = f"test/{src.label}/leak-{src.stem}.png"
        plan.add(path, png[src])
        plan.leaks.append({"train": src.path, "test": path, "kind": "exact", "transform": None,
                           "label_conflict": False})
    leak_transforms = rng.choice(len(TRANSFORMS), size=N_LEAK_NEAR, replace=False)
    for src, t_index in zip(picks["leak_near"], leak_transforms, strict=True):
        transform = TRANSFORMS[int(t_index)]
        path = f"test/{src.label}/leak-{src.stem}-{transform.name}{transform.ext}"
        plan.add(path, _near_bytes(transform, pil[src], png[src], src.path))
        plan.leaks.append({"train": src.path, "test": path, "kind": "near", "transform": transform.name,
                           "label_conflict": False})
    for src in picks["leak_conflict"]:
        wrong = str(rng.choice(cross_group_targets(src.label)))
        path = f"test/{wrong}/leak-{src.stem}.png"
        plan.add(path, png[src])
        plan.leaks.append({"train": src.path, "test": path, "kind": "exact", "transform": None,
                           "label_conflict": True})

    # e. bad files. The truncated PNG is cut from an otherwise unused Bag image.
    bag_id = CLASSES.index("Bag")
    used = set(base_train["Bag"])
    spare = [int(i) for i in np.flatnonzero(train_labels == bag_id) if int(i) not in used]
    spare_index = int(rng.choice(spare))
    full = encode_png(_from_array(train_images[spare_index]))
    plan.add(TRUNCATED_PATH, full[: int(len(full) * TRUNCATE_FRACTION)])
    plan.add(NOT_AN_IMAGE_PATH, NOT_AN_IMAGE_TEXT)
    plan.bad_files.append({"path": TRUNCATED_PATH, "kind": "truncated"})
    plan.bad_files.append({"path": NOT_AN_IMAGE_PATH, "kind": "not_an_image"})

    for entries, key in ((plan.exact_duplicates, "original"), (plan.near_duplicates, "original"),
                         (plan.leaks, "test"), (plan.flipped_labels, "path"), (plan.bad_files, "path")):
        entries.sort(key=lambda entry: entry[key])
    return plan


def make_manifest(plan: Plan, seed: int) -> dict[str, Any]:
    """The ``PLANTED.json`` document describing every planted issue."""
    counts = plan.counts()
    return {
        "dataset": "fashion-mnist",
        "license": "MIT",
        "seed": seed,
        "classes": list(CLASSES),
        "exact_duplicates": plan.exact_duplicates,
        "near_duplicates": plan.near_duplicates,
        "leaks": plan.leaks,
        "flipped_labels": plan.flipped_labels,
        "rare_class": {"label": RARE_CLASS, "train": counts["train"][RARE_CLASS],
                       "test": counts["test"][RARE_CLASS]},
        "bad_files": plan.bad_files,
        "counts": counts,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Serialise the manifest deterministically (sorted keys, indent 1)."""
    return (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode("utf-8")


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def _is_within(path: Path, parent: Path) -> bool:
    """True if ``path`` equals ``parent`` or lies below it."""
    return path == parent or parent in path.parents


def check_output_dir(out: Path, force: bool) -> bool:
    """Validate ``out`` without touching it; True if it must be deleted first.

    A non-empty ``out`` is only deleted with ``force``. As a guard against a
    mistyped ``--out``, ``--force`` only deletes a directory that looks like a
    previous build (its top level holds nothing but ``train``/``test``) and
    that contains neither the current directory nor this repository.
    """
    if out.exists() and not out.is_dir():
        raise BuildError(f"output path {out} exists and is not a directory")
    if not (out.is_dir() and any(out.iterdir())):
        return False
    if not force:
        raise BuildError(f"output directory {out} is not empty; pass --force to delete and rebuild it")
    resolved = out.resolve()
    if _is_within(Path.cwd().resolve(), resolved) or _is_within(REPO_ROOT, resolved):
        raise BuildError(f"refusing to delete {out}: it contains the current directory or the repository")
    unexpected = sorted(p.name for p in out.iterdir() if p.name not in {"train", "test"})
    if unexpected:
        raise BuildError(f"refusing to delete {out}: it holds more than a demo build "
                         f"({', '.join(unexpected)}); delete it by hand")
    return True


def prepare_output_dir(out: Path, force: bool) -> None:
    """Create ``out``, deleting a previous build first (see :func:`check_output_dir`)."""
    if check_output_dir(out, force):
        LOG.info("deleting previous build in %s", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    """Write every planned file under ``out`` in sorted order."""
    for rel in sorted(files):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])


def tree_counts(out: Path) -> dict[str, dict[str, int]]:
    """Count the files per split/class folder actually present under ``out``."""
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        counts[split] = {}
        for class_dir in sorted((out / split).iterdir()):
            counts[split][class_dir.name] = sum(1 for p in class_dir.iterdir() if p.is_file())
    return counts


def build(source: Path, out: Path, manifest_path: Path, *, seed: int = SEED, force: bool = False) -> dict[str, Any]:
    """Build the demo dataset into ``out`` and write its manifest; returns the manifest."""
    if not source.is_dir():
        raise BuildError(f"Fashion-MNIST source directory {source} not found; {INSTALL_HINT}")
    if _is_within(manifest_path.resolve(), out.resolve()):
        raise BuildError(f"--manifest {manifest_path} must not lie inside --out {out}")
    check_output_dir(out, force)  # fail before the slow part, delete nothing yet
    train_images, train_labels = load_split(source, "train")
    test_images, test_labels = load_split(source, "test")
    LOG.info("loaded Fashion-MNIST from %s: %d train, %d test images", source, len(train_labels), len(test_labels))

    plan = make_plan(train_images, train_labels, test_images, test_labels, seed)
    manifest = make_manifest(plan, seed)

    prepare_output_dir(out, force)
    write_tree(out, plan.files)
    found = tree_counts(out)
    if found != manifest["counts"]:
        raise RuntimeError(f"written tree does not match the plan: {found} != {manifest['counts']}")
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_bytes(manifest_bytes(manifest))
    LOG.info("wrote %d files to %s and the manifest to %s", len(plan.files), out, manifest_path)
    return manifest


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="Fashion-MNIST IDX files (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output ImageFolder root (default: %(default)s)")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                        help="where to write the planted-issue manifest (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="random seed; changing it changes every file (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="delete a non-empty --out directory before building")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOGLEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    try:
        manifest = build(args.source, args.out, args.manifest, seed=args.seed, force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = manifest["counts"]
    print(f"demo dataset: {sum(counts['train'].values())} train + {sum(counts['test'].values())} test files "
          f"in {args.out}; manifest {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
