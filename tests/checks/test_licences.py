"""Licences: COCO's licenses block and per-image ids summarised, research-only datasets named in the metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image
from workbench.checks.licences import find_research_only, licence_kind, summarise_licences
from workbench.results.licences import LicenceResult
from workbench.results.serialize import from_jsonable, to_jsonable

#: COCO 2017's licenses block, as published.
COCO_LICENSES = [
    (1, "Attribution-NonCommercial-ShareAlike License", "http://creativecommons.org/licenses/by-nc-sa/2.0/"),
    (2, "Attribution-NonCommercial License", "http://creativecommons.org/licenses/by-nc/2.0/"),
    (3, "Attribution-NonCommercial-NoDerivs License", "http://creativecommons.org/licenses/by-nc-nd/2.0/"),
    (4, "Attribution License", "http://creativecommons.org/licenses/by/2.0/"),
    (5, "Attribution-ShareAlike License", "http://creativecommons.org/licenses/by-sa/2.0/"),
    (6, "Attribution-NoDerivs License", "http://creativecommons.org/licenses/by-nd/2.0/"),
    (7, "No known copyright restrictions", "http://flickr.com/commons/usage/"),
    (8, "United States Government Work", "http://www.usa.gov/copyright.shtml"),
]


def test_cocos_eight_licences_are_read_for_commercial_use():
    kinds = [licence_kind(name, url) for _, name, url in COCO_LICENSES]
    assert kinds == ["non-commercial", "non-commercial", "non-commercial", "attribution", "share-alike",
                     "no-derivatives", "unrestricted", "unrestricted"]
    assert licence_kind("MIT") == "attribution" and licence_kind("CC0 1.0") == "unrestricted"
    assert licence_kind("proprietary, ask legal") == "unknown" and licence_kind("For research only") == "non-commercial"
    for words in ("Creative Commons Attribution Non Commercial 4.0", "Not for commercial use", "Academic use only",
                  "For research purposes only", "Research use only"):
        assert licence_kind(words) == "non-commercial", words
    assert licence_kind("Attribution No Derivatives") == "no-derivatives"


@pytest.mark.parametrize("text, found", [
    ("/data/ILSVRC2012/train/n01440764", ["ImageNet"]), ("imagenet-1k", ["ImageNet"]), ("CelebA-HQ", ["CelebA"]),
    ("vggface2_train", ["VGGFace2"]), ("ms_celeb_1m", ["MS-Celeb-1M"]), ("SA-1B shard 12", ["SA-1B"]),
    ("lfw_funneled", ["LFW"]), ("MOT17-02", ["MOT"]), ("kinetics-700", ["Kinetics"]), ("ADE20K", ["ADE20K"]),
    ("cityscapes/leftImg8bit", ["Cityscapes"]), ("laion-5b subset", ["LAION"]),
    ("leftImg8bit/train/aachen", ["Cityscapes"]), ("ADEChallengeData2016", ["ADE20K"]),
    ("CelebAMask-HQ", ["CelebA"]), ("faces_emore", ["MS-Celeb-1M"]), ("imagenetv2-matched-frequency", ["ImageNet"]),
    ("my_imagenetish", []), ("motor", []), ("lfwx", []), ("coco 2017", []), ("open images v7", []),
    ("chemical kinetics lab", []), ("kineticsphysics", []),
])
def test_research_only_names_are_found_as_whole_words(text, found):
    assert [r.dataset for r in find_research_only([("where", text)])] == found


def test_ids_the_block_lacks_and_images_without_one_are_counted():
    block = [{"id": n, "name": name, "url": url} for n, name, url in COCO_LICENSES[:4]]
    uses, without, restricted = summarise_licences(block, [1, 4, 4.0, "4", None, 9, 3], list("abcdefg"))
    assert [(u.id, u.n_images) for u in uses] == [("1", 1), ("2", 0), ("3", 1), ("4", 3), ("9", 1)]
    assert uses[-1].kind == "unknown" and "not in the licenses block" in uses[-1].name
    assert without == 1 and restricted == {"a", "g"}


def test_the_summary_lists_every_restricted_licence_unreadable_ones_and_block_oddities():
    block = [{"id": n, "name": f"Attribution-NonCommercial License v{n}"} for n in range(1, 8)]
    block += [{"name": "no id"}, {"id": 1, "name": "CC BY"}, {"id": 9, "name": "Ask our lawyer"}]
    notes: list[str] = []
    uses, without, restricted = summarise_licences(block, list(range(1, 10)), [f"s{i}" for i in range(9)], notes)
    r = LicenceResult(uses, without, 9, (), "the licenses block", tuple(sorted(restricted)), tuple(notes))
    text = r.summary()
    assert "7 restrict commercial use" in text and "... and 2 more restricted licences" in text
    assert ("2 images under licences workbench can't read, to check by hand: 'Ask our lawyer', "
            "'id 8 (not in the licenses block)'") in text  # entry 8 had no id
    assert "has no id: left out" in text and "licence id 1 is given twice" in text


def test_the_result_counts_each_dataset_once_and_round_trips():
    uses, without, restricted = summarise_licences([{"id": 2, "name": COCO_LICENSES[1][1]}], [2, 2, None], "abc")
    names = find_research_only([("dataset info url", "http://image-net.org"), ("image folder", "/d/imagenet/x")])
    r = LicenceResult(uses, without, 3, names, "the licenses block", tuple(sorted(restricted)))
    assert r.n_findings == 2 and list(r.datasets_named) == ["ImageNet"]
    assert "named in dataset info url, image folder" in r.summary()
    assert from_jsonable(LicenceResult, json.loads(json.dumps(to_jsonable(r)))) == r
    assert r.to_export()["licences"]["research_only"][0]["where"] == "dataset info url"


def _coco(root: Path, *, licences: bool = True, description: str = "street scenes") -> Path:
    images, annotations = [], []
    for i in range(6):
        write_image(root / "images" / f"{i}.png", 700 + i)
        entry = {"id": i + 1, "file_name": f"{i}.png", "width": 32, "height": 32}
        if licences:
            entry["license"] = [1, 4, 4, 7, True, "x"][i]  # a bool and an unknown text id among them
        images.append(entry)
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100,
                            "iscrowd": 0})
    doc = {"info": {"description": description, "url": "https://example.org/<script>x</script>"},
           "images": images, "annotations": annotations, "categories": [{"id": 1, "name": "car"}]}
    if licences:
        doc["licenses"] = [{"id": n, "name": name, "url": url} for n, name, url in COCO_LICENSES]
        doc["licenses"][3]["name"] = "Attribution <b>License</b>"
    (root / "labels.json").write_text(json.dumps(doc))
    return root


def test_a_coco_dataset_gets_its_licence_report_everywhere(tmp_path, unique_name):
    """CLI audit of a COCO folder that records licences and names Cityscapes: the summary, the JSON, the gate,
    the report (escaped) and the App's tag and view of the non-commercial images; the files are untouched."""
    import fiftyone as fo

    root = _coco(tmp_path / "coco", description="A Cityscapes-like subset")
    out_json, report = tmp_path / "out" / "audit.json", tmp_path / "out" / "report.html"
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet", "--json", out_json,
                      "--report", report, "--fail-on", "licences")
    assert out.code == 1 and "licences>0: 2 research-only datasets named or restricted licences" in out.stderr, \
        out.text
    doc = json.loads(out_json.read_text())["licences"]
    counts = {u["id"]: u["n_images"] for u in doc["licences"] if u["n_images"]}
    assert counts == {"1": 1, "4": 2, "7": 1, "x": 1}  # the bool id is not an id
    assert doc["n_without_licence"] == 1 and doc["recorded_in"] == "the licenses block and the license field"
    assert [r["dataset"] for r in doc["research_only"]] == ["Cityscapes"]
    assert doc["research_only"][0]["where"] == "dataset info description"
    assert "research-only data named: Cityscapes" in " ".join(out.stdout.split())
    html = report.read_text()
    assert 'id="licences"' in html and "<b>License</b>" not in html and "&lt;b&gt;License&lt;/b&gt;" in html
    assert "<script>x</script>" not in html
    ds = fo.load_dataset(unique_name)
    assert [Path(s.filepath).name for s in ds.match_tags("wb:restricted_licence")] == ["0.png"]
    assert len(ds.load_saved_view("wb-restricted-licence")) == 1


def test_data_without_licences_passes_the_gate_and_says_so(tmp_path, unique_name):
    root = _coco(tmp_path / "coco", licences=False)
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet", "--no-write-back",
                      "--fail-on", "licences")
    assert out.code == 0, out.text[-2000:]
    assert "no licence recorded for 6 images (your own or synthetic data avoids the question)" in \
        " ".join(out.stdout.split())
