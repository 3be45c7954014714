"""A tiny classification dataset with an audit's saved views, for the hand-off tests (no audit run: the
views are what an audit leaves, built by hand)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_image

#: The flagged images, in order: two cats and a dog.
FLAGGED = ("pet-0.png", "pet-3.png", "pet-1.png")


def flagged_pets(root: Path, name: str, *, flagged: int = 3):
    """Six images (``cat/pet-0..2``, ``dog/pet-3..5``) loaded as FiftyOne dataset ``name``; the first ``flagged``
    of :data:`FLAGGED` tagged ``wb:label_issue`` and saved as ``wb-label-issues``, an empty ``wb-leaks``, and a
    user field ``note``. Returns ``(dataset, root)``."""
    from workbench.io.loading import load

    for k in range(6):
        write_image(root / ("cat" if k < 3 else "dog") / f"pet-{k}.png", seed=100 + k)
    dataset = load(root, name=name)
    by_name = {Path(p).name: i for i, p in zip(*dataset.values(["id", "filepath"]))}
    ids = [by_name[n] for n in FLAGGED[:flagged]]
    dataset.select(ids).tag_samples("wb:label_issue")
    dataset.save_view("wb-label-issues", dataset.match_tags("wb:label_issue"))
    dataset.save_view("wb-leaks", dataset.match_tags("wb:leak"))
    dataset.set_values("note", ["kept"] * len(dataset))
    return dataset, root
