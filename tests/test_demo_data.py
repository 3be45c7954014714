"""Checks on the committed demo dataset (``data/demo``) and its planted-issue manifest.

The data checks use the standard library only, so they run in any Python.
The rebuild checks run ``scripts/build_demo_data.py`` and need numpy, Pillow
and the Debian ``dataset-fashion-mnist`` package; they skip without them.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "data" / "demo"
DATA_ROOT = DEMO_DIR / "fashion-mnist"
MANIFEST_PATH = DEMO_DIR / "PLANTED.json"
SCRIPT = REPO_ROOT / "scripts" / "build_demo_data.py"
SOURCE = Path("/usr/share/datasets/fashion-mnist")
MAX_BYTES = 5 * 1000 * 1000
SPLITS = ("train", "test")
CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
CONFUSABLE_GROUPS = [{"T-shirt_top", "Pullover", "Coat", "Shirt", "Dress"}, {"Sandal", "Sneaker", "Ankle_boot"}]
TRANSFORMS = {"brightness", "shift", "jpeg", "upscale", "contrast", "resave"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BASE_NAME = re.compile(r"^(train|test)-\d{6}\.png$")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The committed manifest."""
    assert MANIFEST_PATH.is_file(), f"{MANIFEST_PATH} missing; run scripts/build_demo_data.py"
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def tree_files() -> dict[str, Path]:
    """Every file under the dataset root, keyed by its ``/``-separated relative path."""
    return {p.relative_to(DATA_ROOT).as_posix(): p for p in sorted(DATA_ROOT.rglob("*")) if p.is_file()}


def read(rel: str) -> bytes:
    """Bytes of a file given relative to the dataset root."""
    return (DATA_ROOT / rel).read_bytes()


def label_of(rel: str) -> str:
    """Class folder of a ``split/class/file`` path."""
    return rel.split("/")[1]


def group_of(label: str) -> set[str]:
    """Confusable group of ``label`` (a singleton if it is in none)."""
    return next((g for g in CONFUSABLE_GROUPS if label in g), {label})


def png_is_complete(data: bytes) -> bool:
    """True if ``data`` is a PNG whose chunks all have valid CRCs, ending in IEND."""
    if not data.startswith(PNG_SIGNATURE):
        return False
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunk_type = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        crc_bytes = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            return False
        if zlib.crc32(chunk_type + body) != struct.unpack(">I", crc_bytes)[0]:
            return False
        if chunk_type == b"IEND":
            return pos + 12 + length == len(data)
        pos += 12 + length
    return False


def manifest_paths(manifest: dict[str, Any]) -> list[str]:
    """Every path the manifest mentions."""
    paths: list[str] = []
    for entry in manifest["exact_duplicates"]:
        paths += [entry["original"], *entry["copies"]]
    for entry in manifest["near_duplicates"]:
        paths += [entry["original"], entry["copy"]]
    for entry in manifest["leaks"]:
        paths += [entry["train"], entry["test"]]
    paths += [entry["path"] for entry in manifest["flipped_labels"]]
    paths += [entry["path"] for entry in manifest["bad_files"]]
    return paths


def test_manifest_header(manifest: dict[str, Any]) -> None:
    assert set(manifest) == {"dataset", "license", "seed", "classes", "exact_duplicates", "near_duplicates",
                             "leaks", "flipped_labels", "rare_class", "bad_files", "counts"}
    assert manifest["dataset"] == "fashion-mnist"
    assert manifest["license"] == "MIT"
    assert isinstance(manifest["seed"], int)
    assert manifest["classes"] == CLASSES


def test_manifest_is_canonical_json(manifest: dict[str, Any]) -> None:
    """The committed file is exactly what the script writes (sorted keys, indent 1)."""
    expected = json.dumps(manifest, sort_keys=True, indent=1) + "\n"
    assert MANIFEST_PATH.read_text(encoding="utf-8") == expected


def test_every_manifest_path_exists(manifest: dict[str, Any]) -> None:
    paths = manifest_paths(manifest)
    assert paths
    missing = [p for p in paths if not (DATA_ROOT / p).is_file()]
    assert not missing, f"manifest paths missing from the tree: {missing}"
    assert all(p.split("/")[0] in SPLITS and p.split("/")[1] in CLASSES for p in paths)


