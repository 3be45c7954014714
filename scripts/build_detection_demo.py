#!/usr/bin/env python3
"""Build the small object-detection demo (``data/detection-demo``) with planted annotation problems.

About 150 photographs (random crops of Debian's wallpapers) get 1-4 objects pasted on each:
Fashion-MNIST items (five distinct classes, their dark background made transparent by the item's
own intensity) and openclipart bird drawings; about 10% of the images stay empty (negatives).
The true boxes are the tight boxes of the pasted pixels. The script then writes:

- ``labels.json``: the ground truth as COCO detection, with one problem of each kind planted on
  41 images: 12 swapped classes, 12 shifted boxes (IoU with the truth < 0.5), 12 missing boxes
  (object pasted, no annotation) and 5 duplicated boxes (same class, IoU >= 0.95);
- ``predictions.json``: COCO results **simulated from the true boxes** (not a trained detector);
- ``annotators/annotator_{a,b,c}.json``: three annotators derived from the truth with controlled
  box jitter, class flips, misses and extra boxes;
- ``PLANTED.json``: every planted problem (true and given box and class) and the annotators'
  parameters and realised counts, so benchmarks can score findings by box IoU >= 0.5.

Images sit in ``data/train/`` and ``data/val/`` (split by wallpaper, so crops of one photo never
straddle the splits); each COCO image entry also carries ``"split"``. Deterministic: one seed drives
every choice, JPEGs are encoded with fixed options and no metadata. See ``data/README.md``.

Dependencies: the standard library, numpy, Pillow, ``build_demo_data`` (the IDX reader) and
``workbench.checks.box_match.iou``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from build_demo_data import BuildError, find_source_file, read_idx

# The audit's own IoU (importing workbench loads nothing heavy).
from workbench.checks.box_match import iou

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "detection-demo"
FASHION = Path("/usr/share/datasets/fashion-mnist")
CLIPART = Path("/usr/share/openclipart/png/animals/birds")
WALLPAPERS = Path("/usr/share/wallpapers")
GNOME = Path("/usr/share/backgrounds/gnome")
INSTALL_HINT = ("run: apt-get install dataset-fashion-mnist openclipart-png plasma-workspace-wallpapers "
                "gnome-backgrounds")

SEED = 20261202
N_IMAGES = 150
N_NEGATIVE = 15
SIZES = ((320, 240), (384, 288), (448, 336))
OBJECT_SIDE = (30, 150)  # longer side of a pasted object, pixels
JPEG_QUALITY = 85
N_PLANTED = {"swapped": 12, "shifted": 12, "missing": 12, "duplicate": 5}

#: Category name -> Fashion-MNIST label (None: an openclipart bird drawing). COCO ids are 1..6 in this order.
CATEGORIES: dict[str, int | None] = {"trouser": 1, "dress": 3, "sneaker": 7, "bag": 8, "ankle_boot": 9, "bird": None}
NAMES = tuple(CATEGORIES)
#: Classes a careful annotator might confuse: a planted swap never stays inside one of these.
CONFUSABLE = ({"sneaker", "ankle_boot"},)

#: Backgrounds: (key, package, path, licence, split). Photographs from Plasma, textures from GNOME.
_PLASMA = "plasma-workspace-wallpapers"
BACKGROUNDS: tuple[tuple[str, str, str, str, str], ...] = tuple(
    (name.lower(), _PLASMA, f"{name}/contents/images/1920x1080.jpg", "LGPL-3.0", split)
    for name, split in (("BytheWater", "train"), ("ColdRipple", "train"), ("EveningGlow", "train"),
                        ("FallenLeaf", "train"), ("Grey", "train"), ("OneStandsOut", "train"),
                        ("summer_1am", "train"), ("Kite", "val"), ("Path", "val"))
) + (("colorfulcups", _PLASMA, "ColorfulCups/contents/images/2560x1600.jpg", "LGPL-3.0", "train"),) + tuple(
    (name, "gnome-backgrounds", f"{name}-l.webp", "CC-BY-SA-3.0 / GPL-2+", split)
    for name, split in (("wood", "train"), ("grid", "train"), ("truchet", "train"), ("licorice", "val"))
)
LICENSES = (
    {"id": 1, "name": "MIT (Fashion-MNIST, Zalando SE; Debian package dataset-fashion-mnist)",
     "url": "https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE"},
    {"id": 2, "name": "Public domain (openclipart; Debian package openclipart-png)",
     "url": "https://openclipart.org/share"},
    {"id": 3, "name": "LGPL-3.0 (KDE Plasma wallpapers; Debian package plasma-workspace-wallpapers)",
     "url": "https://www.gnu.org/licenses/lgpl-3.0.html"},
    {"id": 4, "name": "CC-BY-SA-3.0 / GPL-2+ (GNOME backgrounds; Debian package gnome-backgrounds, "
                      "see /usr/share/doc/gnome-backgrounds/copyright)",
     "url": "https://creativecommons.org/licenses/by-sa/3.0/"},
)
LICENSE_OF_PACKAGE = {_PLASMA: 3, "gnome-backgrounds": 4}

#: Annotators derived from the truth: IoU range of the box jitter, class-flip / miss rates, extra boxes.
ANNOTATORS = {
    "a": {"iou": (0.87, 0.93), "flip_rate": 0.02, "miss_rate": 0.0, "n_extra": 0},
    "b": {"iou": (0.75, 0.85), "flip_rate": 0.08, "miss_rate": 0.05, "n_extra": 6},
    "c": {"iou": (0.82, 0.90), "flip_rate": 0.04, "miss_rate": 0.02, "n_extra": 2},
}
#: The simulated detector: jitter IoU, true-class scores, miss rate, wrong-class and background boxes.
DETECTOR = {"iou": (0.80, 0.95), "score": (0.60, 0.99), "miss_rate": 0.05, "wrong_class_rate": 0.06,
            "wrong_class_score": (0.10, 0.40), "n_background": 15, "background_score": (0.05, 0.35)}

Box = tuple[float, float, float, float]  # COCO [x, y, w, h]


def _round(box: Sequence[float]) -> list[float]:
    return [round(float(v), 1) for v in box]


def jitter(box: Box, target: float, rng: np.random.Generator, size: tuple[int, int]) -> list[float]:
    """Move the four edges of ``box`` in a random direction until its IoU with ``box`` is about ``target``.

    The result is clipped to the image (``size``: width, height) and rounded to 0.1 px.

    Example:
        >>> box = jitter((50.0, 40.0, 80.0, 60.0), 0.85, np.random.default_rng(0), (320, 240))
        >>> round(iou(box, (50.0, 40.0, 80.0, 60.0)), 2)
        0.85
    """
    x, y, w, h = box
    d = rng.normal(size=4)
    d /= np.linalg.norm(d)

    def moved(a: float) -> Box:
        x1, y1 = x - a * d[0] * w, y - a * d[1] * h
        x2, y2 = x + w + a * d[2] * w, y + h + a * d[3] * h
        x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(size[0], x2), min(size[1], y2)
        return x1, y1, max(1.0, x2 - x1), max(1.0, y2 - y1)

    lo, hi = 0.0, 2.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if iou(moved(mid), box) > target else (lo, mid)
    return _round(moved(lo))


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Everything read from the Debian packages."""

    backgrounds: dict[str, Image.Image]
    fashion_images: np.ndarray
    fashion_labels: np.ndarray
    birds: list[tuple[str, Image.Image]]


