"""Near-duplicate test sets made from redistributable images that Debian ships (see README.md here).

Three variants, each an image-classification folder tree ``<out>/<variant>/{train,test}/<class>/``
with a ``manifest.json`` that names every file's *identity* (the source picture it shows) and,
for copies, the transform that made it:

* ``photos``: the wallpapers listed in ``photos.tsv`` (photographs and digital art from
  ``plasma-workspace-wallpapers``, ``gnome-backgrounds``, ``mate-backgrounds``,
  ``ukui-wallpapers``, ``lomiri-wallpapers-16.04``/``-20.04``), each downscaled once to 640 px on the
  long side (JPEG quality 95: the "originals"), plus copies of a seeded sample of originals
  per transform (:data:`PHOTO_TRANSFORMS`) and byte-identical copies.
* ``fmnist``: Fashion-MNIST (``dataset-fashion-mnist``) originals as PNG, train copies
  brightened by 15% and re-encoded as JPEG, test images resized to 32 px and re-encoded as JPEG
  into train (near leaks), and byte-identical copies (half of them across splits).
* ``clipart``: distinct transparent drawings from ``openclipart-png`` (at most one per name
  family, no two with the same bytes or pixels), kept as their original PNG bytes, plus exact and
  half-size copies. Made for counting *false* clusters: any cluster mixing two identities is wrong.

About 30% of the copies are put in the other split than their original (leaks). Every choice is
drawn from ``numpy.random.default_rng([seed, ...])``; the output is a function of the seed, the
source packages' files and the Pillow version (its resampling and JPEG encoder). Needs only numpy
and Pillow.

    python data/near_duplicates/recipe.py --out build/bench/near-dups            # all variants
    python data/near_duplicates/recipe.py --out build/bench/near-dups --variants photos --force
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RECIPE_VERSION = 3
VARIANTS = ("photos", "fmnist", "clipart")
FMNIST_SOURCE = Path("/usr/share/datasets/fashion-mnist")
CLIPART_SOURCE = Path("/usr/share/openclipart/png")
LONG_SIDE = 640
LEAK_FRACTION = 0.3
FLATTEN_GREY = (128, 128, 128, 255)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.convert("RGB").rotate(degrees, resample=Image.BICUBIC, expand=False, fillcolor=(0, 0, 0))


def _centre_crop(image: Image.Image, keep: float) -> Image.Image:
    w, h = image.size
    cw, ch = round(w * keep), round(h * keep)
    left, top = (w - cw) // 2, (h - ch) // 2
    return image.crop((left, top, left + cw, top + ch))


#: Photo transforms: name -> (what it does, function of the 640-px original returning file bytes, suffix).
PHOTO_TRANSFORMS: dict[str, tuple[str, Callable[[Image.Image], bytes], str]] = {
    "resize_half": ("half size (bicubic), JPEG q85",
                    lambda im: _jpeg(im.resize((im.width // 2, im.height // 2), Image.BICUBIC), 85), ".jpg"),
    "jpeg_q75": ("JPEG re-encode at quality 75", lambda im: _jpeg(im, 75), ".jpg"),
    "jpeg_q50": ("JPEG re-encode at quality 50", lambda im: _jpeg(im, 50), ".jpg"),
    "brightness": ("brightness x1.15 (PIL ImageEnhance), JPEG q90",
                   lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(1.15), 90), ".jpg"),
    "contrast": ("contrast x1.15 (PIL ImageEnhance), JPEG q90",
                 lambda im: _jpeg(ImageEnhance.Contrast(im).enhance(1.15), 90), ".jpg"),
    "crop90": ("centre crop keeping 90% of width and height (81% of the area), JPEG q90",
               lambda im: _jpeg(_centre_crop(im, 0.9), 90), ".jpg"),
    "mirror": ("horizontal mirror, JPEG q90", lambda im: _jpeg(ImageOps.mirror(im), 90), ".jpg"),
    "rotate5": ("rotated 5 degrees about the centre, same size, black corners, JPEG q90",
                lambda im: _jpeg(_rotate(im, 5.0), 90), ".jpg"),
}


class _Writer:
    """Writes one variant's files and records each in the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: list[dict] = []

    def add(self, data: bytes, split: str, label: str, name: str, identity: str, transform: str | None,
            **extra: object) -> None:
        rel = Path(split) / label / name
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.images.append({"path": rel.as_posix(), "identity": identity, "split": split, "label": label,
                            "role": "original" if transform is None else "copy", "transform": transform,
                            **extra})


