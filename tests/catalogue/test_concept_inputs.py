"""Bad-input catalogue for concept slices: options and prompt files (exit 2 before any work, no user file
changed), and untrained CLIP weights (the check skipped with the reason; a gate on it fails)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched

CASES = [
    # (option, files {name: text}, phrase); all exit 2
    ("dominance=0", {}, "dominance must be in (0, 1]"),
    ("min_lift=1", {}, "min_lift must be in [0, 1)"),
    ("top_k=0", {}, "top_k must be at least 1"),
    ("top_k=50", {}, "top_k must be at most 20"),
    ("min_class_size=1", {}, "min_class_size must be at least 2"),
    ("prompts={tmp}/missing.yaml", {}, "can't read"),
    ("prompts={tmp}/p.json", {"p.json": "{not json"}, "is not valid JSON"),
    ("prompts={tmp}/p.yaml", {"p.yaml": "- just\n- a list\n"}, "must map each group"),
    ("prompts={tmp}/p.yaml", {"p.yaml": "terrain: snow\n"}, "must be a list of values or a map"),
    ("prompts={tmp}/p.json", {"p.json": json.dumps({"terrain": ["snow"]})}, "has 1 value; give two or more"),
    ("defaults=false", {}, "leaves no prompt groups"),
]


@pytest.mark.parametrize("option, files, phrase", CASES, ids=[c[0] + ("+file" if c[1] else "") for c in CASES])
def test_bad_concept_options_are_input_errors(leaky: Path, tmp_path: Path, unique_name: str, option, files, phrase):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for name, text in files.items():
        (scratch / name).write_text(text)
    with untouched(leaky, scratch):
        out = run_cli("audit", leaky, "--name", unique_name, "--embedder", "none", "--quiet",
                      "--check-option", "concept_slices." + option.format(tmp=scratch))
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert "Traceback" not in out.text


def test_untrained_clip_weights_skip_concepts_and_a_gate_on_them_fails(leaky: Path, unique_name: str):
    with untouched(leaky):
        out = run_cli("audit", leaky, "--name", unique_name, "--quiet", "--no-write-back", "--embedder", "clip",
                      "--clip-pretrained", "none", "--no-calibration", "--fail-on", "concepts")
    assert out.code == 1, out.text[-2000:]
    assert "concept_slices: the CLIP weights are untrained" in out.stdout
    assert "concepts>0: check concept_slices skipped" in out.stderr
