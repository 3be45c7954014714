"""Bad-input catalogue for ``workbench select``: each case states its exit code and a phrase; no user file changes.

Every case is refused before any image is embedded (options, output paths, an empty pool).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched

CASES = [
    # (args, phrase in stderr); all exit 2
    (("--budget", "0"), "must be at least 1"),
    (("--budget", "many"), "is not a whole number"),
    (("--w-uncertainty", "2"), "at most 1"),
    (("--w-diversity", "-0.1"), "must be at least 0"),
    (("--w-uncertainty", "0", "--w-diversity", "0"), "can't both be 0"),
    (("--w-uniqueness", "1.5"), "at most 1"),
    (("--w-uniqueness", "-1"), "must be at least 0"),
    (("--shortlist", "-1"), "must be at least 0"),
    (("--pool", "some"), "invalid choice"),
    (("--uncertainty", "variance"), "invalid choice"),
    (("--embedder", "none"), "invalid choice"),
    (("--csv", "batch.txt"), "name a .csv file"),
    (("--csv", "{root}/batch.csv"), "inside the dataset folder"),
    (("--csv", "{tmp}/"), "is a folder"),
    (("--split-field", "nosuch"), "--split-field nosuch: dataset"),
    ((), "every image of"),  # all labelled: the unlabelled pool is empty
]


@pytest.mark.parametrize("args, phrase", CASES, ids=[" ".join(c[0]) or "all-labelled" for c in CASES])
def test_bad_select_options_are_input_errors(leaky: Path, tmp_path: Path, unique_name: str, args, phrase):
    args = tuple(a.format(tmp=tmp_path, root=leaky) for a in args)
    with untouched(leaky):
        out = run_cli("select", leaky, "--name", unique_name, "--quiet", *args)
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text and "embeddings:" not in out.text