def _other(split: str) -> str:
    return "test" if split == "train" else "train"


def _copy_split(rng: np.random.Generator, split: str) -> str:
    return _other(split) if rng.random() < LEAK_FRACTION else split


def _stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")


def photo_sources(tsv: Path = HERE / "photos.tsv") -> list[dict[str, str]]:
    """Rows of ``photos.tsv`` (package, path, licence) whose file is installed."""
    with tsv.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if Path(r["path"]).is_file()]


def _photo_name(row: dict[str, str]) -> tuple[str, str]:
    """(class, file stem): class from the package, stem from the file (plasma: its folder name)."""
    path = Path(row["path"])
    label = row["package"].split("-")[0]
    base = path.parts[-4] if "contents" in path.parts else path.stem
    return label, _stem(base)


def _flatten(im: Image.Image) -> Image.Image:
    """RGB; a transparent wallpaper (some MATE ones are white or black shapes drawn only in the alpha
    channel) is composited over mid grey, as a desktop draws it over its background colour."""
    if "A" not in im.getbands() and "transparency" not in im.info:
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, FLATTEN_GREY), rgba).convert("RGB")


def build_photos(root: Path, seed: int, per_transform: int = 20, n_exact: int = 10) -> dict:
    rng = np.random.default_rng([seed, 1])
    sources = photo_sources()
    if not sources:
        raise SystemExit("no photo installed: apt-get install plasma-workspace-wallpapers (see README.md)")
    with (HERE / "photos.tsv").open(newline="") as f:
        listed = list(csv.DictReader(f, delimiter="\t"))
    if len(sources) < len(listed):
        missing = sorted({r["package"] for r in listed} - {r["package"] for r in sources})
        print(f"photos: only {len(sources)} of the {len(listed)} listed wallpapers are installed (missing packages: "
              f"{', '.join(missing)}); figures are not comparable with data/README.md's", file=sys.stderr)
    w = _Writer(root)
    originals = []
    for row in sources:
        label, stem = _photo_name(row)
        with Image.open(row["path"]) as im:
            im.draft("RGB", (LONG_SIDE, LONG_SIDE))  # JPEG: decode at a reduced scale, still >= 640
            im = _flatten(im)
            im.thumbnail((LONG_SIDE, LONG_SIDE), Image.LANCZOS)
        data = _jpeg(im, 95)
        split = "test" if rng.random() < 0.2 else "train"
        identity = f"{label}/{stem}"
        w.add(data, split, label, f"{stem}.jpg", identity, None, source=row["path"], package=row["package"],
              licence=row["licence"])
        originals.append((identity, label, stem, split, im, data))
    n = len(originals)
    for t, (name, (_, fn, suffix)) in enumerate(PHOTO_TRANSFORMS.items()):
        trng = np.random.default_rng([seed, 100 + t])
        for i in sorted(trng.choice(n, size=min(per_transform, n), replace=False).tolist()):
            identity, label, stem, split, im, _ = originals[i]
            w.add(fn(im), _copy_split(trng, split), label, f"{stem}--{name}{suffix}", identity, name)
    erng = np.random.default_rng([seed, 99])
    for i in sorted(erng.choice(n, size=min(n_exact, n), replace=False).tolist()):
        identity, label, stem, split, _, data = originals[i]
        w.add(data, _copy_split(erng, split), label, f"{stem}--exact.jpg", identity, "exact")
    return {"images": w.images, "transforms": {k: v[0] for k, v in PHOTO_TRANSFORMS.items()} | {
        "exact": "byte-identical copy of the original file"},
        "params": {"per_transform": per_transform, "n_exact": n_exact, "long_side": LONG_SIDE}}


