"""Demo plumbing shared by the curated notebooks: where the demo is, what was planted in it, an image grid.

Nothing here is workbench API: it holds what every notebook would otherwise repeat, so that
each one shows the audit rather than the plumbing. The notebooks import it as
``from _helpers import ...``; Jupyter, nbclient and the tests start a notebook's kernel in
``notebooks/``, which puts this folder on the kernel's path.

Example:
    >>> from _helpers import demo_path, rel
    >>> rel(demo_path("train/Bag/train-000394.png"))
    'train/Bag/train-000394.png'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

#: The shipped demo data (``data/README.md``): ``train/<class>/`` and ``test/<class>/`` folders.
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "fashion-mnist"
#: The shipped detection demo (``data/README.md``, "Detection demo"): ``labels.json`` (COCO), the images
#: under ``data/``, a detector's ``predictions.json`` (simulated) and three annotators' COCO files.
DETECTION_DEMO = Path(__file__).resolve().parents[1] / "data" / "detection-demo"


def load_planted() -> dict:
    """The issues planted in the demo, file by file (``data/demo/PLANTED.json``).

    Example:
        >>> len(load_planted()["flipped_labels"])
        20
    """
    return json.loads((DEMO.parent / "PLANTED.json").read_text(encoding="utf-8"))


def load_detection_planted() -> dict:
    """The box problems planted in the detection demo (``data/detection-demo/PLANTED.json``).

    Example:
        >>> sorted({p["kind"] for p in load_detection_planted()["planted"]})
        ['duplicate', 'missing', 'shifted', 'swapped']
    """
    return json.loads((DETECTION_DEMO / "PLANTED.json").read_text(encoding="utf-8"))


def found_planted(issues, planted: Sequence[dict], *, min_iou: float = 0.5) -> dict[str, tuple[int, int]]:
    """Per planted kind, ``(found, planted)``: a planted box is found when a flagged object on its image
    overlaps it (the given box; for a missing one the true box) with IoU >= ``min_iou``.

    ``issues`` are records with ``filepath`` and a relative ``box`` (object label issues).
    """
    from PIL import Image

    from workbench.checks.box_match import iou

    found: dict[str, list[int]] = {}
    for entry in planted:
        path = DETECTION_DEMO / "data" / entry["file_name"]
        with Image.open(path) as img:
            w, h = img.size
        x, y, bw, bh = entry["given_bbox"] or entry["true_bbox"]
        target = (x / w, y / h, bw / w, bh / h)
        hit = any(Path(i.filepath) == path and i.box is not None and iou(tuple(i.box), target) >= min_iou
                  for i in issues)
        counts = found.setdefault(entry["kind"], [0, 0])
        counts[0] += hit
        counts[1] += 1
    return {k: (v[0], v[1]) for k, v in found.items()}


def demo_path(relative: str) -> str:
    """Absolute path of a demo file named as in PLANTED.json (FiftyOne stores absolute paths)."""
    return str(DEMO / relative)


def rel(filepath: str) -> str:
    """A demo file's path relative to the demo folder, for readable tables."""
    return str(Path(filepath).relative_to(DEMO))


def show_images(filepaths: Sequence[str], titles: Sequence[str], *, ncols: int = 6, size: float = 1.8) -> None:
    """A grid of images with a title under each (enough to eyeball 28x28 thumbnails).

    Example:
        >>> show_images([demo_path("train/Bag/train-000394.png")], ["a bag"])  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    nrows = max(1, -(-len(filepaths) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.5)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, path, title in zip(axes.flat, filepaths, titles):
        ax.imshow(Image.open(path).convert("L"), cmap="gray")
        ax.set_title(title, fontsize=8)
    plt.tight_layout()
    plt.show()