def test_planted_category_sizes(manifest: dict[str, Any]) -> None:
    copies = sorted(len(e["copies"]) for e in manifest["exact_duplicates"])
    assert copies == [1, 1, 1, 1, 1, 2]  # 5 pairs and 1 triple
    assert sorted(e["transform"] for e in manifest["near_duplicates"]) == sorted(TRANSFORMS)
    leaks = manifest["leaks"]
    assert sum(e["kind"] == "exact" and not e["label_conflict"] for e in leaks) == 4
    assert sum(e["kind"] == "near" and not e["label_conflict"] for e in leaks) == 4
    assert sum(e["kind"] == "exact" and e["label_conflict"] for e in leaks) == 2
    assert len(leaks) == 10
    assert len(manifest["flipped_labels"]) == 20
    assert sorted((e["path"], e["kind"]) for e in manifest["bad_files"]) == [
        ("train/Bag/corrupt-truncated.png", "truncated"),
        ("train/Coat/not-an-image.png", "not_an_image"),
    ]


def test_exact_duplicates_are_byte_identical(manifest: dict[str, Any]) -> None:
    for entry in manifest["exact_duplicates"]:
        original = read(entry["original"])
        assert png_is_complete(original)
        for copy in entry["copies"]:
            assert label_of(copy) == label_of(entry["original"])
            assert copy.startswith("train/")
            assert read(copy) == original, copy


def test_near_duplicates_differ_in_bytes(manifest: dict[str, Any]) -> None:
    for entry in manifest["near_duplicates"]:
        copy = entry["copy"]
        assert entry["transform"] in TRANSFORMS
        assert copy.startswith("train/") and label_of(copy) == label_of(entry["original"])
        assert read(copy) != read(entry["original"]), copy
        assert copy.endswith(".jpg" if entry["transform"] == "jpeg" else ".png")
        assert f"-near-{entry['transform']}." in copy


def test_leaks(manifest: dict[str, Any]) -> None:
    for entry in manifest["leaks"]:
        train, test = entry["train"], entry["test"]
        assert train.startswith("train/") and test.startswith("test/")
        assert Path(test).name.startswith("leak-" + Path(train).stem)
        assert (label_of(test) != label_of(train)) == entry["label_conflict"], entry
        if entry["kind"] == "exact":
            assert entry["transform"] is None
            assert read(test) == read(train), test
        else:
            assert entry["kind"] == "near" and entry["transform"] in TRANSFORMS
            assert read(test) != read(train), test


def test_flipped_labels_sit_in_the_given_folder(manifest: dict[str, Any]) -> None:
    for entry in manifest["flipped_labels"]:
        path, true, given = entry["path"], entry["true_label"], entry["given_label"]
        assert path.startswith("train/") and label_of(path) == given
        assert (DATA_ROOT / path).is_file()
        assert not (DATA_ROOT / "train" / true / Path(path).name).exists(), "flipped file left in its true folder"
        assert given not in group_of(true), f"flip inside a confusable group: {entry}"
        assert "Ankle_boot" not in (true, given)


def test_planted_sources_do_not_overlap(manifest: dict[str, Any]) -> None:
    """No source train image takes part in two planted categories."""
    flipped = [f"train/{e['true_label']}/{Path(e['path']).name}" for e in manifest["flipped_labels"]]
    sources = ([e["original"] for e in manifest["exact_duplicates"]]
               + [e["original"] for e in manifest["near_duplicates"]]
               + [e["train"] for e in manifest["leaks"]]
               + flipped)
    assert len(sources) == 6 + 6 + 10 + 20
    assert len(set(sources)) == len(sources)


def test_counts_match_tree(manifest: dict[str, Any]) -> None:
    for split in SPLITS:
        folders = sorted(p.name for p in (DATA_ROOT / split).iterdir())
        assert folders == sorted(CLASSES)
        found = {c: sum(1 for p in (DATA_ROOT / split / c).iterdir() if p.is_file()) for c in CLASSES}
        assert manifest["counts"][split] == found, split


