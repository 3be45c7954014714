"""History's pure parts: the fingerprint, findings rows and keys, snapshots, the diff, new-finding gates,
stable folds and the run store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from workbench.history.diff import diff_audits
from workbench.history.findings_table import FindingRecord, finding_key
from workbench.history.fingerprint import dataset_fingerprint, dataset_root, relative_path
from workbench.history.snapshot import AuditSnapshot, snapshot_from_dict
from workbench.history.store import HistoryError, find_run, list_runs, read_audit, record_run


def _row(check: str, *files: str, kind: str = "exact", gate: str = "leaks") -> FindingRecord:
    return FindingRecord(check, gate, kind, finding_key(check, kind, files, ()), files, (), None, 0.1, "")


def _snap(rows, checks=None, n=100, created="2026-12-03T10:00:00+00:00", content="ab" * 32) -> AuditSnapshot:
    checks = checks if checks is not None else {"leakage": "ran", "label_issues": "ran"}
    fp = {"content": content, "files": "f", "labels": "l", "splits": "s"}
    return AuditSnapshot("ds", "/d", created, n, fp, checks, tuple(rows))


def test_fingerprint_parts_follow_what_changed():
    base = dict(filepaths=["/d/a.png", "/d/b.png"], hashes=["h1", "h2"], label_lists=[["cat"], ["dog"]],
                splits=["train", "test"])
    a = dataset_fingerprint(**base, root="/d")
    relabel = dataset_fingerprint(**{**base, "label_lists": [["cat"], ["cat"]]}, root="/d")
    resplit = dataset_fingerprint(**{**base, "splits": ["train", "train"]}, root="/d")
    edited = dataset_fingerprint(**{**base, "hashes": ["h1", "h3"]}, root="/d")
    moved = dataset_fingerprint(**{**base, "filepaths": ["/elsewhere/a.png", "/elsewhere/b.png"]}, root="/elsewhere")
    assert moved == a  # the same data in another folder
    assert [k for k in ("files", "labels", "splits") if relabel[k] != a[k]] == ["labels"]
    assert [k for k in ("files", "labels", "splits") if resplit[k] != a[k]] == ["splits"]
    assert [k for k in ("files", "labels", "splits") if edited[k] != a[k]] == ["files"]
    assert len({a["content"], relabel["content"], resplit["content"], edited["content"]}) == 4
    boxes = dataset_fingerprint(**base, root="/d", boxes=[[(0.1, 0.1, 0.2, 0.2)], [(0.5, 0.5, 0.1, 0.1)]])
    moved_box = dataset_fingerprint(**base, root="/d", boxes=[[(0.1, 0.1, 0.2, 0.2)], [(0.6, 0.5, 0.1, 0.1)]])
    assert boxes["labels"] != moved_box["labels"] and boxes["files"] == moved_box["files"]


def test_paths_are_relative_to_the_source_folder_or_the_files_common_folder():
    assert dataset_root("/data/coco/annotations.json", []) == "/data/coco"
    assert dataset_root("/data/folder", []) == "/data/folder"
    assert dataset_root("", ["/x/a/1.png", "/x/b/2.png"]) == "/x"
    assert relative_path("/x/a/1.png", "/x") == "a/1.png" and relative_path("/y/1.png", "/x") == "/y/1.png"


def test_diff_states_new_fixed_unchanged_and_what_was_not_compared():
    a = _snap([_row("leakage", "a.png", "b.png"), _row("leakage", "c.png", "d.png"),
               _row("label_issues", "e.png", kind="label", gate="label-issues")])
    b = _snap([_row("leakage", "c.png", "d.png"), _row("leakage", "x.png", "y.png")],
              checks={"leakage": "ran", "label_issues": "skipped", "outliers": "ran"})
    b = AuditSnapshot(**{**b.__dict__, "rows": b.rows + (_row("outliers", "o.png", kind="outlier", gate="outliers"),)})
    d = diff_audits(a, b)
    leak = d.check("leakage")
    assert [r.files for r in leak.new] == [("x.png", "y.png")] and [r.files for r in leak.fixed] == [("a.png", "b.png")]
    assert len(leak.unchanged) == 1
    labels = d.check("label_issues")  # skipped in B: its finding is neither fixed nor unchanged
    assert labels.compared == "not in B" and not labels.fixed and "not compared" in labels.reason
    outl = d.check("outliers")  # absent in A: every finding is new
    assert outl.compared == "only in B" and len(outl.new) == 1
    assert (d.n_new, d.n_fixed, d.n_unchanged) == (2, 1, 1)
    text = d.summary()
    assert "+1 new  -1 fixed  =1 unchanged" in text and "x.png y.png" in text
    doc = json.loads(json.dumps(d.to_dict()))
    assert doc["totals"] == {"new": 2, "fixed": 1, "unchanged": 1} and doc["checks"]["leakage"]["n_new"] == 1


def test_data_changes_say_which_part_of_the_data_moved():
    a = _snap([])
    b = AuditSnapshot(**{**a.__dict__, "fingerprint": {**a.fingerprint, "labels": "other", "content": "cd" * 32}})
    assert diff_audits(a, a).data_changes == () and diff_audits(a, b).data_changes == ("labels",)
    assert diff_audits(AuditSnapshot(**{**a.__dict__, "fingerprint": {}}), a).data_changes == ("unknown",)


def test_new_finding_gates_count_new_rows_and_fail_when_their_check_did_not_run():
    from workbench.gates import evaluate_new_gates, parse_gates

    a = _snap([_row("leakage", "a.png", "b.png")])
    b = _snap([_row("leakage", "a.png", "b.png"), _row("leakage", "x.png", "y.png")],
              checks={"leakage": "ran", "label_issues": "skipped"})
    d = diff_audits(a, b)
    out = evaluate_new_gates(d, parse_gates("leaks,leaks>1,leaks>0.5%,label-issues", option="--fail-on-new"))
    assert [o.failed for o in out] == [True, False, True, True]
    assert "1 new findings (1.0% of 100)" in out[0].message and "was skipped" in out[3].message
    relaxed = evaluate_new_gates(d, parse_gates("label-issues"), allow_skipped=True)
    assert not relaxed[0].failed and "not evaluated" in relaxed[0].message


def test_gate_errors_name_the_option_given():
    from workbench.gates import GateError, parse_gates

    with pytest.raises(GateError, match="--fail-on-new: unknown 'leak'"):
        parse_gates("leak", option="--fail-on-new")


def test_snapshot_round_trips_and_rejects_damage(tmp_path: Path):
    s = _snap([_row("leakage", "a.png", "b.png")])
    back = snapshot_from_dict(json.loads(json.dumps(s.to_dict())), where="x")
    assert back == s
    steady = s.to_dict(steady=True)
    assert "created_at" not in steady and "run_id" not in steady
    damaged = s.to_dict()
    damaged["findings"][0].pop("key")
    with pytest.raises(ValueError, match="x: a findings row lacks key"):
        snapshot_from_dict(damaged, where="x")
    newer = {**s.to_dict(), "table_version": 99}
    with pytest.raises(ValueError, match="version 99"):
        snapshot_from_dict(newer, where="x")
    with pytest.raises(ValueError, match="without a findings table"):
        snapshot_from_dict({"schema_version": "2.0", "dataset": {"name": "d"}, "leaks": []}, where="old.json")
    with pytest.raises(ValueError, match="not a workbench audit"):
        snapshot_from_dict({"hello": 1}, where="x")


def test_store_keeps_runs_in_time_order_prunes_and_skips_damaged_records(tmp_path: Path, caplog):
    root = tmp_path / "history"
    first = record_run(_snap([]), root=root)
    second = record_run(_snap([]), root=root)  # the same second and data: a distinct id
    third = record_run(_snap([], created="2026-12-03T11:00:00+00:00"), root=root, keep=2)
    assert second.run_id == first.run_id + "-2"
    assert [r.run_id for r in list_runs("ds", root=root)] == [second.run_id, third.run_id]  # first pruned
    assert find_run(third.run_id, root=root) == third
    assert read_audit(third.run_id, root=root).run_id == third.run_id
    (next(root.iterdir()) / "20261203T120000Z-00000000.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert len(list_runs("ds", root=root)) == 2
    assert "can't be read" in caplog.text
    with pytest.raises(HistoryError, match="no audit"):
        find_run("20991231T000000Z-deadbeef", root=root)
    with pytest.raises(HistoryError, match="neither a file"):
        read_audit("no-such-thing", root=root)


def test_stable_folds_keep_each_image_in_its_fold_when_others_come_and_go():
    from workbench.checks.probe import out_of_fold_probabilities, stable_folds

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300, int), np.ones(300, int), np.full(8, 2)]  # two large classes, one small
    keys = [f"hash{i}" for i in range(len(y))]
    f = stable_folds(y, keys, 5)
    drop = np.sort(rng.choice(600, 30, replace=False))  # 30 images of the large classes removed
    keep = np.setdiff1d(np.arange(len(y)), drop)
    g = stable_folds(y[keep], [keys[i] for i in keep], 5)
    large = keep < 600
    assert (g[large] == f[keep][large]).all()
    for c in range(3):  # every fold holds every class, the small one dealt round
        assert set(f[y == c].tolist()) == set(range(5))
    assert np.bincount(f[y == 2], minlength=5).max() - np.bincount(f[y == 2], minlength=5).min() <= 1
    assert (stable_folds(y, keys, 5, seed=1) != f).any()  # the seed still reshuffles
    x = rng.normal(size=(len(y), 8)).astype(np.float32) + y[:, None]
    p1, folds, _ = out_of_fold_probabilities(x, y, fold_keys=keys)
    p2, _, _ = out_of_fold_probabilities(x, y)
    assert folds == 5 and p1.shape == p2.shape and not np.allclose(p1, p2)
    with pytest.raises(ValueError, match="fold_keys has 3 keys"):
        out_of_fold_probabilities(x, y, fold_keys=keys[:3])


def test_stable_folds_of_small_classes_ignore_other_classes_and_keep_copies_together():
    from workbench.checks.probe import stable_folds

    y = np.repeat([0, 1, 2, 3], 45)  # 45 images a class: each image's fold is its key's alone
    keys = [f"hash{i}" for i in range(len(y))]
    f = stable_folds(y, keys, 5)
    moved = y.copy()
    moved[0] = 3  # one image relabelled, one removed: no other image changes fold
    g = stable_folds(moved[1:], keys[1:], 5)
    assert (g == f[1:]).all()
    small = np.repeat([0, 1, 2], 6)  # 6 images a class: dealt round the folds
    f = stable_folds(small, keys[:18], 5)
    for c in range(3):
        assert set(f[small == c].tolist()) == set(range(5))
    relabelled = small.copy()
    relabelled[0] = 2  # from the first class to the last: the class in between keeps its folds
    assert (stable_folds(relabelled, keys[:18], 5)[small == 1] == f[small == 1]).all()
    h = stable_folds(small, keys[:17] + ["hash3"], 5)  # row 17 (class 2) is a copy of row 3 (class 0)
    assert h[3] == h[17]
    h = stable_folds(small, keys[:5] + ["hash2"] + keys[6:], 5)  # row 5 is a copy of row 2, in its class
    assert h[2] == h[5]


def test_a_duplicate_cluster_that_gains_or_loses_a_copy_stays_one_finding():
    def cluster(*files):
        return FindingRecord("duplicates", "duplicates", "exact", finding_key("duplicates", "exact", files, ()),
                             files, (), None, 0.0, "", True)

    checks = {"duplicates": "ran"}
    a = _snap([cluster("b.png", "c.png"), cluster("x.png", "y.png")], checks=checks)
    b = _snap([cluster("a.png", "b.png", "c.png"), cluster("p.png", "q.png")], checks=checks)
    d = diff_audits(a, b).check("duplicates")
    assert [r.files for r in d.unchanged] == [("a.png", "b.png", "c.png")]  # a copy sorting first joined it
    assert [r.files for r in d.new] == [("p.png", "q.png")] and [r.files for r in d.fixed] == [("x.png", "y.png")]
    pairs = FindingRecord("leakage", "leaks", "exact", "k1", ("a.png", "b.png"), (), None, 0.0, "")
    other = FindingRecord("leakage", "leaks", "exact", "k2", ("a.png", "c.png"), (), None, 0.0, "")
    d = diff_audits(_snap([pairs]), _snap([other])).check("leakage")  # pairs are not groups: a new leak
    assert len(d.new) == 1 and len(d.fixed) == 1