def _fmnist_reader():
    """``scripts/build_demo_data.py`` has the IDX reader and the class names; reuse them."""
    spec = importlib.util.spec_from_file_location("build_demo_data", REPO / "scripts" / "build_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build_fmnist(root: Path, seed: int, n_train: int = 240, n_test: int = 60, n_bright: int = 20,
                 n_leak32: int = 10, n_exact: int = 10) -> dict:
    demo = _fmnist_reader()
    rng = np.random.default_rng([seed, 2])
    w = _Writer(root)
    chosen: dict[str, list[tuple[str, str, str, np.ndarray, bytes]]] = {}
    for split, count in (("train", n_train), ("test", n_test)):
        images, labels = demo.load_split(FMNIST_SOURCE, split)
        chosen[split] = []
        for i in sorted(rng.choice(len(images), size=count, replace=False).tolist()):
            label = demo.CLASSES[int(labels[i])]
            stem, identity = f"{split}-{i:05d}", f"{split}-{i:05d}"
            data = _png(Image.fromarray(np.asarray(images[i], dtype=np.uint8)))
            w.add(data, split, label, f"{stem}.png", identity, None)
            chosen[split].append((identity, label, stem, images[i], data))
    for k in rng.choice(len(chosen["train"]), size=n_bright, replace=False).tolist():
        identity, label, stem, pixels, _ = chosen["train"][k]
        bright = np.clip(np.asarray(pixels, dtype=np.float64) * 1.15, 0, 255).round().astype(np.uint8)
        w.add(_jpeg(Image.fromarray(bright), 75), "train", label, f"{stem}--brightness_jpeg.jpg", identity,
              "brightness_jpeg")
    for k in rng.choice(len(chosen["test"]), size=n_leak32, replace=False).tolist():
        identity, label, stem, pixels, _ = chosen["test"][k]
        small = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).resize((32, 32), Image.BICUBIC)
        w.add(_jpeg(small, 75), "train", label, f"{stem}--resize32_jpeg.jpg", identity, "resize32_jpeg")
    for n, k in enumerate(rng.choice(len(chosen["train"]), size=n_exact, replace=False).tolist()):
        identity, label, stem, _, data = chosen["train"][k]
        w.add(data, "test" if n % 2 else "train", label, f"{stem}--exact.png", identity, "exact")
    return {"images": w.images, "transforms": {
        "brightness_jpeg": "train image x1.15 (clipped), JPEG q75, in train",
        "resize32_jpeg": "test image resized to 32x32 (bicubic), JPEG q75, put in train (a near leak)",
        "exact": "byte-identical copy; every second one in test (an exact leak)"},
        "params": {"n_train": n_train, "n_test": n_test, "n_bright": n_bright, "n_leak32": n_leak32,
                   "n_exact": n_exact}}


def _family(path: Path) -> str:
    """Drawings whose names differ only in digits (``foo_01``/``foo_02``, ``star_61pt13step``/
    ``star_67pt17step``) are often variants of one drawing: one family."""
    return re.sub(r"[\d_\-\s]+", "_", path.stem.lower()).strip("_")


