"""The `workbench` command as CI uses it: JSON, report, and --fail-on exit codes."""

import json
import subprocess
import sys

import pytest

from tests.conftest import tree_digest, write_image

pytestmark = pytest.mark.slow


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _tree(root, leak: bool):
    seed = 0
    for split, n in (("train", 8), ("test", 4)):
        for label in ("cat", "dog"):
            for _ in range(n):
                write_image(root / split / label / f"{split}-{label}-{seed}.png", seed, size=48)
                seed += 1
    if leak:
        (root / "test" / "dog" / "leaked.png").write_bytes((root / "train" / "cat" / "train-cat-0.png").read_bytes())
    return root


@pytest.mark.parametrize("leak", [True, False])
def test_audit_fail_on_leaks(tmp_path, leak, unique_name):
    root = _tree(tmp_path / "ds", leak)
    before = tree_digest(root)
    out_json, report = tmp_path / "audit.json", tmp_path / "report.html"
    proc = _run("audit", str(root), "--name", unique_name, "--embedder", "efficientnet-lite0", "--near-threshold", "0.005", "--json",
                str(out_json), "--report", str(report), "--fail-on", "leaks", "--quiet")
    assert proc.returncode == (1 if leak else 0), proc.stderr[-2000:]
    doc = json.loads(out_json.read_text())
    assert doc["embedding_model"]["id"].startswith("efficientnet-lite0")
    assert doc["class_counts"]["train"] == {"cat": 8, "dog": 8}
    if leak:
        (pair,) = doc["leaks"]
        assert pair["path_a"] == str(root / "train" / "cat" / "train-cat-0.png")
        assert pair["path_b"] == str(root / "test" / "dog" / "leaked.png")
        assert (pair["split_a"], pair["label_a"], pair["split_b"], pair["label_b"]) == ("train", "cat", "test", "dog")
        assert pair["label_conflict"] is True and "failing (--fail-on): leaks=1" in proc.stderr
    else:
        assert doc["leaks"] == []
    assert "efficientnet-lite0" in report.read_text()
    assert "workbench audit of" in proc.stdout and "report:" in proc.stdout
    assert tree_digest(root) == before


def test_predictions_csv_drives_label_issues(tmp_path, unique_name):
    root = _tree(tmp_path / "ds", leak=False)
    rows = ["filepath,cat,dog"]
    flipped = root / "train" / "cat" / "train-cat-0.png"
    for p in sorted(root.rglob("*.png")):
        truth = "dog" if p == flipped else p.parent.name  # the model is sure this "cat" is a dog
        rows.append(f"{p},{0.95 if truth == 'cat' else 0.05},{0.05 if truth == 'cat' else 0.95}")
    preds = tmp_path / "preds.csv"
    preds.write_text("\n".join(rows) + "\n")
    out_json = tmp_path / "a.json"
    proc = _run("audit", str(root), "--name", unique_name, "--embedder", "efficientnet-lite0", "--predictions",
                str(preds), "--json", str(out_json), "--fail-on", "label-issues", "--quiet")
    assert proc.returncode == 1, proc.stderr[-2000:]
    doc = json.loads(out_json.read_text())
    assert [i["path"] for i in doc["label_issues"]] == [str(flipped)]
    assert doc["label_issues"][0]["suggested_label"] == "dog"
    assert doc["label_issue_method"].startswith("user predictions")


def test_bad_source_exits_2_with_message(tmp_path):
    proc = _run("audit", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_unknown_fail_on(tmp_path):
    proc = _run("audit", str(tmp_path), "--fail-on", "everything")
    assert proc.returncode != 0 and "unknown ['everything']" in proc.stderr


def test_app_on_unknown_dataset():
    proc = _run("app", "no-such-dataset-xyz")
    assert proc.returncode == 2 and "no FiftyOne dataset named" in proc.stderr