def load_sources(fashion: Path, clipart: Path, wallpapers: Path, gnome: Path) -> Sources:
    """Read the backgrounds (downscaled to 1280 px wide), Fashion-MNIST test split and the bird drawings."""
    roots = {_PLASMA: wallpapers, "gnome-backgrounds": gnome}
    backgrounds = {}
    for key, package, rel, _, _ in BACKGROUNDS:
        path = roots[package] / rel
        if not path.is_file():
            raise BuildError(f"background {path} not found; {INSTALL_HINT}")
        with Image.open(path) as img:
            img.draft("RGB", (1280, 1280))
            rgb = img.convert("RGB")
        scale = 1280 / rgb.width
        backgrounds[key] = rgb.resize((1280, round(rgb.height * scale)), Image.Resampling.LANCZOS)
    images = read_idx(find_source_file(fashion, "t10k-images-idx3-ubyte"))
    labels = read_idx(find_source_file(fashion, "t10k-labels-idx1-ubyte"))
    birds = []
    for path in sorted(clipart.glob("*.png")) if clipart.is_dir() else []:
        with Image.open(path) as img:
            rgba = img.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if (alpha < 10).mean() > 0.2 and rgba.getbbox() is not None:  # a drawing on a transparent ground
            birds.append((path.name, rgba.crop(Image.fromarray(alpha).point(lambda v: 255 if v > 0 else 0).getbbox())))
    if not birds:
        raise BuildError(f"no openclipart bird drawings in {clipart}; {INSTALL_HINT}")
    return Sources(backgrounds, images, labels, birds)


