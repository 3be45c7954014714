"""What one read of an image file tells (:class:`FileFacts`): shared by the reader
(:mod:`workbench.io.files`) and the cache of earlier reads (:mod:`workbench.io.facts_cache`), which
both import it from here, so neither imports the other's module for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class FileFacts:
    """What one read of an image file tells: hash, size, header, or the problem."""

    filepath: str
    sha256: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    image_format: str | None
    problem: str | None = None
    problem_kind: str | None = None
    #: 64-bit perceptual hash (imagehash ``phash``) as 16 hex digits, for model-free near-exact copies.
    phash: str | None = None
    #: The perceptual hash of the mirrored (left-right) image: a mirrored copy's ``phash`` is close to it.
    phash_mirror: str | None = None
    #: 16x16 RGB thumbnail of the upright image (768 bytes as hex), for verifying near duplicates.
    thumb: str | None = None
    #: Numbers checks asked for while the file was decoded (``{"<check>@<version>": {name: value}}``,
    #: as JSON text; see ``CheckSpec.file_measures``).
    measures: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def measure(self, key: str) -> dict[str, float] | None:
        """The measures stored under ``key`` (``None``: not measured)."""
        import json

        return json.loads(self.measures).get(key) if self.measures else None

    def has_measures(self, keys: Iterable[str]) -> bool:
        """Whether every one of ``keys`` was measured (a problem file needs none)."""
        import json

        if not self.ok:
            return True
        have = json.loads(self.measures) if self.measures else {}
        return all(k in have for k in keys)
