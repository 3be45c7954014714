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
    model = doc["embedding_model"]  # what ran the network, shown in the JSON, the report and the summary
    assert model["runtime"] in ("onnxruntime", "openvino") and model["runtime_drift"] is not None
    assert "precision_note" in model
    html = report.read_text(encoding="utf-8")
    assert f"{model['runtime']} {model['precision']}" in html and "drift from PyTorch fp32" in html
    assert doc["class_counts"]["train"] == {"cat": 8, "dog": 8}
    if leak:
        (pair,) = doc["leaks"]
        assert pair["path_a"] == str(root / "train" / "cat" / "train-cat-0.png")
        assert pair["path_b"] == str(root / "test" / "dog" / "leaked.png")
        assert (pair["split_a"], pair["label_a"], pair["split_b"], pair["label_b"]) == ("train", "cat", "test", "dog")
        assert pair["label_conflict"] is True and "failing (--fail-on): leaks>0" in proc.stderr
        assert "gate leaks>0: 2 leaked samples" in proc.stderr
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
    assert proc.returncode == 2 and "unknown 'everything'" in proc.stderr


def test_app_on_unknown_dataset():
    proc = _run("app", "no-such-dataset-xyz")
    assert proc.returncode == 2 and "no FiftyOne dataset named" in proc.stderr


def test_embed_on_local_workers_then_audit_finds_everything_cached(tmp_path, unique_name):
    root = _tree(tmp_path / "ds", leak=True)  # 25 files, 24 distinct contents
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    before = tree_digest(root)
    cache = tmp_path / "cache"
    proc = _run("embed", str(root), "--local-workers", "2", "--embedder", "efficientnet-lite0", "--cache-dir",
                str(cache), "--partition-size", "8", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "26 files on a local cluster of 2 worker processes" in proc.stdout
    assert "files          26 (25 computed, 0 cached, 1 failed)" in proc.stdout
    assert "(4 shards written)" in proc.stdout and f"failed: {root / 'train' / 'cat' / 'broken.png'}: " in proc.stdout
    assert len(list(cache.rglob("shard-*.npz"))) == 4  # 24 contents in 3 partitions of 8, evened to 4 of 6

    audit = _run("audit", str(root), "--name", unique_name, "--embedder", "efficientnet-lite0", "--cache-dir",
                 str(cache), "--no-write-back", "--quiet")
    assert audit.returncode == 0, audit.stderr[-3000:]
    assert "(0 computed, 25 cached)" in audit.stdout  # the audit embeds nothing: the job's shards serve it all
    assert len(list(cache.rglob("shard-*.npz"))) == 1  # ...and merges the job's 4 small shards into one
    assert tree_digest(root) == before


@pytest.mark.parametrize("args, needle", [
    (["--scheduler", "tcp://127.0.0.1:8786", "--local-workers", "2"], "not allowed with argument"),
    (["--partition-size", "0"], "must be at least 1"),
    (["--embedder", "resnet"], "invalid choice"),
])
def test_embed_usage_errors_exit_2(tmp_path, args, needle):
    write_image(tmp_path / "a.png", 0)
    proc = _run("embed", str(tmp_path / "a.png"), *args)
    assert proc.returncode == 2 and needle in proc.stderr


def test_embed_missing_path_or_no_images_exit_2(tmp_path):
    proc = _run("embed", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    (tmp_path / "notes.txt").write_text("no images here")
    proc = _run("embed", str(tmp_path))
    assert proc.returncode == 2 and "no image files" in proc.stderr


def test_fiftyone_s_info_lines_stay_off_stderr_unless_verbose():
    """FiftyOne sets its loggers' level from its own config when imported, after the CLI set up logging:
    without ``-v`` its INFO lines (such as "Converting existing index ..." on a re-load) must not print."""
    import os

    code = ("import logging, sys; from workbench.cli import _configure_logging; _configure_logging(sys.argv[1] == 'v');"
            "import fiftyone; print(logging.getLogger('fiftyone.core.collections').getEffectiveLevel())")
    env = {k: v for k, v in os.environ.items() if k != "FIFTYONE_LOGGING_LEVEL"}
    quiet, verbose = (subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, env=env,
                                     check=True).stdout.split()[-1] for flag in ("q", "v"))
    assert int(quiet) >= 30 and int(verbose) <= 20


def test_the_console_command_exits_with_mains_code_and_its_whole_output(tmp_path):
    """``workbench`` is ``workbench.cli:run`` (exit handlers, then ``os._exit``): the code and every line still
    reach the caller through pipes."""
    from importlib.metadata import entry_points
    from pathlib import Path

    assert entry_points(group="console_scripts")["workbench"].value == "workbench.cli:run"
    command = Path(sys.executable).parent / "workbench"
    missing = subprocess.run([str(command), "audit", str(tmp_path / "nope")], capture_output=True, text=True,
                             timeout=600)
    assert missing.returncode == 2 and "workbench: error:" in missing.stderr and "nope" in missing.stderr
    listed = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=600)
    assert listed.returncode == 0 and listed.stdout.startswith("workbench ")
