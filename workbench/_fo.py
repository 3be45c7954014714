"""The one door to FiftyOne: imported lazily, with usage tracking off by default.

FiftyOne sends anonymous usage data unless ``FIFTYONE_DO_NOT_TRACK`` is set. workbench
sets it to ``true`` before FiftyOne is first imported, unless the user set it already.
"""

from __future__ import annotations

import os
from typing import Any

#: Prefix of every field, tag and saved view workbench writes, so none clashes with a user's.
PREFIX = "wb_"
TAG_PREFIX = "wb:"


def fiftyone() -> Any:
    """Import and return the ``fiftyone`` module (tracking off unless the user opted in)."""
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    import fiftyone as fo

    return fo


def load_dataset(name: str) -> Any:
    """Load a persistent FiftyOne dataset by name, with a message that says what to do if it is missing."""
    fo = fiftyone()
    if not fo.dataset_exists(name):
        known = ", ".join(sorted(fo.list_datasets())) or "none"
        raise LookupError(f"no FiftyOne dataset named {name!r} (known: {known}); "
                          "run `workbench audit SRC` first, or pass the dataset name shown in its summary")
    return fo.load_dataset(name)
