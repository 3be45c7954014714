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
        again = run_cli("-v", "handoff", dataset.name, "--load", "wb_handoff_1", "--url", labelstudio.url)
        assert again.code == 0 and "3 differ" in again.stdout, again.text[-3000:]
        dataset.reload()
        assert dict(zip(names, dataset.values("wb_corrected_ground_truth.label")))["pet-1.png"] == "dog"
        assert dict(zip(names, dataset.values("ground_truth.label"))) == original
        assert dataset.info["workbench"]["handoff_fields"] == ["wb_corrected_ground_truth"]
    assert labelstudio.token not in sent.text + loaded.text + again.text  # debug logging (-v) included


@pytest.mark.slow
def test_detections_round_trip(labelstudio, tmp_path: Path, unique_name: str, monkeypatch):
    """Boxes go as rectangles (in percent) and come back as Detections: one box relabelled and moved, the other
    image's box left as it was; the original boxes unchanged."""
    import fiftyone as fo

    from tests.conftest import write_image

    dataset = fo.Dataset(unique_name, persistent=True)
    boxes = {"a.png": ("cat", [0.1, 0.2, 0.3, 0.4]), "b.png": ("dog", [0.5, 0.5, 0.25, 0.25])}
    dataset.add_samples([fo.Sample(filepath=str(write_image(tmp_path / "imgs" / name, seed=k, size=40)),
                                   ground_truth=fo.Detections(detections=[fo.Detection(label=lab, bounding_box=box)]))
                         for k, (name, (lab, box)) in enumerate(boxes.items())])
    dataset.tag_samples("recheck")
    monkeypatch.setenv("FIFTYONE_LABELSTUDIO_API_KEY", labelstudio.token)
    with untouched(tmp_path / "imgs"):
        sent = run_cli("handoff", dataset.name, "--tag", "recheck", "--url", labelstudio.url, "--anno-key", "boxes")
        assert sent.code == 0 and "2 samples of tag recheck" in sent.stdout, sent.text[-3000:]
        dataset.reload()
        project = dataset.info["workbench"]["handoffs"]["boxes"]["project_id"]
        tasks = labelstudio.api("GET", "/api/tasks", params={"project": project, "page_size": 100})["tasks"]
        task = next(labelstudio.api("GET", f"/api/tasks/{t['id']}") for t in tasks if t["data"]["image"].endswith("a.png"))
        prediction = task["predictions"][-1]
        (region,) = prediction["result"]
        assert region["type"] == "rectanglelabels" and region["value"]["x"] == pytest.approx(10)
        moved = {**region, "value": {**region["value"], "x": 20.0, "rectanglelabels": ["dog"]}}
        labelstudio.api("POST", f"/api/tasks/{task['id']}/annotations",
                        json={"result": [moved], "parent_prediction": prediction["id"]})
        loaded = run_cli("handoff", dataset.name, "--load", "boxes", "--url", labelstudio.url)
        assert loaded.code == 0 and "2 of 2 samples" in loaded.stdout and "1 differ" in loaded.stdout, loaded.text
    dataset.reload()
    got = {Path(s.filepath).name: s for s in dataset}
    (fixed,) = got["a.png"].wb_corrected_ground_truth.detections
    assert fixed.label == "dog" and fixed.bounding_box == pytest.approx([0.2, 0.2, 0.3, 0.4])
    (kept,) = got["b.png"].wb_corrected_ground_truth.detections
    assert kept.label == "dog" and kept.bounding_box == pytest.approx(boxes["b.png"][1])
    for name, (label, box) in boxes.items():
        (original,) = got[name].ground_truth.detections
        assert original.label == label and original.bounding_box == pytest.approx(box)


def test_destination_rules(tmp_path: Path, unique_name: str):
    """Without a server: the field rules of ``--into`` and the classes offered to the annotator."""
    import fiftyone as fo

    from workbench.errors import HandoffError
    from workbench.render.annotation_handoff import check_destination, label_classes

    dataset, _ = flagged_pets(tmp_path / "pets", unique_name)
    for into, phrase in (("ground_truth", "is the label field"), ("note", "was not written by a hand-off"),
                         ("id", "was not written by a hand-off"), ("wb_is_label_issue", "every audit rewrites"),
                         ("wb corrected", "not a usable field name"), ("_private", "not a usable field name")):
        with pytest.raises(HandoffError, match=phrase):
            check_destination(dataset, into, label_field="ground_truth")
    check_destination(dataset, "wb_corrected_ground_truth", label_field="ground_truth")  # new: fine
    dataset.add_sample_field("wb_corrected_ground_truth", fo.StringField)
    with pytest.raises(HandoffError, match="was not written by a hand-off"):  # exists, and no hand-off wrote it
        check_destination(dataset, "wb_corrected_ground_truth", label_field="ground_truth")
    dataset.info["workbench"] = {**dataset.info.get("workbench", {}), "handoff_fields": ["wb_corrected_ground_truth"]}
    with pytest.raises(HandoffError, match="holds StringField labels"):  # a hand-off's, but not Classification
        check_destination(dataset, "wb_corrected_ground_truth", label_field="ground_truth")
    dataset.delete_sample_field("wb_corrected_ground_truth")
    check_destination(dataset, "wb_corrected_ground_truth", label_field="ground_truth")
    # every class of the dataset (not only of the flagged samples), the declared ones first
    assert label_classes(dataset, "ground_truth") == ("cat", "dog")
    dataset.classes = {"ground_truth": ["dog", "bird"]}
    assert label_classes(dataset, "ground_truth") == ("dog", "bird", "cat")
