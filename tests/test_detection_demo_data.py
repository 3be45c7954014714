"""Checks on the committed detection demo (``data/detection-demo``) and its planted-problem manifest.

The file checks use the standard library and Pillow. One test loads the ground truth with FiftyOne's
own COCO importer and one audits it with workbench's objects check (the suite's private MongoDB);
the rebuild check needs the Debian source packages and skips without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from workbench.checks.box_match import iou

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT = REPO_ROOT / "data" / "detection-demo"
SCRIPT = REPO_ROOT / "scripts" / "build_detection_demo.py"
SOURCES = [Path("/usr/share/datasets/fashion-mnist"), Path("/usr/share/openclipart/png/animals/birds"),
           Path("/usr/share/wallpapers/Path"), Path("/usr/share/backgrounds/gnome/wood-l.webp")]
CLASSES = ["trouser", "dress", "sneaker", "bag", "ankle_boot", "bird"]
KINDS = {"swapped": 12, "shifted": 12, "missing": 12, "duplicate": 5}
JSON_FILES = ["labels.json", "predictions.json", "PLANTED.json", "annotators/annotator_a.json",
              "annotators/annotator_b.json", "annotators/annotator_c.json"]
MAX_BYTES = 4_200_000


def _read(rel: str) -> Any:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def labels() -> dict[str, Any]:
    return _read("labels.json")


@pytest.fixture(scope="module")
def planted() -> dict[str, Any]:
    return _read("PLANTED.json")


def boxes_by_image(coco: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """``{image id: [annotation, ...]}``."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in coco["annotations"]:
        out[a["image_id"]].append(a)
    return out