def object_patch(name: str, side: int, sources: Sources, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """An RGBA patch of one object whose longer side is ``side`` pixels, and where it came from."""
    fm_label = CATEGORIES[name]
    if fm_label is None:
        file_name, drawing = sources.birds[int(rng.integers(len(sources.birds)))]
        scale = side / max(drawing.size)
        size = (max(4, round(drawing.width * scale)), max(4, round(drawing.height * scale)))
        return drawing.resize(size, Image.Resampling.LANCZOS), f"openclipart:{file_name}"
    index = int(rng.choice(np.flatnonzero(sources.fashion_labels == fm_label)))
    item = sources.fashion_images[index]
    ys, xs = np.nonzero(item > 30)
    item = item[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = side / max(item.shape)
    size = (max(4, round(item.shape[1] * scale)), max(4, round(item.shape[0] * scale)))
    grey = np.asarray(Image.fromarray(item).resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    alpha = np.clip((grey - 20.0) / 60.0, 0.0, 1.0)  # the item's dark background becomes transparent
    tint = rng.uniform(0.35, 1.0, size=3)
    rgb = np.clip((0.25 + 0.75 * grey[..., None] / 255.0) * tint * 255.0, 0, 255)
    patch = np.dstack([rgb, alpha * 255.0]).round().astype(np.uint8)
    return Image.fromarray(patch, "RGBA"), f"fashion-mnist:t10k-{index:05d}"


# --------------------------------------------------------------------------
# Scenes: images and their true objects
# --------------------------------------------------------------------------


def make_scenes(sources: Sources, rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Compose every image; returns the image records (with their true objects) and the JPEG bytes."""
    negatives = {int(i) for i in rng.choice(N_IMAGES, size=N_NEGATIVE, replace=False)}
    scenes, files = [], {}
    for i in range(N_IMAGES):
        key, package, _, _, split = BACKGROUNDS[i % len(BACKGROUNDS)]
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        back = sources.backgrounds[key]
        crop_w = int(rng.uniform(0.3, 0.75) * back.width)
        crop_h = min(back.height, round(crop_w * height / width))
        crop_w = round(crop_h * width / height)
        x0, y0 = int(rng.integers(back.width - crop_w + 1)), int(rng.integers(back.height - crop_h + 1))
        canvas = back.crop((x0, y0, x0 + crop_w, y0 + crop_h)).resize((width, height), Image.Resampling.LANCZOS)
        objects: list[dict[str, Any]] = []
        n_objects = 0 if i in negatives else int(rng.integers(1, 5))
        for _ in range(n_objects):
            name = NAMES[int(rng.integers(len(NAMES)))]
            side = int(rng.integers(OBJECT_SIDE[0], min(OBJECT_SIDE[1], int(0.6 * height)) + 1))
            patch, origin = object_patch(name, side, sources, rng)
            alpha = np.asarray(patch)[..., 3]
            ys, xs = np.nonzero(alpha >= 128)
            if not len(xs):  # a source whose mask is empty after resizing: no object to place
                continue
            for _attempt in range(100):
                px = int(rng.integers(width - patch.width + 1))
                py = int(rng.integers(height - patch.height + 1))
                box = (float(px + xs.min()), float(py + ys.min()), float(xs.max() - xs.min() + 1),
                       float(ys.max() - ys.min() + 1))
                if all(iou(_grow(box, 4), o["bbox"]) == 0 for o in objects):
                    canvas.paste(patch, (px, py), patch)
                    objects.append({"category": name, "bbox": list(box), "origin": origin})
                    break
        file_name = f"{split}/{i:03d}-{key}.jpg"
        buf = io.BytesIO()
        canvas.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
        files[file_name] = buf.getvalue()
        scenes.append({"id": i + 1, "file_name": file_name, "width": width, "height": height, "split": split,
                       "license": LICENSE_OF_PACKAGE[package], "background": f"{package}:{key}", "objects": objects})
    return scenes, files


def _grow(box: Box, margin: float) -> Box:
    return box[0] - margin, box[1] - margin, box[2] + 2 * margin, box[3] + 2 * margin


# --------------------------------------------------------------------------
# Planted problems, predictions and annotators (all derived from the true objects)
# --------------------------------------------------------------------------


def _other_class(name: str, rng: np.random.Generator, *, cross_group: bool) -> str:
    group = next((g for g in CONFUSABLE if name in g), {name}) if cross_group else {name}
    choices = [n for n in NAMES if n not in group]
    return choices[int(rng.integers(len(choices)))]


def _shift(box: list[float], others: list[list[float]], size: tuple[int, int],
           rng: np.random.Generator) -> list[float] | None:
    """``box`` moved by 40-70% of its size in a random direction, inside the image, off other objects."""
    x, y, w, h = box
    for _ in range(200):
        f, theta = rng.uniform(0.4, 0.7), rng.uniform(0, 2 * np.pi)
        moved = _round([x + f * w * np.cos(theta), y + f * h * np.sin(theta), w, h])
        inside = moved[0] >= 0 and moved[1] >= 0 and moved[0] + w <= size[0] and moved[1] + h <= size[1]
        if inside and iou(moved, box) < 0.5 and all(iou(moved, o) < 0.1 for o in others):
            return moved
    return None


def plant(scenes: list[dict[str, Any]], rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict]]:
    """The ground-truth annotations as given (corrupted) and the PLANTED entries; one problem per image."""
    truth = [(s, o) for s in scenes for o in s["objects"]]
    for k, (_, o) in enumerate(truth, start=1):
        o["id"] = k
    given = {o["id"]: {"id": o["id"], "image_id": s["id"], "category": o["category"], "bbox": o["bbox"]}
             for s, o in truth}
    candidates = [s for s in scenes if s["objects"]]
    order = [candidates[int(k)] for k in rng.permutation(len(candidates))]
    planted, next_id = [], len(truth) + 1
    for kind in ("duplicate", "shifted", "swapped", "missing"):
        done = 0
        while done < N_PLANTED[kind]:
            scene = order.pop(0)
            obj = scene["objects"][int(rng.integers(len(scene["objects"])))]
            size = (scene["width"], scene["height"])
            entry = {"file_name": scene["file_name"], "image_id": scene["id"], "kind": kind,
                     "true_annotation_id": obj["id"], "true_bbox": obj["bbox"], "true_category": obj["category"]}
            if kind == "duplicate":
                box = _round([obj["bbox"][0], obj["bbox"][1], obj["bbox"][2] + 1, obj["bbox"][3]])
                if min(obj["bbox"][2:]) < 25 or box[0] + box[2] > size[0]:
                    continue
                given[next_id] = {"id": next_id, "image_id": scene["id"], "category": obj["category"], "bbox": box}
                entry.update(annotation_id=next_id, given_bbox=box, given_category=obj["category"])
                next_id += 1
            elif kind == "shifted":
                box = _shift(obj["bbox"], [o["bbox"] for o in scene["objects"] if o is not obj], size, rng)
                if box is None:
                    continue
                given[obj["id"]]["bbox"] = box
                entry.update(annotation_id=obj["id"], given_bbox=box, given_category=obj["category"])
            elif kind == "swapped":
                wrong = _other_class(obj["category"], rng, cross_group=True)
                given[obj["id"]]["category"] = wrong
                entry.update(annotation_id=obj["id"], given_bbox=obj["bbox"], given_category=wrong)
            else:
                del given[obj["id"]]
                entry.update(annotation_id=None, given_bbox=None, given_category=None)
            planted.append(entry)
            done += 1
    planted.sort(key=lambda e: (e["kind"], e["file_name"]))
    return sorted(given.values(), key=lambda a: a["id"]), planted


def _background_box(scene: dict[str, Any], rng: np.random.Generator) -> list[float] | None:
    """A box of 30-100 px on the image's background (touching no true object), or None."""
    for _ in range(100):
        w, h = rng.integers(30, 101, size=2)
        if w >= scene["width"] or h >= scene["height"]:
            continue
        box = [float(rng.integers(scene["width"] - w)), float(rng.integers(scene["height"] - h)), float(w), float(h)]
        if all(iou(box, _grow(o["bbox"], 4)) == 0 for o in scene["objects"]):
            return box
    return None


def _extras(scenes: list[dict[str, Any]], n: int, rng: np.random.Generator) -> list[tuple[dict, list[float], str]]:
    extras = []
    while len(extras) < n:
        scene = scenes[int(rng.integers(len(scenes)))]
        box = _background_box(scene, rng)
        if box is not None:
            extras.append((scene, box, NAMES[int(rng.integers(len(NAMES)))]))
    return extras


def simulate_predictions(scenes: list[dict[str, Any]], seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """COCO results simulated from the true boxes (see :data:`DETECTOR`) and their realised counts."""
    rng = np.random.default_rng([seed, 1])
    p, out = DETECTOR, []
    counts = {"true_objects": 0, "detected": 0, "missed": 0, "wrong_class": 0, "background": p["n_background"]}
    for scene in scenes:
        size = (scene["width"], scene["height"])
        for o in scene["objects"]:
            counts["true_objects"] += 1
            if rng.random() < p["miss_rate"]:
                counts["missed"] += 1
                continue
            counts["detected"] += 1
            out.append((scene["id"], o["category"], jitter(o["bbox"], rng.uniform(*p["iou"]), rng, size),
                        rng.uniform(*p["score"])))
            if rng.random() < p["wrong_class_rate"]:
                counts["wrong_class"] += 1
                out.append((scene["id"], _other_class(o["category"], rng, cross_group=False),
                            jitter(o["bbox"], rng.uniform(0.7, 0.9), rng, size), rng.uniform(*p["wrong_class_score"])))
    for scene, box, name in _extras(scenes, p["n_background"], rng):
        out.append((scene["id"], name, box, rng.uniform(*p["background_score"])))
    results = [{"image_id": i, "category_id": NAMES.index(n) + 1, "bbox": b, "score": round(float(s), 3)}
               for i, n, b, s in out]
    results.sort(key=lambda r: (r["image_id"], -r["score"], r["bbox"]))
    return results, counts


def simulate_annotator(scenes: list[dict[str, Any]], key: str, seed: int) -> tuple[list[dict], dict[str, Any]]:
    """One annotator's boxes derived from the truth with :data:`ANNOTATORS` ``[key]``, and what was done."""
    rng = np.random.default_rng([seed, 2, ord(key)])
    p, anns, ious = ANNOTATORS[key], [], []
    record: dict[str, Any] = {**{k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
                              "flipped": [], "missed": [], "extra": []}
    for scene in scenes:
        for o in scene["objects"]:
            if rng.random() < p["miss_rate"]:
                record["missed"].append({"file_name": scene["file_name"], "true_annotation_id": o["id"]})
                continue
            box = jitter(o["bbox"], rng.uniform(*p["iou"]), rng, (scene["width"], scene["height"]))
            ious.append(iou(box, o["bbox"]))
            name = o["category"]
            if rng.random() < p["flip_rate"]:
                name = _other_class(name, rng, cross_group=False)
                record["flipped"].append({"file_name": scene["file_name"], "true_annotation_id": o["id"],
                                          "true_category": o["category"], "given_category": name})
            anns.append({"image_id": scene["id"], "category": name, "bbox": box})
    for scene, box, name in _extras(scenes, p["n_extra"], rng):
        anns.append({"image_id": scene["id"], "category": name, "bbox": box})
        record["extra"].append({"file_name": scene["file_name"], "bbox": box, "category": name})
    anns.sort(key=lambda a: (a["image_id"], a["bbox"]))
    for k, a in enumerate(anns, start=1):
        a["id"] = k
    record["mean_iou"] = round(float(np.mean(ious)), 4)
    return anns, record


def coco_document(scenes: list[dict[str, Any]], anns: list[dict[str, Any]], description: str) -> dict[str, Any]:
    """A COCO detection document over every image, with the given annotations."""
    return {
        "info": {"description": description, "version": "1.0", "year": 2026,
                 "contributor": "workbench scripts/build_detection_demo.py"},
        "licenses": list(LICENSES),
        "categories": [{"id": k, "name": n, "supercategory": "clipart" if CATEGORIES[n] is None else "fashion"}
                       for k, n in enumerate(NAMES, start=1)],
        "images": [{k: s[k] for k in ("id", "file_name", "width", "height", "license", "split", "background")}
                   for s in scenes],
        "annotations": [{"id": a["id"], "image_id": a["image_id"], "category_id": NAMES.index(a["category"]) + 1,
                         "bbox": a["bbox"], "area": round(a["bbox"][2] * a["bbox"][3], 2), "iscrowd": 0}
                        for a in anns],
    }


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

OUTPUT_NAMES = {"data", "annotators", "labels.json", "predictions.json", "PLANTED.json"}


def json_bytes(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, indent 1, trailing newline)."""
    return (json.dumps(value, sort_keys=True, indent=1) + "\n").encode("utf-8")


def json_lines_bytes(value: dict[str, Any] | list[Any]) -> bytes:
    r"""Deterministic compact JSON with one list item per line (COCO files stay small and diffable).

    Example:
        >>> json_lines_bytes({"b": [1, {"y": 2, "x": 1}], "a": 0}).decode()
        '{\n"a":0,\n"b":[\n1,\n{"x":1,"y":2}\n]\n}\n'
    """
    def dump(v: Any) -> str:
        return json.dumps(v, sort_keys=True, separators=(",", ":"))

    def block(v: Any) -> str:
        return "[\n" + ",\n".join(dump(x) for x in v) + "\n]" if isinstance(v, list) and v else dump(v)

    if isinstance(value, list):
        return (block(value) + "\n").encode("utf-8")
    return ("{\n" + ",\n".join(f"{dump(k)}:{block(value[k])}" for k in sorted(value)) + "\n}\n").encode("utf-8")


def build(out: Path, *, seed: int = SEED, force: bool = False, fashion: Path = FASHION, clipart: Path = CLIPART,
          wallpapers: Path = WALLPAPERS, gnome: Path = GNOME) -> dict[str, Any]:
    """Build the dataset into ``out``; returns the manifest (``PLANTED.json``)."""
    if out.exists() and any(out.iterdir()):
        if not force:
            raise BuildError(f"output directory {out} is not empty; pass --force to delete and rebuild it")
        unexpected = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_NAMES)
        if unexpected:
            raise BuildError(f"refusing to delete {out}: it holds more than a build ({', '.join(unexpected)})")
    if not fashion.is_dir():
        raise BuildError(f"Fashion-MNIST directory {fashion} not found; {INSTALL_HINT}")
    sources = load_sources(fashion, clipart, wallpapers, gnome)
    rng = np.random.default_rng(seed)
    scenes, files = make_scenes(sources, rng)
    given, planted = plant(scenes, rng)
    predictions, detector_counts = simulate_predictions(scenes, seed)
    annotators = {k: simulate_annotator(scenes, k, seed) for k in ANNOTATORS}
    n_objects = sum(len(s["objects"]) for s in scenes)
    manifest = {
        "dataset": "detection-demo", "seed": seed, "classes": list(NAMES), "planted": planted,
        "counts": {"n_images": len(scenes), "n_negative": sum(not s["objects"] for s in scenes),
                   "n_true_objects": n_objects, "n_given_boxes": len(given),
                   "per_split": {sp: sum(s["split"] == sp for s in scenes) for sp in ("train", "val")},
                   "per_kind": {k: sum(e["kind"] == k for e in planted) for k in N_PLANTED}},
        "predictions": {"simulated_from": "true boxes (before planting)",
                        **{k: list(v) if isinstance(v, tuple) else v for k, v in DETECTOR.items()},
                        "realised": detector_counts},
        "annotators": {f"annotator_{k}": {"file": f"annotators/annotator_{k}.json", **rec}
                       for k, (_, rec) in annotators.items()},
        "sources": [{"key": key, "package": pkg, "path": rel, "license": lic, "split": split}
                    for key, pkg, rel, lic, split in BACKGROUNDS],
    }
    if out.exists():
        shutil.rmtree(out)
    for rel, data in files.items():
        (out / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "data" / rel).write_bytes(data)
    (out / "annotators").mkdir(parents=True)
    (out / "labels.json").write_bytes(json_lines_bytes(coco_document(scenes, given, "workbench detection demo: "
                                                               "ground truth with planted problems")))
    (out / "predictions.json").write_bytes(json_lines_bytes(predictions))
    for k, (anns, _) in annotators.items():
        (out / "annotators" / f"annotator_{k}.json").write_bytes(
            json_lines_bytes(coco_document(scenes, anns, f"workbench detection demo: simulated annotator {k}")))
    (out / "PLANTED.json").write_bytes(json_bytes(manifest))
    return manifest


def describe(manifest: dict[str, Any], out: Path) -> str:
    """One line saying what was built, e.g. ``detection demo: 150 images (15 negative), ...``."""
    c = manifest["counts"]
    return (f"detection demo: {c['n_images']} images ({c['n_negative']} negative), {c['n_true_objects']} objects, "
            f"{len(manifest['planted'])} planted problems in {out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="delete a previous build in --out first")
    parser.add_argument("--fashion-mnist", type=Path, default=FASHION, help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, seed=args.seed, force=args.force, fashion=args.fashion_mnist)
    except BuildError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(describe(manifest, args.out))
    return 0

if __name__ == "__main__":
    sys.exit(main())