def test_rare_class(manifest: dict[str, Any]) -> None:
    rare = manifest["rare_class"]
    assert rare["label"] == "Ankle_boot"
    for split in SPLITS:
        assert rare[split] == manifest["counts"][split]["Ankle_boot"]
        others = [n for c, n in manifest["counts"][split].items() if c != "Ankle_boot"]
        assert rare[split] * 4 < min(others), "rare class is not rare"
    assert (rare["train"], rare["test"]) == (10, 5)


def test_bad_files_are_bad() -> None:
    truncated = read("train/Bag/corrupt-truncated.png")
    assert truncated.startswith(PNG_SIGNATURE) and not png_is_complete(truncated)
    assert read("train/Coat/not-an-image.png") == b"this is not an image\n"


def test_every_file_is_documented_and_valid(manifest: dict[str, Any]) -> None:
    """Unplanted files are plain ``<split>-NNNNNN.png`` in their split; all images parse."""
    planted = set(manifest_paths(manifest))
    bad = {e["path"] for e in manifest["bad_files"]}
    for rel, path in tree_files().items():
        split, _, name = rel.split("/")
        if rel not in planted:
            assert BASE_NAME.match(name) and name.startswith(split + "-"), f"undocumented file {rel}"
        data = path.read_bytes()
        if rel in bad:
            continue
        if name.endswith(".jpg"):
            assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9"), rel
        else:
            assert png_is_complete(data), rel


def test_total_size_within_budget() -> None:
    """Apparent size of ``data/demo`` (like ``du -sb``) is at most 5 MB."""
    total = DEMO_DIR.stat().st_size
    for dirpath, dirnames, filenames in os.walk(DEMO_DIR):
        for name in dirnames + filenames:
            total += (Path(dirpath) / name).lstat().st_size
    assert total <= MAX_BYTES, f"data/demo is {total} bytes"


# --------------------------------------------------------------------------
# Rebuild checks (need numpy, Pillow and the Fashion-MNIST source)
# --------------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the build script with the current interpreter."""
    pytest.importorskip("numpy", reason="the build script needs numpy")
    pytest.importorskip("PIL", reason="the build script needs Pillow")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def require_source() -> None:
    """Skip unless the Debian Fashion-MNIST package is installed."""
    if not SOURCE.is_dir():
        pytest.skip(f"{SOURCE} not found (apt-get install dataset-fashion-mnist)")


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    require_source()
    out, manifest_file = tmp_path / "fashion-mnist", tmp_path / "PLANTED.json"
    result = run_script("--out", str(out), "--manifest", str(manifest_file))
    assert result.returncode == 0, result.stderr
    assert manifest_file.read_bytes() == MANIFEST_PATH.read_bytes()
    committed = tree_files()
    rebuilt = {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*")) if p.is_file()}
    assert sorted(rebuilt) == sorted(committed)
    differing = [rel for rel, path in committed.items() if path.read_bytes() != rebuilt[rel].read_bytes()]
    assert not differing, f"rebuilt files differ from the committed ones: {differing[:10]}"


def test_refuses_non_empty_output_without_force(tmp_path: Path) -> None:
    require_source()
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    keep = out / "train" / "keep.txt"
    keep.write_text("x")
    result = run_script("--out", str(out), "--manifest", str(tmp_path / "m.json"))
    assert result.returncode != 0
    assert "--force" in result.stderr
    assert keep.exists()
    result = run_script("--out", str(out), "--manifest", str(tmp_path / "m.json"), "--force")
    assert result.returncode == 0, result.stderr
    assert not keep.exists()
    assert (tmp_path / "m.json").read_bytes() == MANIFEST_PATH.read_bytes()


def test_missing_source_explains_how_to_install(tmp_path: Path) -> None:
    result = run_script("--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"),
                        "--manifest", str(tmp_path / "m.json"))
    assert result.returncode != 0
    assert "apt-get install dataset-fashion-mnist" in result.stderr
    assert not (tmp_path / "out").exists()