def test_files_exist_and_fit_the_budget(labels: dict[str, Any]) -> None:
    from PIL import Image

    for rel in JSON_FILES:
        assert (ROOT / rel).is_file(), rel
    assert [c["name"] for c in labels["categories"]] == CLASSES
    assert len(labels["images"]) == 150 and len({i["id"] for i in labels["images"]}) == 150
    for image in labels["images"]:
        path = ROOT / "data" / image["file_name"]
        assert image["file_name"].startswith(image["split"] + "/") and image["split"] in ("train", "val")
        with Image.open(path) as img:
            assert (img.format, img.size) == ("JPEG", (image["width"], image["height"])), path
    on_disk = sorted(p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*") if p.is_file())
    assert on_disk == sorted(i["file_name"] for i in labels["images"])
    licences = " ".join(lic["name"] for lic in labels["licenses"])
    for package in ("dataset-fashion-mnist", "openclipart-png", "plasma-workspace-wallpapers", "gnome-backgrounds"):
        assert package in licences
    assert {i["license"] for i in labels["images"]} <= {lic["id"] for lic in labels["licenses"]}
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total <= MAX_BYTES, f"data/detection-demo is {total} bytes"


def test_the_folder_reads_as_the_ground_truth_alone() -> None:
    """The annotators' COCO files sit in a subfolder: a COCO JSON beside labels.json would be read too."""
    from workbench.io.formats.coco import detect

    spec = detect(ROOT)
    assert spec is not None and [p.name for _, p in spec.parts] == ["labels.json"]


def test_splits_follow_the_wallpapers(labels: dict[str, Any], planted: dict[str, Any]) -> None:
    """Crops of one photo overlap, so a whole wallpaper lands in one split; about 10% negatives."""
    split_of: dict[str, set[str]] = defaultdict(set)
    for image in labels["images"]:
        split_of[image["background"]].add(image["split"])
    assert all(len(s) == 1 for s in split_of.values())
    assert set(Counter(i["split"] for i in labels["images"])) == {"train", "val"}
    with_boxes = {a["image_id"] for a in labels["annotations"]}
    negatives = [i for i in labels["images"] if i["id"] not in with_boxes]
    assert len(negatives) >= planted["counts"]["n_negative"] == 15


def test_planted_entries_match_the_labels(labels: dict[str, Any], planted: dict[str, Any]) -> None:
    images = {i["id"]: i for i in labels["images"]}
    anns = {a["id"]: a for a in labels["annotations"]}
    per_image = boxes_by_image(labels)
    entries = planted["planted"]
    assert Counter(e["kind"] for e in entries) == KINDS
    assert len({e["image_id"] for e in entries}) == len(entries), "one planted problem per image"
    for e in entries:
        assert images[e["image_id"]]["file_name"] == e["file_name"]
        assert (ROOT / "data" / e["file_name"]).is_file()
        true_box, kind = e["true_bbox"], e["kind"]
        if kind == "missing":
            assert e["annotation_id"] is None and e["given_bbox"] is None and e["given_category"] is None
            assert e["true_annotation_id"] not in anns
            assert all(iou(true_box, a["bbox"]) <= 0.3 for a in per_image[e["image_id"]]), e
            continue
        given = anns[e["annotation_id"]]
        assert given["image_id"] == e["image_id"] and given["bbox"] == e["given_bbox"]
        assert CLASSES[given["category_id"] - 1] == e["given_category"]
        if kind == "swapped":
            assert e["given_bbox"] == true_box and e["given_category"] != e["true_category"]
            assert {e["given_category"], e["true_category"]} != {"sneaker", "ankle_boot"}
        elif kind == "shifted":
            assert e["given_category"] == e["true_category"]
            assert iou(true_box, e["given_bbox"]) < 0.5, e
            assert not any(iou(true_box, a["bbox"]) >= 0.5 for a in per_image[e["image_id"]]), e
        else:  # duplicate: the original stays, a second same-class box nearly on top of it
            original = anns[e["true_annotation_id"]]
            assert original["bbox"] == true_box and original["category_id"] == given["category_id"]
            assert e["annotation_id"] != e["true_annotation_id"] and iou(true_box, e["given_bbox"]) >= 0.95
    counts = planted["counts"]
    assert counts["n_given_boxes"] == len(anns) == counts["n_true_objects"] - KINDS["missing"] + KINDS["duplicate"]


def test_predictions_are_simulated_from_the_truth(labels: dict[str, Any], planted: dict[str, Any]) -> None:
    """The detector finds most planted objects at their true place and class, with high scores."""
    predictions = _read("predictions.json")
    image_ids = {i["id"] for i in labels["images"]}
    assert all(p["image_id"] in image_ids and 1 <= p["category_id"] <= 6 and 0 < p["score"] <= 1
               and len(p["bbox"]) == 4 for p in predictions)
    per_image = defaultdict(list)
    for p in predictions:
        per_image[p["image_id"]].append(p)
    found = []
    for e in planted["planted"]:
        hits = [p for p in per_image[e["image_id"]] if CLASSES[p["category_id"] - 1] == e["true_category"]
                and iou(p["bbox"], e["true_bbox"]) >= 0.5]
        found += [max(h["score"] for h in hits)] if hits else []
    assert len(found) >= 0.85 * len(planted["planted"]) and min(found) >= 0.6
    realised = planted["predictions"]["realised"]
    assert realised["detected"] + realised["missed"] == planted["counts"]["n_true_objects"]
    assert len(predictions) == realised["detected"] + realised["wrong_class"] + realised["background"]


def _mean_matched_iou(truth: dict[str, Any], other: dict[str, Any]) -> float:
    """Mean IoU of each annotator box with the closest unplanted ground-truth box of its image."""
    per_image = boxes_by_image(truth)
    best = [max((iou(a["bbox"], t["bbox"]) for t in per_image[a["image_id"]]), default=0.0)
            for a in other["annotations"]]
    matched = [b for b in best if b >= 0.5]
    return sum(matched) / len(matched)


def test_annotators_disagree_as_recorded(labels: dict[str, Any], planted: dict[str, Any]) -> None:
    coco = {k: _read(f"annotators/annotator_{k}.json") for k in "abc"}
    record = planted["annotators"]
    for k, doc in coco.items():
        assert [i["file_name"] for i in doc["images"]] == [i["file_name"] for i in labels["images"]]
        r = record[f"annotator_{k}"]
        assert len(doc["annotations"]) == planted["counts"]["n_true_objects"] - len(r["missed"]) + len(r["extra"])
        assert r["iou"][0] - 0.02 <= r["mean_iou"] <= r["iou"][1] + 0.02
    a, b = (_mean_matched_iou(labels, coco[k]) for k in "ab")
    assert a > b + 0.05, (a, b)
    assert len(record["annotator_b"]["flipped"]) > 2 * len(record["annotator_a"]["flipped"])
    assert record["annotator_a"]["missed"] == [] and record["annotator_b"]["missed"]


def test_fiftyone_coco_importer_reads_it(labels: dict[str, Any], unique_name: str) -> None:
    import fiftyone as fo

    ds = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset, data_path=str(ROOT / "data"),
                             labels_path=str(ROOT / "labels.json"), label_types=["detections"],
                             label_field="ground_truth", name=unique_name)
    assert len(ds) == 150
    assert ds.count("ground_truth.detections") == len(labels["annotations"])
    expected = Counter(CLASSES[a["category_id"] - 1] for a in labels["annotations"])
    assert ds.count_values("ground_truth.detections.label") == dict(expected)


def test_the_objects_check_finds_the_planted_duplicates(planted: dict[str, Any], unique_name: str) -> None:
    import workbench

    ds = workbench.load(ROOT / "labels.json", name=unique_name)
    keep = {"integrity", "objects"}
    skip = tuple(n for n in ("duplicates", "leakage", "label_issues", "balance", "bias", "image_quality",
                             "outliers", "masks") if n not in keep)
    result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none", skip_checks=skip), progress=False)
    flagged = {(Path(i.filepath).name, i.kinds) for i in result.findings["objects"].issues}
    expected = {(Path(e["file_name"]).name, ("duplicate",)) for e in planted["planted"] if e["kind"] == "duplicate"}
    assert flagged == expected


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, "LOGLEVEL": "WARNING"})


def test_rebuild_is_identical_and_guards_its_folder(tmp_path: Path) -> None:
    missing = [str(p) for p in SOURCES if not p.exists()]
    if missing:
        pytest.skip(f"Debian sources missing: {missing}")
    out = tmp_path / "dd"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused = _run("--out", str(out), "--force")
    assert refused.returncode == 2 and "refusing" in refused.stderr and (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    result = _run("--out", str(out))
    assert result.returncode == 0, result.stderr
    committed = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert rebuilt == committed
    differing = [rel for rel in committed if (ROOT / rel).read_bytes() != (out / rel).read_bytes()]
    assert not differing, f"rebuilt files differ from the committed ones: {differing[:10]}"
