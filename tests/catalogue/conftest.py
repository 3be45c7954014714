"""Fixtures shared by the bad-input catalogue's modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import split_class_folders


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """train/test cat/dog folders, one exact train->test copy with another label (a leak and a duplicate)."""
    return split_class_folders(tmp_path / "leaky", leak_to="test/dog/copy.png")
