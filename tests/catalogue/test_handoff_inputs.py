"""Bad-input catalogue for ``workbench handoff``: each case states its exit code and a phrase; no user file
changes, the label field is never written, and the API key is never printed.

The first cases are refused before any server is asked (or find none: a closed local port). The cases
about ``--into`` and the key need a hand-off to exist, so they run against the real Label Studio server
(``labelstudio`` fixture, marked slow).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.labelstudio_server import free_port
from tests.render.handoff_data import flagged_pets

KEY = "sekrit-key-0123456789"

CASES = [
    # (args after `handoff`, phrase in stderr); all exit 2. {ds}: the dataset, {closed}: a port nothing listens on
    (("nosuch-dataset", "--view", "wb-label-issues", "--url", "{closed}", "--api-key", KEY),
     "no FiftyOne dataset named 'nosuch-dataset'"),
    (("{ds}", "--view", "wb-nosuch", "--url", "{closed}", "--api-key", KEY), "has no saved view 'wb-nosuch'"),
    (("{ds}", "--view", "wb-leaks", "--url", "{closed}", "--api-key", KEY), "view wb-leaks of dataset"),
    (("{ds}", "--tag", "wb:nosuch", "--url", "{closed}", "--api-key", KEY), "holds no samples"),
    (("{ds}", "--view", "wb-label-issues", "--api-key", KEY), "no Label Studio address"),
    (("{ds}", "--view", "wb-label-issues", "--url", "{closed}"), "no Label Studio API key"),
    (("{ds}", "--view", "wb-label-issues", "--url", "localhost:8080", "--api-key", KEY), "not an http:// or https://"),
    (("{ds}", "--view", "wb-label-issues", "--url", "{closed}", "--api-key", KEY), "connection refused"),
    (("{ds}", "--view", "wb-label-issues", "--url", "{closed}", "--api-key", KEY, "--label-field", "note"),
     "--label-field note: not a Classification or Detections field"),
    (("{ds}", "--view", "wb-label-issues", "--url", "{closed}", "--api-key", KEY, "--anno-key", "my key"),
     "use letters, digits and _"),
    (("{ds}", "--load", "wb_handoff_9", "--url", "{closed}", "--api-key", KEY), "has no annotation run 'wb_handoff_9'"),
    (("{ds}", "--view", "wb-label-issues", "--into", "fixed", "--url", "{closed}", "--api-key", KEY),
     "--into goes with --load"),
    (("{ds}", "--load", "wb_handoff_1", "--label-field", "ground_truth", "--url", "{closed}", "--api-key", KEY),
     "--label-field goes with --view or --tag"),
    (("{ds}", "--url", "{closed}", "--api-key", KEY), "one of the arguments --view --tag --load is required"),
    (("{ds}", "--view", "wb-leaks", "--load", "wb_handoff_1"), "not allowed with argument"),
    (("{ds}", "--view", "wb-label-issues", "--backend", "cvat"), "invalid choice"),
]


@pytest.fixture
def pets(tmp_path: Path, unique_name: str, monkeypatch):
    for name in ("FIFTYONE_LABELSTUDIO_URL", "FIFTYONE_LABELSTUDIO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    dataset, root = flagged_pets(tmp_path / "pets", unique_name)
    return dataset, root


def _run(dataset, root: Path, *args: str):
    before = dataset.values("ground_truth.label")
    with untouched(root):
        out = run_cli("handoff", *args)
    dataset.reload()
    assert dataset.values("ground_truth.label") == before
    assert KEY not in out.text and "Traceback" not in out.text, out.text[-2000:]
    return out


@pytest.mark.parametrize("args, phrase", CASES, ids=[" ".join(c[0][1:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_handoff_inputs_are_input_errors(pets, args, phrase):
    dataset, root = pets
    closed = f"http://127.0.0.1:{free_port()}"
    out = _run(dataset, root, *(a.format(ds=dataset.name, closed=closed) for a in args))
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert dataset.list_annotation_runs() == []


def test_address_and_key_from_the_environment(pets, monkeypatch):
    """$FIFTYONE_LABELSTUDIO_URL / _API_KEY stand in for --url / --api-key (here: a closed port, so refused)."""
    dataset, root = pets
    monkeypatch.setenv("FIFTYONE_LABELSTUDIO_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("FIFTYONE_LABELSTUDIO_API_KEY", KEY)
    out = _run(dataset, root, dataset.name, "--view", "wb-label-issues")
    assert out.code == 2 and "can't reach a Label Studio server" in out.stderr, out.text[-2000:]


def test_missing_image_is_refused_before_the_server(pets):
    dataset, root = pets
    (root / "dog" / "pet-3.png").unlink()  # flagged
    out = _run(dataset, root, dataset.name, "--view", "wb-label-issues", "--url", f"http://127.0.0.1:{free_port()}",
               "--api-key", KEY)
    assert out.code == 2 and "1 of the 3 images of view wb-label-issues are missing on disk" in out.stderr, out.text
    assert dataset.list_annotation_runs() == []


SERVER_CASES = [
    # (args after `handoff DATASET`, phrase); all exit 2, after a hand-off wb_handoff_1 of ground_truth
    (("--load", "wb_handoff_1", "--into", "ground_truth"), "is the label field that was handed off"),
    (("--load", "wb_handoff_1", "--into", "note"), "already exists and was not written by a hand-off"),
    (("--load", "wb_handoff_1", "--into", "wb_label_score"), "every audit rewrites that field"),
    (("--load", "wb_handoff_1", "--into", "2nd_try"), "is not a usable field name"),
    (("--load", "wb_handoff_1", "--into", "filepath"), "already exists and was not written by a hand-off"),
    (("--view", "wb-label-issues", "--anno-key", "wb_handoff_1"), "already has an annotation run 'wb_handoff_1'"),
    (("--load", "wb_handoff_1", "--api-key", KEY), "refused the API key (HTTP 401)"),
    (("--load", "wb_handoff_1", "--api-key", "eyJ" + KEY), "personal access token"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args, phrase", SERVER_CASES, ids=[" ".join(c[0][2:4]) for c in SERVER_CASES])
def test_bad_handoff_destinations_and_keys(pets, labelstudio, monkeypatch, args, phrase):
    dataset, root = pets
    monkeypatch.setenv("FIFTYONE_LABELSTUDIO_API_KEY", labelstudio.token)
    first = run_cli("handoff", dataset.name, "--view", "wb-label-issues", "--url", labelstudio.url)
    assert first.code == 0 and "wb_handoff_1" in first.stdout, first.text[-2000:]
    fields = set(dataset.get_field_schema())
    out = _run(dataset, root, dataset.name, *args, "--url", labelstudio.url)
    assert out.code == 2 and phrase in out.stderr, out.text[-2000:]
    assert labelstudio.token not in out.text
    assert set(dataset.get_field_schema()) == fields and dataset.values("note") == ["kept"] * len(dataset)
    assert dataset.list_annotation_runs() == ["wb_handoff_1"]
