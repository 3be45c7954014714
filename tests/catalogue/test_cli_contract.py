"""Bad-input catalogue: the exit-code contract, honest gates, usage errors, output paths, predictions CSVs.

Each case states its expected exit code (0 done, 1 gate failed, 2 usage/input error, 3 internal
error) and a phrase of the message, and runs inside ``untouched``: no user file may change.
Model-free (``--embedder none``) so the catalogue stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image

FAST = ("--embedder", "none", "--no-write-back", "--quiet")


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    root = tmp_path / "clean"
    for i in range(8):
        write_image(root / "train" / ("cat" if i % 2 else "dog") / f"{i}.png", 100 + i)
    for i in range(4):
        write_image(root / "test" / ("cat" if i % 2 else "dog") / f"t{i}.png", 200 + i)
    return root


# ------------------------------------------------------------------ gates: thresholds and honesty

GATE_CASES = [
    # (gate expression, extra args, expected exit, phrase on stderr)
    ("leaks", (), 1, "leaks>0: 2 leaked samples"),
    ("leaks>0", (), 1, "failing (--fail-on): leaks>0"),
    ("leaks>5", (), 0, "leaks>5: 2 leaked samples"),
    ("leaks>11%", (), 0, "- passed"),
    ("leaks>5%", (), 1, "(10.5% of 19) - failed"),
    ("duplicates>=1", (), 1, "duplicates>=1: 1 redundant samples"),
    ("duplicates>2%", (), 1, "duplicates>2%"),
    ("duplicates>10%", (), 0, "- passed"),
    ("file-problems", (), 0, "file-problems>0: 0 file problems"),
    ("imbalance", (), 0, "imbalance>0: 0 classes below the ratio"),
    # label issues need embeddings or predictions: skipped here, so the gate fails with the reason...
    ("label-issues>100", (), 1, "check label_issues skipped: needs embeddings or user predictions"),
    # ...unless the user accepts skipped checks
    ("label-issues>100", ("--allow-skipped",), 0, "not evaluated (--allow-skipped)"),
]


@pytest.mark.parametrize("expr, extra, code, phrase", GATE_CASES, ids=[f"{c[0]}{c[1]}" for c in GATE_CASES])
def test_gate_thresholds_and_skipped_checks(leaky: Path, unique_name: str, expr, extra, code, phrase) -> None:
    with untouched(leaky):
        out = run_cli("audit", leaky, "--name", unique_name, *FAST, "--fail-on", expr, *extra)
    assert out.code == code, out.text[-3000:]
    assert phrase in out.stderr, out.stderr[-3000:]


def test_a_gate_over_a_check_without_its_inputs_fails(tmp_path: Path, unique_name: str) -> None:
    """No splits: leakage is skipped, so `--fail-on leaks` must not pass as if there were no leaks."""
    root = tmp_path / "nosplits"
    for i in range(6):
        write_image(root / ("a" if i % 2 else "b") / f"{i}.png", i)
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, *FAST, "--fail-on", "leaks")
    assert out.code == 1 and "check leakage skipped: the dataset has no splits" in out.stderr


# ------------------------------------------------------------------ usage errors: exit 2, no traceback

USAGE_CASES = [
    (("--fail-on", "everything"), "unknown 'everything'"),
    (("--fail-on", "leaks>>3"), "can't read 'leaks>>3'"),
    (("--fail-on", "leaks>150%"), "can't exceed 100"),
    (("--batch-size", "0"), "must be at least 1, not 0"),
    (("--batch-size", "-4"), "must be at least 1"),
    (("--batch-size", "many"), "is not a whole number"),
    (("--near-threshold", "-0.1"), "must be at least 0 and at most 2"),
    (("--near-threshold", "nan"), "must be at least 0"),
    (("--review-budget", "0"), "must be at least 1, not 0"),
    (("--review-budget", "-5"), "must be at least 1"),
    (("--review-budget", "2.5"), "is not a whole number"),
    (("--calibration-samples", "3"), "must be at least 10"),
    (("--calibration-samples", "many"), "is not a whole number"),
    (("--min-class-ratio", "0"), "must be above 0"),
    (("--min-class-ratio", "1.5"), "at most 1"),
    (("--format", "pascal"), "invalid choice"),
    (("--embedder", "resnet"), "invalid choice"),
    # check options: unknown names, wrong types, out of range, given twice (issue 11)
    (("--check-option", "image_quality.nosuch=1"), "has no option 'nosuch'"),
    (("--check-option", "image_quality.z=abc"), "'abc' is not a number"),
    (("--check-option", "image_quality.z=-1"), "z must be at least"),
    (("--check-option", "image_quality.sharpness=nan"), "is not a number (finite)"),
    (("--check-option", "image_quality.colour_share=5"), "colour_share must be at least 0 and at most 1"),
    (("--check-option", "outliers.k=0"), "k must be at least 1, not 0"),
    (("--check-option", "outliers.k=2.5"), "'2.5' is not a whole number"),
    (("--check-option", "outliers.reference=foo"), "reference must be 'class' or 'all'"),
    (("--check-option", "object_labels.crops_relocate_gain=0"), "crops_relocate_gain must be above 0"),
    (("--check-option", "object_labels.crops_proposal_min_votes=2"), "crops_proposal_min_votes must be above 0"),
    (("--check-option", "object_labels.crops_refine_rounds=9"), "crops_refine_rounds must be a whole number from 0"),
    (("--check-option", "object_labels.crops_max_window_negatives=0"), "crops_max_window_negatives must be"),
    # spurious correlations (issue 13)
    (("--check-option", "spurious_correlations.class_auc=0.3"), "class_auc must be in (0.5, 1]"),
    (("--check-option", "spurious_correlations.threshold=0"), "threshold must be in (0, 1]"),
    (("--check-option", "spurious_correlations.permutations=5"), "permutations must be 19 to 10,000"),
    (("--check-option", "spurious_correlations.min_class_size=1"), "min_class_size must be at least 2"),
    (("--check-option", "spurious_correlations.properties=brightness,hue"), "properties: unknown 'hue'"),
    (("--check-option", "spurious_correlations.alpha=1"), "alpha must be in (0, 1)"),
    # split drift and weak regions (issue 13)
    (("--check-option", "drift.auc=0.5"), "auc must be in (0.5, 1]"),
    (("--check-option", "drift.permutations=10"), "permutations must be 19 to 10,000"),
    (("--check-option", "drift.alpha=0.001"), "can't be reached with 99 permutations"),
    (("--check-option", "drift.min_class_size=1"), "min_class_size must be at least 2"),
    (("--check-option", "drift.clusters=1"), "clusters must be 0 (automatic) or 2 to 1,000"),
    (("--check-option", "drift.region_gap=1.5"), "region_gap must be in (0, 1)"),
    (("--check-option", "drift.region_min_size=0"), "region_min_size must be at least 2"),
    (("--check-option", "drift.max_regions=0"), "max_regions must be at least 1"),
    (("--check-option", "drift.auc=high"), "'high' is not a number"),
    (("--check-option", "nosuch.x=1"), "unknown check 'nosuch'"),
    (("--check-option", "image_quality"), "CHECK.OPTION=VALUE"),
    (("--check-option", "outliers.cut=2", "--check-option", "outliers.cut=3"), "outliers.cut is given twice"),
    (("--skip-check", "nosuch"), "invalid choice"),
]


@pytest.mark.parametrize("args, phrase", USAGE_CASES, ids=[" ".join(c[0]) for c in USAGE_CASES])
def test_nonsense_options_are_usage_errors(clean: Path, args, phrase) -> None:
    with untouched(clean):
        out = run_cli("audit", clean, *FAST, *args)
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text


def test_app_on_a_saved_view_the_dataset_lacks_is_an_input_error(clean: Path, unique_name: str) -> None:
    with untouched(clean):
        assert run_cli("audit", clean, "--name", unique_name, "--embedder", "none", "--quiet").code == 0
        out = run_cli("app", unique_name, "--view", "wb-nosuch")
    assert out.code == 2 and "has no saved view 'wb-nosuch'" in out.stderr
    assert "wb-image-quality" in out.stderr and "Traceback" not in out.text


def test_app_port_out_of_range_is_a_usage_error() -> None:
    out = run_cli("app", "whatever", "--port", "70000")
    assert out.code == 2 and "at most 65535" in out.stderr


def test_version() -> None:
    from workbench import __version__

    out = run_cli("--version")
    assert out.code == 0 and out.stdout.strip() == f"workbench {__version__}"


# ------------------------------------------------------------------ output paths: checked before any work

def test_output_path_problems_stop_before_the_audit(clean: Path, tmp_path: Path, unique_name: str) -> None:
    import fiftyone as fo

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    cases = [
        (("--report", a_file / "report.html"), "is a file, not a folder"),
        (("--json", tmp_path), "is a folder"),
        (("--json", clean / "audit.json"), "inside the dataset folder"),
        (("--cache-dir", a_file / "cache"), "is a file, not a folder"),
    ]
    for args, phrase in cases:
        with untouched(clean, a_file.parent):
            out = run_cli("audit", clean, "--name", unique_name, *FAST, *args)
        assert out.code == 2 and phrase in out.stderr, (args, out.text[-2000:])
        assert not fo.dataset_exists(unique_name), "the audit started before the output path was checked"


def test_report_and_json_are_written_whole(clean: Path, tmp_path: Path, unique_name: str) -> None:
    out_dir = tmp_path / "new" / "folder"
    (tmp_path / "new").mkdir()
    stale = tmp_path / "new" / "old.json"
    stale.write_text("{}")
    with untouched(clean):
        out = run_cli("audit", clean, "--name", unique_name, *FAST, "--json", out_dir / "a.json",
                      "--report", out_dir / "r.html")
    assert out.code == 0, out.text[-2000:]
    assert json.loads((out_dir / "a.json").read_text())["dataset"]["n_samples"] == 12
    assert (out_dir / "r.html").read_text().rstrip().endswith("</html>")
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.json", "r.html"]  # no temporary files left


# ------------------------------------------------------------------ predictions CSV: input errors, never a fallback

def _preds(root: Path, tmp: Path, body: str, *, header: str = "filepath,cat,dog", bom: bool = False) -> Path:
    path = tmp / "preds.csv"
    text = header + "\n" + body
    path.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
    return path


CSV_CASES = [
    ("nan", "{p},nan,0.5\n", 2, "'nan' is not a probability"),
    ("text", "{p},high,0.5\n", 2, "'high' is not a number"),
    ("negative", "{p},-0.2,1\n", 2, "'-0.2' is not a probability"),
    ("short row", "{p},0.5\n", 2, "2 values, expected 3"),
    ("duplicate rows", "{p},0.5,0.5\n{p},0.1,0.9\n", 2, "a second row for"),
    ("unknown class", None, 2, "unknown ['cow']"),
    ("empty file", "", 2, "is empty"),
    ("no matching files", "/elsewhere/x.png,0.5,0.5\n", 2, "match no sample"),
    ("missing file", None, 2, "does not exist"),
    ("excel BOM", "{p},0.9,0.1\n", 0, "label_issues"),
    ("latin-1", None, 2, "is not UTF-8 text: byte 0xe9 at offset 27 (line 2)"),
    ("random bytes", None, 2, "is not UTF-8 text: byte 0xff at offset 0 (line 1)"),
]


@pytest.mark.parametrize("case, body, code, phrase", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_bad_predictions_csv_is_an_input_error(clean: Path, tmp_path: Path, unique_name: str,
                                               case, body, code, phrase) -> None:
    sample = next(clean.rglob("*.png"))
    if case == "unknown class":
        csv = _preds(clean, tmp_path, f"{sample},0.3,0.3,0.4\n", header="filepath,cat,dog,cow")
    elif case == "missing file":
        csv = tmp_path / "nowhere.csv"
    elif case == "empty file":
        csv = tmp_path / "preds.csv"
        csv.write_text("")
    elif case == "latin-1":  # a path with an e-acute, saved as Latin-1
        csv = tmp_path / "preds.csv"
        csv.write_bytes(b"filepath,cat,dog\nimages/caf\xe9.png,0.5,0.5\n")
    elif case == "random bytes":
        csv = tmp_path / "preds.csv"
        csv.write_bytes(bytes([0xFF, 0xFE, 0x00, 0x80] * 16))
    elif case == "excel BOM":  # a row per image, each sure of its folder's class
        rows = "".join(f"{p},{0.9 if p.parent.name == 'cat' else 0.1},{0.1 if p.parent.name == 'cat' else 0.9}\n"
                       for p in sorted(clean.rglob("*.png")))
        csv = _preds(clean, tmp_path, rows, bom=True)
    else:
        csv = _preds(clean, tmp_path, body.format(p=sample))
    out_json = tmp_path / "a.json"
    with untouched(clean, *([csv] if csv.exists() else [])):
        out = run_cli("audit", clean, "--name", unique_name, *FAST, "--predictions", csv, "--json", out_json)
    assert out.code == code, out.text[-2000:]
    if code == 2:
        assert phrase in out.stderr and "Traceback" not in out.text
        assert not out_json.exists()
    else:
        doc = json.loads(out_json.read_text())
        assert doc["checks"]["label_issues"] == {"state": "ran", "reason": ""}
        assert doc["label_issue_method"].startswith("user predictions")


# ------------------------------------------------------------------ internal errors are 3, never 1

def test_a_crash_exits_3_with_a_hint(clean: Path, unique_name: str, monkeypatch) -> None:
    import workbench.orchestrator

    def boom(*_, **__):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(workbench.orchestrator, "run_audit", boom)
    with untouched(clean):
        out = run_cli("audit", clean, "--name", unique_name, *FAST, "--fail-on", "leaks")
    assert out.code == 3 and "internal error: ZeroDivisionError: planted" in out.stderr
    assert "-v" in out.stderr and "Traceback" not in out.stderr
    verbose = run_cli("-v", "audit", clean, "--name", unique_name, *FAST)
    assert verbose.code == 3 and "Traceback" in verbose.stderr


def test_stdout_carries_the_summary_only(leaky: Path, unique_name: str) -> None:
    with untouched(leaky):
        out = run_cli("audit", leaky, "--name", unique_name, "--embedder", "none", "--quiet")
    assert out.code == 0
    lines = out.stdout.splitlines()
    assert lines[1].startswith("workbench audit of") and lines[-1] == f"review: workbench app {unique_name}"
    assert not any(w in out.stdout for w in ("WARNING", "INFO", "%|", "Importing samples"))


def test_log_handlers_on_stderr_survive_fiftyone_progress_bars(leaky: Path, unique_name: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """While the audit runs, stdout is forwarded to stderr. FiftyOne's progress bars capture stdout and
    re-point every handler whose stream is stdout: a handler on stderr (here Python's last-resort one,
    whose stream can't be set) must not be taken for stdout. Exit 0, and the summary still on stdout."""
    import logging

    import fiftyone as fo

    monkeypatch.setattr(fo.config, "show_progress_bars", True)
    other = logging.getLogger("tests.some_library")
    monkeypatch.setattr(other, "handlers", [logging.lastResort])
    with untouched(leaky):
        out = run_cli("audit", leaky, "--name", unique_name, *FAST)
    assert out.code == 0, out.text
    assert "workbench audit of" in out.stdout


# ------------------------------------------------------------------ found by a new user's trial (issue 9)

@pytest.mark.parametrize("where", ["--report", "--json"])
def test_an_output_path_ending_with_a_separator_is_refused(clean: Path, tmp_path: Path, unique_name: str,
                                                           where: str) -> None:
    import fiftyone as fo

    folder = f"{tmp_path / 'reports'}/"  # a folder that doesn't exist: never written as a file of that name
    with untouched(clean, tmp_path / "clean"):
        out = run_cli("audit", clean, "--name", unique_name, *FAST, where, folder)
    assert out.code == 2 and "ends with a path separator" in out.stderr and "name a file" in out.stderr, out.text
    assert not (tmp_path / "reports").exists() and not fo.dataset_exists(unique_name)


def test_a_cache_dir_inside_the_dataset_is_refused_before_any_work(clean: Path, unique_name: str) -> None:
    import fiftyone as fo

    with untouched(clean):
        out = run_cli("audit", clean, "--name", unique_name, *FAST, "--cache-dir", clean / "wbcache")
    assert out.code == 2 and "is inside the dataset folder" in out.stderr, out.text[-2000:]
    assert not fo.dataset_exists(unique_name)


def test_control_characters_in_a_path_are_shown_escaped(tmp_path: Path) -> None:
    hostile = tmp_path / "no\x1b[2J\x1b]0;pwned\x07such"
    out = run_cli("audit", hostile, *FAST)
    assert out.code == 2 and "\\x1b[2J\\x1b]0;pwned\\x07such does not exist" in out.stderr, out.stderr
    assert "\x1b" not in out.text and "\x07" not in out.text
    assert "FiftyOne dataset" in out.stderr  # a dataset name is a valid SRC too


def test_list_prints_the_datasets_only_on_stdout(tmp_path: Path) -> None:
    """A fresh process: FiftyOne's database notices (MongoDB version) go to stderr, never into the list."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "list"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MongoDB" not in proc.stdout and "WARNING" not in proc.stdout, proc.stdout[-2000:]


def test_report_and_json_keep_normal_permissions(clean: Path, tmp_path: Path, unique_name: str) -> None:
    import os
    import stat

    out_json, report = tmp_path / "out" / "a.json", tmp_path / "out" / "r.html"
    old = os.umask(0o022)
    try:
        with untouched(clean):
            assert run_cli("audit", clean, "--name", unique_name, *FAST, "--json", out_json, "--report",
                           report).code == 0
        assert [stat.S_IMODE(p.stat().st_mode) for p in (out_json, report)] == [0o644, 0o644]
        out_json.chmod(0o640)  # a file the user restricted keeps its mode when rewritten
        assert run_cli("audit", clean, "--name", unique_name, *FAST, "--json", out_json).code == 0
        assert stat.S_IMODE(out_json.stat().st_mode) == 0o640
    finally:
        os.umask(old)
