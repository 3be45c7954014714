"""History end to end: audits stored per dataset, ``workbench diff``, ``--fail-on-new`` and ``--out``
folders, on real FiftyOne datasets audited without a model (``--embedder none``: fast, and exact
duplicates and leaks still found from content hashes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import split_class_folders, write_image

FAST = ("--embedder", "none", "--quiet", "--no-write-back", "--skip-check", "spurious_correlations")


def _audit(root: Path, name: str, *extra: str):
    return run_cli("audit", root, "--name", name, *FAST, *extra)


def test_out_folder_is_byte_identical_across_runs_and_its_manifest_holds(tmp_path: Path, unique_name: str):
    import fastparquet

    data = split_class_folders(tmp_path / "data", leak_to="test/dog/copy.png")
    with untouched(data):
        one = _audit(data, unique_name, "--out", tmp_path / "one")
        two = _audit(data, unique_name, "--out", tmp_path / "two", "--overwrite")
    assert one.code == 0 and two.code == 0, one.text[-2000:] + two.text[-2000:]
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["audit.json", "findings.json", "findings.parquet", "manifest.json", "report.html"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    import hashlib

    for name, meta in manifest["files"].items():
        assert hashlib.sha256((tmp_path / "one" / name).read_bytes()).hexdigest() == meta["sha256"]
    findings = json.loads((tmp_path / "one" / "findings.json").read_text())
    rows = findings["findings"]
    assert manifest["n_findings"] == len(rows) and manifest["fingerprint"] == findings["fingerprint"]
    leak = [r for r in rows if r["check"] == "leakage"]
    assert [r["files"] for r in leak] == [["test/dog/copy.png", "train/cat/train-cat-0.png"]]
    frame = fastparquet.ParquetFile(str(tmp_path / "one" / "findings.parquet")).to_pandas()
    assert frame["key"].tolist() == [r["key"] for r in rows]
    assert [json.loads(f) for f in frame["files"]] == [r["files"] for r in rows]
    report = (tmp_path / "one" / "report.html").read_text()
    assert "Reproducible copy" in report and "Audited:" not in report


def test_fail_on_new_gates_regressions_only_and_diff_lists_them(tmp_path: Path, unique_name: str):
    data = split_class_folders(tmp_path / "data", leak_to="test/dog/copy.png")
    hist = tmp_path / "hist"
    first = _audit(data, unique_name, "--history-dir", hist, "--fail-on-new", "leaks")
    assert first.code == 1 and "no earlier audit" in first.stderr  # nothing before: the leak is new
    retry = _audit(data, unique_name, "--history-dir", hist, "--fail-on-new", "leaks")
    assert retry.code == 1, retry.text[-2000:]  # the failed run is no baseline: running the job again still fails
    accepted = _audit(data, unique_name, "--history-dir", hist)  # no gates: the known debt, accepted
    assert accepted.code == 0
    again = _audit(data, unique_name, "--history-dir", hist, "--fail-on-new", "leaks", "--fail-on", "duplicates>5")
    assert again.code == 0, again.text[-2000:]  # the known leak is not new
    assert "leaks>0 (new): 0 new findings" in again.stderr and "1 unchanged" not in again.stderr
    listed = run_cli("history", unique_name, "--history-dir", hist).stdout.strip().splitlines()
    assert [line.rsplit("\t", 1)[1] for line in listed] == ["gates failed", "gates failed", "gates none",
                                                             "gates passed"]
    # the leak fixed, a new one made
    (data / "test" / "dog" / "copy.png").unlink()
    # the leaked image's cluster loses its test copy and gains a train copy that sorts first: the same cluster
    shutil.copy(data / "train" / "cat" / "train-cat-0.png", data / "train" / "cat" / "aaa-copy.png")
    shutil.copy(data / "train" / "dog" / "train-dog-6.png", data / "test" / "cat" / "new-leak.png")
    worse = _audit(data, unique_name, "--history-dir", hist, "--fail-on-new", "leaks")
    assert worse.code == 1 and "leaks>0 (new): 1 new findings" in worse.stderr, worse.text[-2000:]
    assert "failing (--fail-on-new): leaks>0 (new)" in worse.stderr
    runs = run_cli("history", unique_name, "--history-dir", hist)
    assert runs.code == 0 and len(runs.stdout.strip().splitlines()) == 5
    diff = run_cli("diff", "--dataset", unique_name, "--history-dir", hist, "--json", tmp_path / "diff.json")
    assert diff.code == 0, diff.text[-2000:]
    assert "+ exact test/cat/new-leak.png train/dog/train-dog-6.png" in diff.stdout
    assert "- exact test/dog/copy.png train/cat/train-cat-0.png" in diff.stdout
    assert "changed: files" in diff.stdout
    assert "duplicates             +1 new  -0 fixed  =1 unchanged" in diff.stdout, diff.stdout
    doc = json.loads((tmp_path / "diff.json").read_text())
    assert doc["checks"]["leakage"]["n_new"] == 1 and doc["checks"]["leakage"]["n_fixed"] == 1
    ids = [line.split("\t")[0] for line in runs.stdout.strip().splitlines()]
    gated = run_cli("diff", ids[2], ids[3], "--history-dir", hist, "--fail-on-new", "leaks")
    assert gated.code == 0 and "+0 new" in gated.stdout  # the first two audits saw the same leak
    by_id = run_cli("diff", ids[3], ids[4], "--history-dir", hist, "--fail-on-new", "leaks")
    assert by_id.code == 1 and "leaks>0 (new): 1 new findings" in by_id.stderr


def test_diff_reads_json_exports_and_skipped_checks_are_not_called_fixed(tmp_path: Path, unique_name: str):
    data = split_class_folders(tmp_path / "data", leak_to="test/dog/copy.png")
    write_image(data / "train" / "cat" / "extra.png", seed=99)
    a = _audit(data, unique_name, "--json", tmp_path / "a.json", "--no-history")
    b = _audit(data, unique_name, "--json", tmp_path / "b.json", "--no-history", "--skip-check", "leakage")
    assert a.code == 0 and b.code == 0
    out = run_cli("diff", tmp_path / "a.json", tmp_path / "b.json", "--fail-on-new", "leaks")
    assert out.code == 1 and "not compared: skipped in the newer audit" in out.stdout
    assert "was skipped in this audit" in out.stderr
    assert run_cli("diff", tmp_path / "a.json", tmp_path / "b.json", "--fail-on-new", "leaks",
                   "--allow-skipped").code == 0
    same = run_cli("diff", tmp_path / "a.json", tmp_path / "a.json")
    assert same.code == 0 and "data: the same data" in same.stdout and "0 new, 0 fixed" in same.stdout


def test_a_baseline_without_run_id_is_named_and_names_with_spaces_are_quoted(tmp_path: Path, unique_name: str):
    import fiftyone as fo

    data = split_class_folders(tmp_path / "data", leak_to="test/dog/copy.png")
    name = f"{unique_name} v1"
    try:
        first = _audit(data, name, "--out", tmp_path / "one", "--history-dir", tmp_path / "hist")
        assert first.code == 0, first.text[-2000:]
        assert f"workbench history '{name}')" in first.stdout and f"workbench app '{name}'" in first.stdout
        again = _audit(data, name, "--no-history", "--baseline", tmp_path / "one", "--fail-on-new", "leaks")
        assert again.code == 0 and f"since {tmp_path / 'one'}: 0 new, 0 fixed" in again.stdout, again.text[-2000:]
    finally:
        if fo.dataset_exists(name):
            fo.delete_dataset(name)
