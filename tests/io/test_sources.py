import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import write_image
from tests.io.format_fixtures import EXPORTS, export_layout, write_hf
from workbench.errors import SourceError
from workbench.io.sources import FORMATS, find_image_files, resolve_source, split_of_name


def test_imagefolder_with_splits(imagefolder):
    spec = resolve_source(imagefolder)
    assert spec.format == "imagefolder"
    assert [s for s, _ in spec.parts] == ["test", "train"]


def test_imagefolder_without_splits(tmp_path):
    write_image(tmp_path / "a" / "x.png", 1)
    write_image(tmp_path / "b" / "y.png", 2)
    spec = resolve_source(tmp_path)
    assert spec.format == "imagefolder" and spec.parts == ((None, tmp_path.resolve()),)


def test_coco_file_and_split_from_name(tmp_path):
    ann = tmp_path / "annotations" / "instances_val2017.json"
    ann.parent.mkdir()
    ann.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    (tmp_path / "val2017").mkdir()
    spec = resolve_source(ann)
    assert spec.format == "coco" and spec.parts[0][0] == "val"
    assert spec.images_dir == (tmp_path / "val2017").resolve()


def test_yolo_yaml(tmp_path):
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images/train\n")
    assert resolve_source(tmp_path).format == "yolo"


@pytest.mark.parametrize("name,split", [("train", "train"), ("Validation", "val"), ("instances_test2017", "test"),
                                        ("images", None)])
def test_split_of_name(name, split):
    assert split_of_name(name) == split


def test_missing_path_says_what_to_pass(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        resolve_source(tmp_path / "nope")


def test_malformed_json_names_line(tmp_path, unique_name):
    from workbench.io.loading import load

    bad = tmp_path / "labels.json"
    bad.write_text('{"images": [1,}')
    with pytest.raises(SourceError, match="not valid JSON .line 1"):
        resolve_source(bad)
    with pytest.raises(SourceError, match="not valid JSON .line 1"):
        load(bad, "coco", name=unique_name)


def test_unrecognised_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match="can't tell"):
        resolve_source(tmp_path)


def test_unknown_format(tmp_path):
    with pytest.raises(SourceError, match="unknown format"):
        resolve_source(tmp_path, "pascal")


