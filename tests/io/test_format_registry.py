"""Dataset formats are a named registry: ``--format`` offers its names, detection and loading dispatch on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli_choices, write_image
from workbench.errors import SourceError
from workbench.io import sources
from workbench.io.formats import force_layout, supported_layouts
from workbench.io.formats.registry import (FormatSpec, format_choices, format_names, get_format, layouts,
                                           register_format, unregister_format)
from workbench.io.sources import SourceSpec, resolve_source
from workbench.registry import load_object

BUILTIN = ("fiftyone", "huggingface", "yolo", "yolov4", "voc", "cvat", "fiftyone-classification", "fiftyone-detection", "coco",
           "segmentation", "imagefolder", "imagedir")


def detect_toy(root: Path) -> SourceSpec | None:
    """A folder holding ``toy.manifest``; an annotation file ``*.toy`` is its manifest named directly."""
    return SourceSpec(root, "toy", ((None, root),)) if (root / "toy.manifest").is_file() else None


def detect_toy_file(path: Path) -> SourceSpec | None:
    return SourceSpec(path.parent, "toy", ((None, path.parent),)) if path.suffix == ".toy" else None


def import_toy(dataset, spec, split, path, label_field, tags, *, allow_outside_root=False) -> list[dict]:
    """Every image of the folder, labelled ``toy``, plus one problem saying the importer ran."""
    import fiftyone as fo

    dataset.add_samples([fo.Sample(filepath=str(p), **{label_field: fo.Classification(label="toy")})
                         for p in sorted(path.glob("*.png"))])
    return [{"source": str(path), "kind": "annotation", "message": f"toy importer ran on {path.name}"}]


TOY = FormatSpec("toy", "a toy export: toy.manifest + images", detect=f"{__name__}:detect_toy",
                 importer=f"{__name__}:import_toy", detect_file=f"{__name__}:detect_toy_file", file_what="a .toy file")


@pytest.fixture
def toy():
    """``toy`` registered for the test, removed after it."""
    register_format(TOY)
    try:
        yield TOY
    finally:
        unregister_format("toy")


@pytest.fixture
def toy_folder(tmp_path: Path) -> Path:
    """A folder of images (``imagedir`` fits too) that also holds a toy manifest."""
    for i in range(3):
        write_image(tmp_path / f"{i}.png", i)
    (tmp_path / "toy.manifest").write_text("toy\n")
    return tmp_path


def test_the_registry_lists_what_the_cli_offers():
    assert format_names() == BUILTIN
    assert cli_choices("audit", "--format") == format_choices() == sources.FORMATS == ("auto", *BUILTIN)
    listed = supported_layouts().splitlines()
    assert [line.split()[1] for line in listed] == list(BUILTIN)
    assert all(get_format(name).what in line for name, line in zip(BUILTIN, listed))


def test_every_function_a_builtin_format_names_exists():
    for spec in layouts():
        for role in ("detect", "importer", "force", "detect_file", "force_file", "diagnose"):
            path = getattr(spec, role)
            assert path is None or callable(load_object(path)), (spec.name, role, path)


def test_an_unknown_format_is_refused_with_the_known_ones(imagefolder):
    with pytest.raises(SourceError, match=r"unknown format 'pascal'; choose one of fiftyone, huggingface, .*, imagedir$"):
        get_format("pascal")
    with pytest.raises(SourceError, match=r"unknown format 'pascal'; choose one of auto, fiftyone, .*, imagedir$"):
        resolve_source(imagefolder, "pascal")
    with pytest.raises(SourceError, match="unknown format 'pascal'"):
        force_layout(imagefolder, "pascal")


def test_a_registered_format_is_offered_listed_detected_and_forced(toy, toy_folder):
    assert cli_choices("audit", "--format")[-3:] == ("toy", "imagefolder", "imagedir")  # before the catch-alls
    assert "--format toy " in supported_layouts() and "toy" in sources.FORMATS
    assert resolve_source(toy_folder).format == "toy"  # asked before imagedir, which fits too
    assert resolve_source(toy_folder, "toy").format == "toy"
    (toy_folder / "a.toy").write_text("")
    assert resolve_source(toy_folder / "a.toy").format == "toy"


def test_a_test_registration_is_gone_after_the_test(toy_folder):
    assert "toy" not in format_names() and "toy" not in cli_choices("audit", "--format")
    assert resolve_source(toy_folder).format == "imagedir"


def test_a_file_nothing_reads_is_refused_naming_every_annotation_file_kind(toy, tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match=r"reads \(a YOLO data.yaml, a CVAT annotations.xml, a COCO detection JSON or "
                                          r"a .toy file\); pass the dataset folder"):
        resolve_source(tmp_path / "notes.txt")


def test_forcing_the_registered_format_on_another_folder_says_what_it_needs(toy, imagefolder):
    with pytest.raises(SourceError, match="--format toy: .* is not a toy export: toy.manifest"):
        resolve_source(imagefolder, "toy")


def test_catch_all_layouts_are_asked_last_whatever_the_registration_order():
    assert [s.name for s in layouts() if s.catch_all] == ["imagefolder", "imagedir"]
    assert [s.catch_all for s in layouts()] == sorted(s.catch_all for s in layouts())


def test_names_taken_or_reserved_and_malformed_specs_are_refused(toy):
    with pytest.raises(ValueError, match="already registered"):
        register_format(TOY)
    with pytest.raises(ValueError, match="reserved"):
        register_format(FormatSpec("auto", "x", detect=f"{__name__}:detect_toy", importer=f"{__name__}:import_toy"))
    with pytest.raises(ValueError, match="'package.module:function' path"):
        FormatSpec("kitti", "x", detect="kitti.detect", importer=f"{__name__}:import_toy")
    with pytest.raises(ValueError, match="detect_file and file_what go together"):
        FormatSpec("kitti", "x", detect=f"{__name__}:detect_toy", importer=f"{__name__}:import_toy",
                   detect_file=f"{__name__}:detect_toy_file")


def test_a_registered_format_is_loaded_by_its_importer(toy, toy_folder, unique_name):
    from workbench.io.loading import load

    ds = load(toy_folder, name=unique_name)
    assert len(ds) == 3 and ds.values("ground_truth.label") == ["toy"] * 3
    assert ds.info["workbench"]["format"] == "toy"
    assert [p["message"] for p in ds.info["workbench"]["load_problems"]] == [f"toy importer ran on {toy_folder.name}"]
