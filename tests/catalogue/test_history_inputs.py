"""Bad-input catalogue for audit history: ``audit --out/--fail-on-new/--baseline/--history-dir``,
``workbench diff`` and ``workbench history``. Each case states its exit code and a phrase; no user
file changes. Every ``audit`` case is refused before the dataset is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched

AUDIT_CASES = [
    # (args, phrase); all exit 2. {tmp}: a scratch folder, {root}: the dataset
    (("--out", "{tmp}/afile"), "is a file"),
    (("--out", "{root}/audit"), "inside the dataset folder"),
    (("--out", "{tmp}/busy"), "holds other files"),
    (("--out", "{tmp}/o", "--json", "{tmp}/o/audit.json"), "is inside --out"),
    (("--out", "{tmp}/o", "--report", "{tmp}/o/sub/r.html"), "is inside --out"),
    (("--out", "{tmp}/o", "--json", "{tmp}/o"), "both name"),
    (("--fail-on-new", "leak"), "--fail-on-new: unknown 'leak'"),
    (("--fail-on-new", "leaks>150%"), "can't exceed 100"),
    (("--fail-on-new", "leaks=>3"), "--fail-on-new: can't read"),
    (("--fail-on-new", "leaks", "--baseline", "{tmp}/missing.json"), "neither a file"),
    (("--fail-on-new", "leaks", "--baseline", "{tmp}/broken.json"), "can't be read"),
    (("--fail-on-new", "leaks", "--baseline", "{tmp}/other.json"), "is not a workbench audit"),
    (("--fail-on-new", "leaks", "--baseline", "{tmp}/emptydir"), "without findings.json"),
    (("--fail-on-new", "leaks", "--baseline", "20991231T000000Z-deadbeef"), "no audit"),
    (("--baseline", "{tmp}/other.json"), "--baseline is read by --fail-on-new"),
    (("--history-dir", "{tmp}/afile"), "is a file"),
    (("--history-dir", "{root}/hist"), "inside the dataset folder"),
]


def _scratch(tmp: Path) -> None:
    (tmp / "afile").write_text("x")
    (tmp / "busy").mkdir()
    (tmp / "busy" / "notes.txt").write_text("mine")
    (tmp / "broken.json").write_text("{not json")
    (tmp / "other.json").write_text(json.dumps({"hello": "world"}))
    (tmp / "emptydir").mkdir()


@pytest.mark.parametrize("args, phrase", AUDIT_CASES, ids=[" ".join(c[0]) for c in AUDIT_CASES])
def test_bad_history_options_of_audit_are_input_errors(leaky: Path, tmp_path: Path, unique_name: str, args, phrase):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    _scratch(scratch)
    args = tuple(a.format(tmp=scratch, root=leaky) for a in args)
    with untouched(leaky, scratch):
        out = run_cli("audit", leaky, "--name", unique_name, "--embedder", "none", "--quiet", *args)
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text and "embeddings" not in out.stdout


def _snapshot_doc(**changes) -> dict:
    doc = {"format": "workbench-history/1", "table_version": 1, "run_id": "", "dataset": "d", "source": "",
           "created_at": "", "n_samples": 3, "fingerprint": {}, "checks": {"leakage": "ran"}, "counts": {},
           "versions": {}, "findings": []}
    doc.update(changes)
    return doc


DIFF_CASES = [
    # (args, files to write {name: text}, phrase); all exit 2
    (("{tmp}/a.json",), {"a.json": json.dumps(_snapshot_doc())}, "give two audits"),
    ((), {}, "give two audits"),
    (("{tmp}/a.json", "{tmp}/a.json", "--dataset", "x"), {"a.json": json.dumps(_snapshot_doc())}, "either A and B"),
    (("--dataset", "never-audited"), {}, "0 stored audits"),
    (("{tmp}/a.json", "{tmp}/nope.json"), {"a.json": json.dumps(_snapshot_doc())}, "neither a file"),
    (("{tmp}/a.json", "20991231T000000Z-deadbeef"), {"a.json": json.dumps(_snapshot_doc())}, "no audit"),
    (("{tmp}/a.json", "{tmp}/old.json"), {"a.json": json.dumps(_snapshot_doc()),
                                          "old.json": json.dumps({"schema_version": "2.0", "dataset": {"name": "d"}})},
     "without a findings table"),
    (("{tmp}/a.json", "{tmp}/v9.json"), {"a.json": json.dumps(_snapshot_doc()),
                                         "v9.json": json.dumps(_snapshot_doc(table_version=9))}, "version 9"),
    (("{tmp}/a.json", "{tmp}/rows.json"), {"a.json": json.dumps(_snapshot_doc()),
                                           "rows.json": json.dumps(_snapshot_doc(findings=[{"check": "leakage"}]))},
     "lacks"),
    (("{tmp}/a.json", "{tmp}/bad.json"), {"a.json": json.dumps(_snapshot_doc()),
                                          "bad.json": json.dumps(_snapshot_doc(n_samples="many"))}, "bad.json"),
    (("{tmp}/a.json", "{tmp}/list.json"), {"a.json": json.dumps(_snapshot_doc()), "list.json": "[1, 2]"},
     "not a workbench audit"),
    (("{tmp}/a.json", "{tmp}/a.json", "--json", "{tmp}"), {"a.json": json.dumps(_snapshot_doc())}, "is a folder"),
    (("{tmp}/a.json", "{tmp}/a.json", "--fail-on-new", "leakz"), {"a.json": json.dumps(_snapshot_doc())},
     "--fail-on-new: unknown"),
    (("{tmp}/a.json", "{tmp}/a.json", "--limit", "0"), {"a.json": json.dumps(_snapshot_doc())}, "at least 1"),
]


@pytest.mark.parametrize("args, files, phrase", DIFF_CASES, ids=[" ".join(c[0]) or "nothing" for c in DIFF_CASES])
def test_bad_diff_inputs_are_input_errors(tmp_path: Path, args, files, phrase):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = tuple(a.format(tmp=tmp_path) for a in args)
    with untouched(tmp_path):
        out = run_cli("diff", *args, "--history-dir", tmp_path / "hist")
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text


def test_history_lists_what_it_can_read_and_warns_of_the_rest(tmp_path: Path):
    from workbench.history.store import dataset_folder

    folder = dataset_folder(tmp_path / "hist", "d")
    folder.mkdir(parents=True)
    (folder / "20261203T100000Z-aaaaaaaa.json").write_text(json.dumps(_snapshot_doc(run_id="20261203T100000Z-aaaaaaaa")))
    (folder / "20261203T110000Z-bbbbbbbb.json").write_text("{broken")
    with untouched(tmp_path):
        out = run_cli("history", "d", "--history-dir", tmp_path / "hist")
        none = run_cli("history", "never", "--history-dir", tmp_path / "hist")
    assert out.code == 0 and out.stdout.count("\n") == 1 and "20261203T100000Z-aaaaaaaa" in out.stdout
    assert "can't be read" in out.stderr and "left out" in out.stderr
    assert none.code == 0 and "no audits of never" in none.stdout