def build_clipart(root: Path, seed: int, n: int = 300, n_exact: int = 10, n_resize: int = 10) -> dict:
    rng = np.random.default_rng([seed, 3])
    files = sorted(CLIPART_SOURCE.rglob("*.png"))
    if not files:
        raise SystemExit(f"{CLIPART_SOURCE}: no PNG; apt-get install openclipart-png")
    seen_family: set[str] = set()
    seen_bytes: set[str] = set()
    seen_pixels: set[str] = set()
    picked: list[tuple[Path, Image.Image, bytes]] = []
    for i in rng.permutation(len(files)).tolist():
        f = files[i]
        fam, data = _family(f), f.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if fam in seen_family or digest in seen_bytes:
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                if not 32 <= max(im.size) <= 1200 or "A" not in im.getbands() and "transparency" not in im.info:
                    continue  # only transparent drawings of a usual size
                im = im.convert("RGBA")
        except (OSError, Image.DecompressionBombError):
            continue  # unreadable, or far too large
        pix = hashlib.sha256(im.tobytes() + repr(im.size).encode()).hexdigest()
        if pix in seen_pixels:
            continue
        seen_family.add(fam), seen_bytes.add(digest), seen_pixels.add(pix)
        picked.append((f, im, data))
        if len(picked) == n:
            break
    w = _Writer(root)
    rows = []
    for f, im, data in picked:
        label = f.relative_to(CLIPART_SOURCE).parts[0]
        split = "test" if rng.random() < 0.2 else "train"
        stem = _stem(f.stem)
        identity = f"{label}/{stem}"
        w.add(data, split, label, f"{stem}.png", identity, None, source=str(f))
        rows.append((identity, label, stem, split, im, data))
    for k in sorted(rng.choice(len(rows), size=n_exact, replace=False).tolist()):
        identity, label, stem, split, _, data = rows[k]
        w.add(data, _copy_split(rng, split), label, f"{stem}--exact.png", identity, "exact")
    for k in sorted(rng.choice(len(rows), size=n_resize, replace=False).tolist()):
        identity, label, stem, split, im, _ = rows[k]
        half = im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.BICUBIC)
        w.add(_png(half), _copy_split(rng, split), label, f"{stem}--resize_half.png", identity, "resize_half")
    return {"images": w.images, "transforms": {
        "exact": "byte-identical copy", "resize_half": "half size (bicubic), alpha kept, PNG"},
        "params": {"n": n, "n_exact": n_exact, "n_resize": n_resize,
                   "selection": "transparent, 32-1200 px, one per name family, unique bytes and pixels"}}


BUILDERS = {"photos": build_photos, "fmnist": build_fmnist, "clipart": build_clipart}


def build(out: Path, variants: tuple[str, ...] = VARIANTS, seed: int = 20260101,
          force: bool = False) -> dict[str, Path]:
    """Build the variants under ``out`` (skipped when a manifest of the same recipe and seed is there).

    Returns ``{variant: folder}``; each folder holds ``manifest.json`` and the image tree.
    """
    folders = {}
    for variant in variants:
        root = out / variant
        manifest_path = root / "manifest.json"
        key = {"recipe_version": RECIPE_VERSION, "seed": seed}
        if variant == "photos":  # a build from fewer installed wallpapers is another data set
            key["photos"] = len(photo_sources())
        if manifest_path.exists() and not force:
            old = json.loads(manifest_path.read_text())
            if old.get("key") == key:
                folders[variant] = root
                continue
        if root.exists():
            if not (manifest_path.exists() or not any(root.iterdir())):
                raise SystemExit(f"{root} exists and is not a previous build; remove it yourself")
            shutil.rmtree(root)
        root.mkdir(parents=True)
        built = BUILDERS[variant](root, seed)
        built.update(variant=variant, key=key, pillow=Image.__version__, numpy=np.__version__)
        manifest_path.write_text(json.dumps(built, indent=1) + "\n")
        folders[variant] = root
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "near-dups")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seed", type=int, default=20260101)
    p.add_argument("--force", action="store_true", help="rebuild even when a matching build is there")
    args = p.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    for variant, folder in build(args.out, variants, args.seed, args.force).items():
        images = json.loads((folder / "manifest.json").read_text())["images"]
        copies = sum(1 for i in images if i["role"] == "copy")
        print(f"{variant}: {len(images) - copies} originals + {copies} copies in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
