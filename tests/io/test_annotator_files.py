""":func:`workbench.io.annotator_files.add_annotator_file` on a real FiftyOne dataset: what it returns and
writes for a Label Studio export (one field per annotator, or one for a single annotator; classification),
and that a COCO export still gives one field. The audit over these fields is in
tests/catalogue/test_annotators.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.test_annotations import coco
from tests.catalogue.test_annotators import (
    LOCAL,
    UPLOADED,
    _ann,
    _export,
    _ls,
    _rect,
    _task,
)
from workbench.io.annotator_files import add_annotator_file


@pytest.fixture
def dataset(tmp_path: Path, unique_name: str):
    from workbench.io.loading import load

    return load(coco(tmp_path / "dataset"), name=unique_name)


def test_several_label_studio_annotators_give_one_field_each(dataset, tmp_path: Path):
    import fiftyone as fo

    export = _ls(tmp_path / "dataset" / "ls.json", [
        _task(UPLOADED, _ann(12, _rect(15)), _ann({"id": 3, "email": "a@example.org"}, _rect(12.5), _rect(50, 50))),
        _task(LOCAL, _ann(3, _rect(0), cancelled=True), _ann(7, _rect(1), cancelled=True),
              predictions=[{"result": [_rect(15)]}])])
    added = add_annotator_file(dataset, "ls", export)
    assert added.fields == ("ls_3", "ls_12") and added.format == "Label Studio JSON"
    three, twelve = added, added.others[0]
    assert (three.annotator, three.n_matched, three.n_objects, three.n_cancelled) == ("3", 1, 2, 1)
    assert (twelve.annotator, twelve.n_matched, twelve.n_objects, twelve.n_cancelled) == ("12", 1, 1, 0)
    assert "ls" not in dataset.get_field_schema() and "ls_7" not in dataset.get_field_schema()
    by_name = {Path(s.filepath).name: s for s in dataset}
    img1, img2 = by_name["img1.png"], by_name["img2.png"]
    assert img1["ls_12"].detections[0].bounding_box == pytest.approx([0.15, 0.125, 0.25, 0.25])
    boxes = [b for d in img1["ls_3"].detections for b in d.bounding_box]
    assert boxes == pytest.approx([0.125, 0.125, 0.25, 0.25, 0.5, 0.5, 0.25, 0.25])
    assert img2["ls_3"] is None and img2["ls_12"] is None  # cancelled, and a prediction: not annotated
    assert dataset.get_field("ls_3").document_type is fo.Detections
    assert set(dataset.info["workbench"]["annotator_files"]) == {"ls_3", "ls_12"}


def test_one_label_studio_annotator_keeps_the_name_and_can_become_a_classification(dataset, tmp_path: Path):
    import fiftyone as fo

    root = tmp_path / "dataset"
    added = add_annotator_file(dataset, "ls", _ls(root / "one.json", [_task(UPLOADED, _ann(5, _rect(15)))]))
    assert added.fields == ("ls",) and added.annotator == "5" and added.others == ()
    choices = [_task(UPLOADED, _ann(5, {"type": "choices", "from_name": "c", "value": {"choices": ["cat"]}})),
               _task(LOCAL, _ann(5, {"type": "choices", "from_name": "c", "value": {"choices": ["cat", "dog"]}}))]
    added = add_annotator_file(dataset, "ls", _ls(root / "choices.json", choices))  # ours: replaced, new type
    assert (added.n_matched, added.n_objects, added.n_dropped) == (2, 1, 1)
    assert dataset.get_field("ls").document_type is fo.Classification
    assert sorted(str(v) for v in dataset.values("ls.label")) == ["None", "cat"]


def test_coco_export_still_gives_one_field(dataset, tmp_path: Path):
    added = add_annotator_file(dataset, "ann_b", _export(tmp_path / "dataset" / "b.json", ["img1.png", "img9.png"]))
    assert added.fields == ("ann_b",) and added.format == "COCO JSON" and added.annotator == ""
    assert (added.n_matched, added.n_objects, added.n_unknown, added.unknown) == (1, 1, 1, ("img9.png",))


def test_label_studio_single_task_object_is_read(dataset, tmp_path: Path):
    path = tmp_path / "dataset" / "task_1.json"
    path.write_text(json.dumps(_task(LOCAL, _ann(3, _rect(15)))))
    added = add_annotator_file(dataset, "one", path)
    assert added.format == "Label Studio JSON" and added.n_matched == 1


def test_exports_are_read_and_checked_before_anything_is_written(dataset, tmp_path: Path):
    """read_annotator_file writes nothing; annotator_fields refuses two exports giving one field (naming both);
    remove_annotator_fields deletes only fields workbench added."""
    from workbench.errors import AnnotatorFieldError
    from workbench.io.annotator_files import annotator_fields, read_annotator_file
    from workbench.io.annotator_write import remove_annotator_fields, write_annotator_files

    root = tmp_path / "dataset"
    before = set(dataset.get_field_schema())
    two = read_annotator_file(dataset, "ls", _ls(root / "two.json", [
        _task(UPLOADED, _ann(3, _rect(15)), _ann(12, _rect(12.5))), _task(LOCAL, _ann(9, _rect(1), cancelled=True))]))
    three = read_annotator_file(dataset, "ls_3", _export(root / "b.json", ["img1.png", "img2.png"]))
    assert set(dataset.get_field_schema()) == before and "annotator_files" not in dataset.info.get("workbench", {})
    assert two.fields == ("ls_3", "ls_12") and two.files[0].cancelled_annotators == ("9",)
    assert annotator_fields([two]) == ("ls_3", "ls_12")
    with pytest.raises(AnnotatorFieldError, match=r"ls_3=.*b\.json and --annotator-file ls=.*two\.json \(annotator 3 "
                                                  r"of a Label Studio export\) both give the field 'ls_3'"):
        write_annotator_files(dataset, [two, three])
    assert set(dataset.get_field_schema()) == before
    write_annotator_files(dataset, [two])
    remove_annotator_fields(dataset, ["ls_3", "ground_truth"])  # ground_truth is the user's: left alone
    assert set(dataset.get_field_schema()) - before == {"ls_12"} and "ground_truth" in dataset.get_field_schema()
    assert set(dataset.info["workbench"]["annotator_files"]) == {"ls_12"}
