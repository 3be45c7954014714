"""Bad-input catalogue: the dataset root as a boundary, datasets never clobbered, audits serialised.

A file outside the dataset folder is planted as a byte-identical copy of an image inside it:
had the audit read it, the two would form an exact duplicate cluster. So "no duplicate" proves
"never read", without relying on access times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image

FAST = ("--embedder", "none", "--no-write-back", "--quiet")


def _coco(root: Path, file_names: list[str], *, sizes: bool = True) -> Path:
    images = [{"id": i + 1, "file_name": f, **({"width": 32, "height": 32} if sizes else {})}
              for i, f in enumerate(file_names)]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1 + i % 2, "bbox": [2, 2, 10, 10], "area": 100,
             "iscrowd": 0} for i in range(len(file_names))]
    doc = {"images": images, "annotations": anns,
           "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}
    path = root / "labels.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def outside(tmp_path: Path) -> tuple[Path, Path]:
    """(dataset root with 6 images, a file outside it that copies images/0.png byte for byte)."""
    root = tmp_path / "dataset"
    for i in range(6):
        write_image(root / "images" / f"{i}.png", 300 + i)
    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes((root / "images" / "0.png").read_bytes())
    return root, secret


def _audit_json(tmp_path: Path, *args) -> tuple[int, dict, str]:
    out_json = tmp_path / "out" / "audit.json"
    res = run_cli("audit", *args, *FAST, "--json", out_json)
    return res.code, (json.loads(out_json.read_text()) if out_json.exists() else {}), res.text


BOUNDARY_CASES = ["coco-relative-escape", "coco-absolute-path", "coco-no-size-escape", "imagefolder-symlink",
                  "fiftyone-export-filepath"]


@pytest.mark.parametrize("case", BOUNDARY_CASES)
def test_media_outside_the_root_are_reported_never_read(outside, tmp_path: Path, unique_name: str, case) -> None:
    root, secret = outside
    if case == "coco-relative-escape":
        src = _coco(root, [f"images/{i}.png" for i in range(6)] + ["../private/secret.png"])
    elif case == "coco-absolute-path":
        src = _coco(root, [f"images/{i}.png" for i in range(6)] + [str(secret)])
    elif case == "coco-no-size-escape":  # no width/height: not even its header may be read to measure it
        src = _coco(root, [f"images/{i}.png" for i in range(6)] + ["../private/secret.png"], sizes=False)
    elif case == "imagefolder-symlink":
        for i in range(6):  # class folders: a/ and b/, plus a symlink to the outside file
            (root / ("a" if i % 2 else "b")).mkdir(exist_ok=True)
            os.replace(root / "images" / f"{i}.png", root / ("a" if i % 2 else "b") / f"{i}.png")
        (root / "images").rmdir()
        (root / "a" / "link.png").symlink_to(secret)
        src = root
    else:
        import fiftyone as fo

        ds = fo.Dataset()
        ds.add_samples([fo.Sample(filepath=str(root / "images" / f"{i}.png")) for i in range(6)])
        export = tmp_path / "export"
        ds.export(export_dir=str(export), dataset_type=fo.types.FiftyOneDataset)  # media copied into data/
        ds.delete()
        manifest = export / "samples.json"
        doc = json.loads(manifest.read_text())
        doc["samples"][-1]["filepath"] = str(secret)  # a hostile export: one sample points outside
        manifest.write_text(json.dumps(doc))
        root, src = export, export
    with untouched(root, secret.parent):
        code, doc, text = _audit_json(tmp_path, src, "--name", unique_name)
    assert code == 0, text[-2000:]
    problems = [p for p in doc["file_problems"] if p["kind"] == "outside_root"]
    assert len(problems) == 1 and "outside the dataset folder" in problems[0]["message"]
    assert doc["duplicates"] == [], "the outside file was read: it formed a duplicate with its copy"
    with untouched(root, secret.parent):
        code, doc, text = _audit_json(tmp_path, src, "--name", unique_name, "--allow-outside-root")
    assert code == 0 and [len(c["paths"]) for c in doc["duplicates"]] == [2]  # opted in: read, and found
    assert not [p for p in doc["file_problems"] if p["kind"] == "outside_root"]


def test_an_existing_dataset_from_another_source_is_not_replaced(tmp_path: Path, unique_name: str) -> None:
    import fiftyone as fo

    first, second = tmp_path / "first", tmp_path / "second"
    for i in range(4):
        write_image(first / "a" / f"{i}.png", i)
        write_image(second / "b" / f"{i}.png", 50 + i)
    assert run_cli("audit", first, "--name", unique_name, "--embedder", "none", "--quiet").code == 0
    ds = fo.load_dataset(unique_name)
    ds.take(2).tag_samples("wb:reviewed:confirmed")
    with untouched(first, second):
        out = run_cli("audit", second, "--name", unique_name, *FAST)
    assert out.code == 2 and "already exists and was loaded from" in out.stderr and "--overwrite" in out.stderr
    ds.reload()
    assert len(ds) == 4 and ds.count_sample_tags().get("wb:reviewed:confirmed") == 2
    with untouched(first, second):
        out = run_cli("audit", second, "--name", unique_name, *FAST, "--overwrite")
    assert out.code == 0 and set(fo.load_dataset(unique_name).distinct("ground_truth.label")) == {"b"}


def test_a_dataset_not_made_by_workbench_is_not_replaced(tmp_path: Path, unique_name: str) -> None:
    import fiftyone as fo

    root = tmp_path / "ds"
    for i in range(4):
        write_image(root / "a" / f"{i}.png", i)
    fo.Dataset(unique_name, persistent=True).add_sample(fo.Sample(filepath=str(tmp_path / "theirs.png")))
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, *FAST)
    assert out.code == 2 and "was not loaded by workbench" in out.stderr
    assert len(fo.load_dataset(unique_name)) == 1


def test_two_audits_of_one_dataset_run_one_after_the_other(tmp_path: Path, unique_name: str) -> None:
    """Two CLI processes, same dataset, at once: the second waits for the lock; views and runs stay intact."""
    import fiftyone as fo

    root = tmp_path / "ds"
    for split in ("train", "test"):
        for i in range(6):
            write_image(root / split / ("a" if i % 2 else "b") / f"{split}{i}.png", hash(split) % 1000 + i)
    cmd = [sys.executable, "-m", "workbench.cli", "audit", str(root), "--name", unique_name, "--embedder", "none",
           "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    ds = fo.load_dataset(unique_name)
    assert len(ds) == 12
    assert {"wb-duplicates", "wb-leaks", "wb-label-issues", "wb-file-problems"} <= set(ds.list_saved_views())
    assert len(ds.info["workbench"]["runs"]) == 2


def test_the_lock_makes_a_second_holder_wait(tmp_path: Path, capfd) -> None:
    from workbench.io.locks import audit_lock

    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with audit_lock("same-dataset", tmp_path):
            order.append("first in")
            first_in.set()
            release.wait(60)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(60)
    # flock locks belong to open file descriptions: a second open in this process contends like another process
    waiter = subprocess.Popen([sys.executable, "-c", (
        "import sys; from workbench.io.locks import audit_lock\n"
        f"with audit_lock('same-dataset', {str(tmp_path)!r}): print('second in', flush=True)")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = waiter.stderr.readline()  # blocks until the waiter says it waits
    assert "another audit of same-dataset is running" in line and f"pid {os.getpid()}" in line
    release.set()
    t.join(60)
    out, _ = waiter.communicate(timeout=120)
    assert order == ["first in", "first out"] and out.strip() == "second in"