def test_find_image_files_walks_folders_and_keeps_named_files(tmp_path):
    for rel in ("b/2.PNG", "b/1.jpg", "a.webp", "notes.txt", ".hidden/x.png", "b/.y.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    named = tmp_path / "notes.txt"
    found = find_image_files([tmp_path, named, tmp_path / "a.webp"])
    assert found == [str(tmp_path / "a.webp"), str(tmp_path / "b" / "1.jpg"), str(tmp_path / "b" / "2.PNG"),
                     str(named)]
    with pytest.raises(SourceError, match="does not exist"):
        find_image_files([tmp_path / "gone"])


# --- Recognition by content, on real exports --------------------------------------------------


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Every README format, written once per session by FiftyOne's own exporter."""
    base = tmp_path_factory.mktemp("exports")
    return {kind: export_layout(kind, base / kind, base / "scratch") for kind in EXPORTS}


STRAYS = {
    "clean": {},
    "stray-json": {"truth.json": '{"a": 1}'},
    "stray-dataset-dict-json": {"dataset_dict.json": '{"a": 1}'},
    "stray-yaml-and-txt": {"config.yaml": "lr: 0.1\nepochs: 3\n", "notes.txt": "labelled by Ann\n",
                           "data.yaml": "train: [unclosed\n"},
}


@pytest.mark.parametrize("stray", list(STRAYS))
@pytest.mark.parametrize("kind", list(EXPORTS))
def test_every_fiftyone_export_is_recognised_even_with_stray_files(exports, kind, stray, tmp_path):
    root = exports[kind]
    if STRAYS[stray]:
        root = Path(shutil.copytree(root, tmp_path / kind))
        for name, text in STRAYS[stray].items():
            (root / name).write_text(text)
    spec = resolve_source(root)
    assert spec.format == EXPORTS[kind][2]
    assert spec.root == root.resolve()


def test_yolov8_yaml_with_path_and_images_train_entries(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "dataset.yaml").write_text("path: ../datasets/coco8\ntrain: images/train\nval: images/val\n"
                                           "names:\n  0: person\n")
    (tmp_path / "hyp.yaml").write_text("lr0: 0.01\n")
    spec = resolve_source(tmp_path)
    assert spec.format == "yolo" and spec.parts == ((None, (tmp_path / "dataset.yaml").resolve()),)


def _coco2017(root: Path) -> Path:
    """The canonical COCO 2017 layout, with the sibling files COCO ships (keypoints, captions, panoptic)."""
    for split, seeds in (("train", (1, 2)), ("val", (3,))):
        images = [{"id": s, "file_name": f"{s:012d}.jpg", "width": 32, "height": 32} for s in seeds]
        for s in seeds:
            write_image(root / f"{split}2017" / f"{s:012d}.jpg", s, fmt="JPEG")
        boxes = [{"id": s, "image_id": s, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}
                 for s in seeds]
        cats = [{"id": 1, "name": "person"}]
        ann = root / "annotations"
        ann.mkdir(exist_ok=True)
        (ann / f"instances_{split}2017.json").write_text(json.dumps(
            {"info": {}, "licenses": [], "images": images, "annotations": boxes, "categories": cats}))
        (ann / f"person_keypoints_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": [dict(b, keypoints=[0] * 51) for b in boxes], "categories": cats}))
        (ann / f"captions_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": [{"id": s, "image_id": s, "caption": "a person"} for s in seeds]}))
    (root / "annotations" / "panoptic_val2017.json").write_text(json.dumps(
        {"images": [], "annotations": [{"segments_info": [{"id": 1, "bbox": [0, 0, 1, 1]}]}], "categories": []}))
    return root


def test_coco_2017_layout_reads_instances_files_with_their_image_folders(tmp_path):
    from workbench.io.sources import coco_images_dir

    root = _coco2017(tmp_path / "coco")
    (root / "truth.json").write_text('{"a": 1}')
    spec = resolve_source(root)
    assert spec.format == "coco"
    assert [(s, p.name) for s, p in spec.parts] == [("train", "instances_train2017.json"),
                                                   ("val", "instances_val2017.json")]
    for split, path in spec.parts:
        assert coco_images_dir(path, split) == root.resolve() / f"{split}2017"


def test_coco_images_dir_is_found_by_content(tmp_path):
    from workbench.io.sources import coco_images_dir

    write_image(tmp_path / "images" / "train" / "a.png", 1)
    (tmp_path / "data").mkdir()  # a decoy that holds none of the files
    labels = tmp_path / "train.json"
    labels.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}], "annotations": []}))
    assert coco_images_dir(labels, "train") == tmp_path / "images" / "train"


def test_coco_json_whose_images_are_missing_is_still_coco_when_nothing_else_fits(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "gone.png"}],
                                                      "annotations": [], "categories": []}))
    assert resolve_source(tmp_path).format == "coco"


def test_a_coco_json_beside_class_folders_whose_images_it_does_not_name_is_stray(tmp_path):
    write_image(tmp_path / "cat" / "a.png", 1)
    write_image(tmp_path / "dog" / "b.png", 2)
    (tmp_path / "old_labels.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "x/other.png"}],
                                                          "annotations": [], "categories": []}))
    assert resolve_source(tmp_path).format == "imagefolder"


