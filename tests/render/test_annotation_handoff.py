"""The hand-off round trip against a real Label Studio server (:mod:`workbench.render.annotation_handoff`).

A saved view of three flagged images goes to Label Studio through ``workbench handoff``; the test then
acts as the annotator through Label Studio's REST API, as the UI does (open a task, start from the
pre-annotation, change the class, submit); ``--load`` brings the labels back into a new field. The
original label field, the user's other fields and the files stay as they were.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.render.handoff_data import FLAGGED, flagged_pets

CORRECTIONS = {"pet-0.png": "dog", "pet-3.png": "cat"}  # pet-1.png: nobody annotates it


def _annotate(server, project_id: int, corrections: dict[str, str]) -> dict[str, dict]:
    """Submit ``{file name: class}`` as annotations, each started from the task's pre-annotation; return the
    tasks by file name (the uploaded image keeps its name after an 8-digit prefix)."""
    tasks = server.api("GET", "/api/tasks", params={"project": project_id, "page_size": 100})["tasks"]
    by_name = {t["data"]["image"].rsplit("/", 1)[-1].split("-", 1)[1]: server.api("GET", f"/api/tasks/{t['id']}")
               for t in tasks}
    for name, label in corrections.items():
        task = by_name[name]
        prediction = task["predictions"][-1]
        result = [{**r, "value": {**r["value"], "choices": [label]}} for r in prediction["result"]]
        server.api("POST", f"/api/tasks/{task['id']}/annotations",
                   json={"result": result, "parent_prediction": prediction["id"], "was_cancelled": False})
    return by_name


@pytest.mark.slow
def test_round_trip_through_label_studio(labelstudio, tmp_path: Path, unique_name: str, monkeypatch):
    dataset, root = flagged_pets(tmp_path / "pets", unique_name)
    monkeypatch.setenv("FIFTYONE_LABELSTUDIO_API_KEY", labelstudio.token)
    names = [Path(p).name for p in dataset.values("filepath")]
    original = dict(zip(names, dataset.values("ground_truth.label")))
    with untouched(root):
        sent = run_cli("handoff", dataset.name, "--view", "wb-label-issues", "--url", labelstudio.url)
        assert sent.code == 0, sent.text[-3000:]
        assert "3 samples of view wb-label-issues sent as annotation run wb_handoff_1" in sent.stdout
        assert f"workbench handoff {dataset.name} --load wb_handoff_1" in sent.stdout
        dataset.reload()
        record = dataset.info["workbench"]["handoffs"]["wb_handoff_1"]
        assert record["samples"] == 3 and record["label_field"] == "ground_truth"

        config = labelstudio.api("GET", f"/api/projects/{record['project_id']}")["label_config"]
        assert 'value="cat"' in config and 'value="dog"' in config  # every class, to correct to
        tasks = _annotate(labelstudio, record["project_id"], CORRECTIONS)
        assert sorted(tasks) == sorted(FLAGGED)  # exactly the view's samples went
        for name, task in tasks.items():  # each shows its current label to start from
            assert task["predictions"][-1]["result"][0]["value"]["choices"] == [original[name]]

        loaded = run_cli("handoff", dataset.name, "--load", "wb_handoff_1", "--url", labelstudio.url)
        assert loaded.code == 0, loaded.text[-3000:]
        assert "3 of 3 samples of run wb_handoff_1 came back into wb_corrected_ground_truth; 2 differ" in loaded.stdout
        dataset.reload()
        corrected = dict(zip(names, dataset.values("wb_corrected_ground_truth.label")))
        assert corrected == {n: CORRECTIONS.get(n, original[n]) if n in FLAGGED else None for n in names}
        assert dict(zip(names, dataset.values("ground_truth.label"))) == original
        assert dataset.values("note") == ["kept"] * len(dataset)

        # A second annotator changes their mind on pet-1; loading again replaces the run's labels, no duplicates.
        _annotate(labelstudio, record["project_id"], {"pet-1.png": "dog"})
        again = run_cli("handoff", dataset.name, "--load", "wb_handoff_1", "--url", labelstudio.url)
        assert again.code == 0 and "3 differ" in again.stdout, again.text[-3000:]
        dataset.reload()
        assert dict(zip(names, dataset.values("wb_corrected_ground_truth.label")))["pet-1.png"] == "dog"
        assert dict(zip(names, dataset.values("ground_truth.label"))) == original
        assert dataset.info["workbench"]["handoff_fields"] == ["wb_corrected_ground_truth"]
    assert labelstudio.token not in sent.text + loaded.text + again.text
