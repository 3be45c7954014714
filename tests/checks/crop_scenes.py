"""A small detection set with planted box problems: Fashion-MNIST items pasted onto real wallpapers.

Each scene is a 256x192 region of a desktop wallpaper (``/usr/share/wallpapers``,
``/usr/share/backgrounds``) with 2-3 Fashion-MNIST items (the classes in :data:`CLASSES`) pasted
where they don't overlap. Planted, each in a different image: ``swapped`` boxes (the label of
another class), ``shifted`` boxes (moved off their object by most of a box) and ``missing``
boxes (the object is drawn, its box left out). Used by the tests and, with another seed, to
measure recall and precision (``python -m tests.checks.crop_scenes --seed 7``).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FASHION = Path("/usr/share/datasets/fashion-mnist")
WALLPAPERS = (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"))
#: Fashion-MNIST class index -> the class name used here.
CLASSES = {1: "trouser", 7: "sneaker", 8: "bag"}
SIZE = (256, 192)


@dataclass
class Scenes:
    """The written set: per image its path, hash and annotated ``(label, box, object_id)``; what was planted."""

    paths: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    objects: list[list[tuple[str, tuple[float, float, float, float], str]]] = field(default_factory=list)
    #: ``(image index, kind, true label, true box, object id)``; kind ``swapped``, ``badly_located`` (the
    #: box was shifted) or ``overlooked`` (no object id: the box was left out).
    planted: list[tuple[int, str, str, tuple[float, float, float, float], str | None]] = field(default_factory=list)


def _fashion(n_per_class: int, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    with gzip.open(FASHION / "train-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    with gzip.open(FASHION / "train-images-idx3-ubyte.gz") as fh:
        images = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    return {name: [images[i] for i in rng.choice(np.flatnonzero(labels == k), n_per_class, replace=False)]
            for k, name in CLASSES.items()}


def _wallpapers() -> list[Path]:
    picked: dict[Path, Path] = {}
    for root in WALLPAPERS:
        for p in sorted(root.rglob("*.jpg")):
            picked.setdefault(p.parent, p)  # one picture per theme
    return sorted(picked.values())


def _background(path: Path, rng: np.random.Generator):
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (960, 960))
        img = img.convert("RGB")
        scale = max(SIZE[0] / img.width, SIZE[1] / img.height) * rng.uniform(1.0, 1.6)
        img = img.resize((int(img.width * scale) + 1, int(img.height * scale) + 1))
    x = int(rng.integers(0, img.width - SIZE[0] + 1))
    y = int(rng.integers(0, img.height - SIZE[1] + 1))
    return img.crop((x, y, x + SIZE[0], y + SIZE[1]))


def _paste(scene, item: np.ndarray, box_px: tuple[int, int, int], rng: np.random.Generator) -> None:
    from PIL import Image

    x, y, side = box_px
    gray = Image.fromarray(item).resize((side, side), Image.BICUBIC)
    tint = tuple(int(v) for v in rng.integers(150, 256, 3))
    colour = Image.merge("RGB", [gray.point(lambda v, t=t: v * t // 255) for t in tint])
    mask = gray.point(lambda v: min(255, v * 3))
    scene.paste(colour, (x, y), mask)


def _free_spot(taken: list[tuple[int, int, int]], side: int, rng: np.random.Generator) -> tuple[int, int] | None:
    for _ in range(200):
        x, y = int(rng.integers(0, SIZE[0] - side)), int(rng.integers(0, SIZE[1] - side))
        if all(x + side + 8 <= tx or tx + ts + 8 <= x or y + side + 8 <= ty or ty + ts + 8 <= y
               for tx, ty, ts in taken):
            return x, y
    return None


def _shifted(taken: list[tuple[int, int, int]], rng: np.random.Generator) -> tuple[int, int]:
    """Where the first object's box goes: moved by 70-100% of its side, inside the image, clear of the others."""
    x, y, side = taken[0]
    for _ in range(200):
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.7, 1.0) * side
        nx, ny = int(x + dist * np.cos(angle)), int(y + dist * np.sin(angle))
        if 0 <= nx <= SIZE[0] - side and 0 <= ny <= SIZE[1] - side and all(
                nx + side <= tx or tx + ts <= nx or ny + side <= ty or ty + ts <= ny for tx, ty, ts in taken[1:]):
            return nx, ny
    return _free_spot(taken, side, rng) or (x, y)