def test_voc_with_imagesets_splits(tmp_path):
    import xml.etree.ElementTree as ET

    root = tmp_path / "VOC2012"
    for i, split in enumerate(("train", "train", "val", None)):
        write_image(root / "JPEGImages" / f"2008_{i:06d}.jpg", i, fmt="JPEG")
        ann = ET.Element("annotation")
        ET.SubElement(ann, "filename").text = f"2008_{i:06d}.jpg"
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        ET.ElementTree(ann).write(root / "Annotations" / f"2008_{i:06d}.xml")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("2008_000000\n2008_000001\n")
    (main / "val.txt").write_text("2008_000002\n")
    (main / "trainval.txt").write_text("2008_000000\n2008_000001\n2008_000002\n")
    (main / "cat_train.txt").write_text("2008_000000  1\n")
    spec = resolve_source(root)
    assert spec.format == "voc" and spec.location("data", "") == "JPEGImages"
    assert [(s, p.name) for s, p in spec.parts] == [("train", "train.txt"), ("val", "val.txt"), (None, "VOC2012")]


def test_split_folders_each_holding_the_same_layout(exports, tmp_path):
    for split in ("train", "val"):
        shutil.copytree(exports["fiftyone-classification"], tmp_path / split)
    spec = resolve_source(tmp_path)
    assert spec.format == "fiftyone-classification"
    assert [(s, p.name) for s, p in spec.parts] == [("train", "train"), ("val", "val")]


def test_flat_folder_and_generic_image_folder_are_unlabelled(tmp_path):
    write_image(tmp_path / "flat" / "a.png", 1)
    write_image(tmp_path / "flat" / "b.jpg", 2, fmt="JPEG")
    write_image(tmp_path / "nested" / "images" / "a.png", 3)
    assert resolve_source(tmp_path / "flat").format == "imagedir"
    assert resolve_source(tmp_path / "nested").format == "imagedir"


def test_unknown_layout_is_refused_with_every_format_and_its_flag(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError) as err:
        resolve_source(tmp_path)
    message = str(err.value)
    assert "can't tell" in message
    for name in FORMATS[1:]:
        assert f"--format {name} " in message, name


def test_broken_data_yaml_is_named_in_the_refusal(tmp_path):
    (tmp_path / "data.yaml").write_text("train: [unclosed\n")
    with pytest.raises(SourceError, match="data.yaml is not valid YAML"):
        resolve_source(tmp_path)


def test_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="is empty"):
        resolve_source(tmp_path)


@pytest.mark.parametrize("forced,phrase", [("voc", "is not a Pascal VOC dataset"), ("coco", "no COCO annotation JSON"),
                                           ("yolo", "has no data.yaml"), ("cvat", "is not a CVAT image export")])
def test_forcing_a_format_the_folder_is_not_says_what_it_needs(imagefolder, forced, phrase):
    with pytest.raises(SourceError, match=phrase):
        resolve_source(imagefolder, forced)


def test_forcing_imagedir_on_a_class_tree_reads_it_without_labels(imagefolder):
    assert resolve_source(imagefolder, "imagedir").format == "imagedir"


@pytest.mark.parametrize("kind", ["dict", "single", "parquet"])
def test_hugging_face_layouts_are_recognised_without_pyarrow(kind, pyarrow_deps, tmp_path):
    root = write_hf(kind, tmp_path / "hf", pyarrow_deps)
    (root / "truth.json").write_text('{"a": 1}')
    spec = resolve_source(root)  # this process has no pyarrow: only the sidecars and the Parquet footer are read
    assert spec.format == "huggingface"
    expected = {"dict": ["train", "val"], "single": [None], "parquet": ["train", "val"]}[kind]
    assert sorted(s or "" for s, _ in spec.parts) == sorted(s or "" for s in expected)


def test_dataset_info_without_an_image_column_is_not_hugging_face_images(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (tmp_path / "dataset_info.json").write_text(json.dumps({"features": {"text": {"_type": "Value"}}}))
    (tmp_path / "data-00000-of-00001.arrow").write_bytes(b"\xff\xff\xff\xff")
    with pytest.raises(SourceError, match="can't tell"):
        resolve_source(tmp_path)
