"""Bad-input catalogue for ``workbench resplit``: each case states its exit code and a phrase, and no user file changes.

Model-free (``--embedder none``): copies are linked by content and perceptual hashes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image

FAST = ("--embedder", "none", "--quiet")


@pytest.fixture
def unsplit(tmp_path: Path) -> Path:
    root = tmp_path / "unsplit"
    for i in range(12):
        write_image(root / ("cat" if i % 2 else "dog") / f"{i}.png", 300 + i)
    return root


CASES = [
    # (args, exit code, phrase in stderr)
    (("--ratios", "train=0.8"), 2, "name at least two splits"),
    (("--ratios", "train=0.7,test=0.2"), 2, "the shares sum to 0.9"),
    (("--ratios", "train=0.8,test"), 2, "can't read 'test'"),
    (("--ratios", "train=0.5,val=0.5", "--mode", "repair"), 2, "--ratios apply to --mode fresh"),
    (("--split-field", "nosuch"), 2, "--split-field nosuch: dataset"),
    (("--label-field", "nosuch"), 2, "has no Classification/Detections field 'nosuch'"),
    (("--group-by", "tags"), 2, "--group-by tags: a ListField, not a text or number field"),
    (("--field", "wb_proposed_split"), 2, "every audit rewrites that field"),
    (("--field", "tags"), 2, "already exists and was not written by workbench resplit"),
    (("--tolerance", "0"), 2, "must be above 0"),
    (("--tolerance", "1.5"), 2, "at most 1"),
    (("--tolerance", "abc"), 2, "is not a number"),
    (("--mode", "random"), 2, "invalid choice"),
    (("--min-class-size", "0"), 2, "must be at least 1"),
    (("--group-by", "nosuch"), 2, "--group-by nosuch: dataset"),
    (("--group-by", "a,,b"), 2, "without empty names"),
    (("--field", "ground_truth"), 2, "already exists and was not written by workbench resplit"),
    (("--field", "filepath"), 2, "already exists"),
    (("--field", "not a name"), 2, "not a usable field name"),
    (("--manifest", "{tmp}/split.txt"), 2, "name a .csv or .json file"),
    (("--manifest", "{root}/split.csv"), 2, "inside the dataset"),
    (("--manifest", "{tmp}/"), 2, "is a folder"),
]


@pytest.mark.parametrize("args, code, phrase", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_resplit_options_are_input_errors(leaky: Path, tmp_path: Path, unique_name: str, args, code, phrase):
    args = tuple(a.format(tmp=tmp_path, root=leaky) for a in args)
    with untouched(leaky):
        out = run_cli("resplit", leaky, "--name", unique_name, *FAST, *args)
    assert out.code == code and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text


def test_repair_without_a_current_split_is_an_input_error(unsplit: Path, unique_name: str):
    with untouched(unsplit):
        out = run_cli("resplit", unsplit, "--name", unique_name, *FAST, "--mode", "repair")
    assert out.code == 2 and "--mode repair needs a current split" in out.stderr, out.text[-2000:]
    assert "ERROR" not in out.stderr  # refused before the audit ran, not as a failed check


def test_the_split_field_is_never_overwritten(leaky: Path, unique_name: str):
    import fiftyone as fo

    with untouched(leaky):
        assert run_cli("resplit", leaky, "--name", unique_name, *FAST, "--field", "my_split").code == 0
        out = run_cli("resplit", unique_name, *FAST, "--split-field", "my_split", "--field", "my_split")
    assert out.code == 2 and "is the current split field" in out.stderr
    assert "my_split" in fo.load_dataset(unique_name).get_field_schema()


def test_outputs_inside_the_folder_of_a_dataset_named_are_refused(leaky: Path, unique_name: str):
    """A dataset given by name: its folder is known once it is loaded, still before anything is written."""
    with untouched(leaky):
        assert run_cli("audit", leaky, "--name", unique_name, *FAST).code == 0
        resplit = run_cli("resplit", unique_name, *FAST, "--manifest", leaky / "split.csv")
        audit = run_cli("audit", unique_name, *FAST, "--report", leaky / "report.html")
    for out in (resplit, audit):
        assert out.code == 2 and "is inside the dataset folder" in out.stderr, out.text[-2000:]


def test_a_resplit_repairs_the_leak_and_writes_field_and_manifests(leaky: Path, tmp_path: Path, unique_name: str):
    """The leaked copy joins its original's split; the field, the CSV and the JSON manifests agree; a re-audit
    on the new field finds no leak; the user's split and files are untouched."""
    import fiftyone as fo

    out_csv, out_json = tmp_path / "out" / "split.csv", tmp_path / "out" / "split.json"
    with untouched(leaky):
        first = run_cli("resplit", leaky, "--name", unique_name, *FAST, "--manifest", out_csv, "--min-class-size", "1",
                        "--tolerance", "0.5")
        again = run_cli("resplit", unique_name, *FAST, "--manifest", out_json, "--min-class-size", "1",
                        "--tolerance", "0.5")
        audit = run_cli("audit", unique_name, *FAST, "--split-field", "wb_split", "--fail-on", "leaks")
    assert first.code == 0 and "1 groups spread over splits; proposed: 0 and 0" in first.stdout, first.text[-2000:]
    rows = list(csv.DictReader(out_csv.open()))
    moved = [r for r in rows if r["moved"] == "True"]
    assert len(moved) == 1 and moved[0]["current_split"] != moved[0]["proposed_split"]
    copy = next(r for r in rows if r["filepath"].endswith("copy.png"))
    original = next(r for r in rows if r["group"] == copy["group"] and r is not copy)
    assert copy["proposed_split"] == original["proposed_split"]
    doc = json.loads(out_json.read_text())
    assert {s["sample_id"]: s["proposed_split"] for s in doc["samples"]} == \
        {r["sample_id"]: r["proposed_split"] for r in rows}
    assert doc["current"]["crossing_links"] == 1 and doc["proposed"]["crossing_links"] == 0
    assert again.code == 0 and audit.code == 0 and "leaks>0: 0 leaked samples" in audit.stderr, audit.text[-2000:]
    ds = fo.load_dataset(unique_name)
    for path, tags in zip(ds.values("filepath"), ds.values("tags")):  # the user's split (its folders, as tags)
        assert [t for t in tags if t in ("train", "test")] == [Path(path).parent.parent.name]
    assert dict(zip(ds.values("id"), ds.values("wb_split"))) == {r["sample_id"]: r["proposed_split"] for r in rows}


def test_tolerance_out_of_reach_is_exit_1(unsplit: Path, unique_name: str):
    with untouched(unsplit):
        out = run_cli("resplit", unsplit, "--name", unique_name, *FAST, "--ratios", "train=0.9,test=0.1",
                      "--min-class-size", "1", "--tolerance", "0.01")
    assert out.code == 1 and "is -6.7% off train's ratio (tolerance ±1.0%)" in out.stderr, out.text[-2000:]
