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


def load_planted() -> dict:
    """The issues planted in the demo, file by file (``data/demo/PLANTED.json``).

    Example:
        >>> len(load_planted()["flipped_labels"])
        20
    """
    return json.loads((DEMO.parent / "PLANTED.json").read_text(encoding="utf-8"))


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