def make_scenes(folder: Path, *, n_images: int = 40, seed: int = 0, n_swapped: int = 1, n_shifted: int = 1,
                n_missing: int = 1) -> Scenes:
    """Write ``n_images`` JPEG scenes into ``folder`` with the planted problems; returns their annotations."""
    rng = np.random.default_rng(seed)
    items = _fashion(n_images * 3, rng)
    walls = _wallpapers()
    names = sorted(CLASSES.values())
    plan = ["swapped"] * n_swapped + ["badly_located"] * n_shifted + ["overlooked"] * n_missing
    planted_in = dict(zip(rng.choice(n_images, len(plan), replace=False).tolist(), plan))
    out = Scenes()
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(n_images):
        scene = _background(walls[int(rng.integers(len(walls)))], rng)
        taken: list[tuple[int, int, int]] = []
        objects = []
        for j in range(int(rng.integers(2, 4))):
            side = int(rng.integers(56, 80))
            spot = _free_spot(taken, side, rng)
            if spot is None:
                continue
            label = names[int(rng.integers(len(names)))]
            _paste(scene, items[label].pop(), (*spot, side), rng)
            taken.append((*spot, side))
            box = (spot[0] / SIZE[0], spot[1] / SIZE[1], side / SIZE[0], side / SIZE[1])
            objects.append((label, box, f"o{n}-{j}"))
        kind = planted_in.get(n)
        if kind == "swapped":
            label, box, oid = objects[0]
            objects[0] = (next(c for c in names if c != label), box, oid)
            out.planted.append((n, kind, label, box, oid))
        elif kind == "overlooked":
            label, box, _ = objects.pop()
            out.planted.append((n, kind, label, box, None))
        elif kind == "badly_located":
            label, box, oid = objects[0]
            spot = _shifted(taken, rng)
            objects[0] = (label, (spot[0] / SIZE[0], spot[1] / SIZE[1], box[2], box[3]), oid)
            out.planted.append((n, kind, label, box, oid))
        path = folder / f"scene-{n:03d}.jpg"
        scene.save(path, quality=92)
        out.paths.append(str(path))
        out.hashes.append(hashlib.sha256(path.read_bytes()).hexdigest())
        out.objects.append(objects)
    return out


def scene_inputs(scenes: Scenes, cfg, embedder=None):
    """The :class:`CheckInputs` an audit of the scenes gives the checks, with the real ``crop_features``
    (``embedder``: a loaded model to reuse, else the one ``cfg`` names)."""
    from workbench.checks.inputs import CheckInputs, SampleColumns
    from workbench.embeddings.backends import load_embedder
    from workbench.stages import Stages, crop_reader

    n = len(scenes.paths)
    columns = SampleColumns(
        ids=tuple(f"s{i}" for i in range(n)), filepaths=tuple(scenes.paths), splits=(None,) * n, labels=(None,) * n,
        label_lists=tuple(tuple(lab for lab, _, _ in objs) for objs in scenes.objects), hashes=tuple(scenes.hashes),
        boxes=tuple(tuple(b for _, b, _ in objs) for objs in scenes.objects),
        object_ids=tuple(tuple(o for _, _, o in objs) for objs in scenes.objects))
    st = Stages(columns, [None] * n, embedder=embedder or load_embedder(cfg.embedder))
    return CheckInputs(task="detection", columns=columns, facts=tuple(st.facts), metadata={},
                       crop_features=crop_reader(st, cfg))


def matches(issue, planted, sample_ids) -> bool:
    """Whether a finding is the planted problem: same image, kind and suggested class (a window
    over a planted object counts when it overlaps the object's true box by IoU 0.3+)."""
    from workbench.checks.box_match import iou

    n, kind, label, box, oid = planted
    if issue.sample_id != sample_ids[n]:
        return False
    if issue.kind == "overlooked":
        return issue.suggested_label == label and iou(issue.box, box) >= 0.3 and kind in ("overlooked",
                                                                                         "badly_located")
    if issue.object_id != oid or issue.kind != kind:
        return False
    return kind != "swapped" or issue.suggested_label == label


def score(issues, scenes: Scenes) -> dict:
    """Recall of each planted kind, and the share of findings that are a planted problem."""
    ids = [f"s{i}" for i in range(len(scenes.paths))]
    kinds = sorted({p[1] for p in scenes.planted})
    recall = {k: round(sum(any(matches(i, p, ids) and i.kind == k for i in issues)
                           for p in scenes.planted if p[1] == k) / max(1, sum(p[1] == k for p in scenes.planted)), 3)
              for k in kinds}
    found = sum(any(matches(i, p, ids) and i.kind == p[1] for i in issues) for p in scenes.planted)
    true = sum(any(matches(i, p, ids) for p in scenes.planted) for i in issues)
    return {"planted": len(scenes.planted), "found": found, "recall": round(found / max(1, len(scenes.planted)), 3),
            "recall_by_kind": recall, "flagged": len(issues), "true_flags": true,
            "precision": round(true / max(1, len(issues)), 3)}


if __name__ == "__main__":  # measure on a held-out seed
    import argparse
    import json
    import os
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--planted", type=int, default=3, help="of each kind")
    args = parser.parse_args()
    from workbench.checks.object_crops import CropOptions, find_crop_label_issues
    from workbench.config import AuditConfig

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("WORKBENCH_CACHE", tmp)  # set it to keep crops between runs
        scenes = make_scenes(Path(os.environ["WORKBENCH_CACHE"]) / f"scenes-{args.seed}", n_images=args.images, seed=args.seed, n_swapped=args.planted,
                             n_shifted=args.planted, n_missing=args.planted)
        opts = json.loads(os.environ.get("CROP_OPTIONS", "{}"))
        found, facts = find_crop_label_issues(scene_inputs(scenes, AuditConfig(embedder="efficientnet-lite0")),
                                              CropOptions(**opts))
        for i in found:
            print(i.sample_id, i.kind, i.label, i.suggested_label, i.score, i.box)
        print(json.dumps({k: v for k, v in facts.items() if k != "options"}))
        print("planted", [(f"s{p[0]}", *p[1:]) for p in scenes.planted])
        print(json.dumps(score(found, scenes)))
