"""Copies of one picture in a detection dataset: other classes or other boxes are a label conflict."""

from pathlib import Path

from workbench.checks.box_match import boxes_agree, objects_summary


def test_boxes_agree_needs_the_same_classes_and_matching_boxes():
    car = (0.1, 0.1, 0.4, 0.4)
    assert boxes_agree(["car", "bus"], [car, (0.6, 0.6, 0.2, 0.2)], ["bus", "car"], [(0.61, 0.6, 0.2, 0.2), car])
    assert not boxes_agree(["car"], [car], ["bus"], [car])  # another class
    assert not boxes_agree(["car"], [car], ["car", "car"], [car, car])  # an extra object
    assert not boxes_agree(["car"], [car], ["car"], [(0.5, 0.5, 0.4, 0.4)])  # the box moved
    assert not boxes_agree(["car", "car"], [car, car], ["car", "car"], [car, (0.6, 0.6, 0.3, 0.3)])  # one box each
    assert boxes_agree([], [], [], []) and objects_summary([]) == "(no objects)"


def test_a_detection_leak_whose_boxes_moved_is_a_conflict(tmp_path: Path, unique_name: str):
    """A real audit: train/test copies (byte for byte) of one picture, annotated with the same box, with a
    moved box, and with another class: only the first pair is not a conflict."""
    import shutil

    import fiftyone as fo

    import workbench
    from tests.conftest import write_image
    from workbench.render.json_export import to_export_dict

    car = [0.1, 0.1, 0.4, 0.4]
    variants = {"same": ("car", car), "moved": ("car", [0.5, 0.5, 0.4, 0.4]), "other": ("bus", car)}
    ds = fo.Dataset(unique_name)
    for n, (name, (label, box)) in enumerate(variants.items()):
        train = write_image(tmp_path / "train" / f"{name}.png", 10 + n, size=48)
        test = tmp_path / "test" / f"{name}.png"
        test.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(train, test)
        ds.add_sample(fo.Sample(filepath=str(train), tags=["train"], ground_truth=fo.Detections(
            detections=[fo.Detection(label="car", bounding_box=car)])))
        ds.add_sample(fo.Sample(filepath=str(test), tags=["test"], ground_truth=fo.Detections(
            detections=[fo.Detection(label=label, bounding_box=box)])))
    result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False)
    conflict = {Path(p.filepath_a).stem: (p.label_conflict, p.box_conflict) for p in result.leakage.pairs}
    assert conflict == {"same": (False, False), "moved": (True, True), "other": (True, False)}
    clusters = {Path(c.filepaths[0]).stem: c.label_conflict for c in result.duplicates.clusters}
    assert clusters == {"same": False, "moved": True, "other": True}
    leaks = {Path(p["path_a"]).stem: p for p in to_export_dict(result)["leaks"]}
    assert leaks["moved"]["box_conflict"] and leaks["other"]["label_b"] == "bus" and leaks["same"]["label_a"] == "car"
