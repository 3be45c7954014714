"""Bad-input catalogue: the dataset root as a boundary, datasets never clobbered, audits serialised.

A file outside the dataset folder is planted as a byte-identical copy of an image inside it:
had the audit read it, the two would form an exact duplicate cluster. So "no duplicate" proves
"never read", without relying on access times.
"""

from __future__ import annotations

import contextlib
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


def _yolo_export(root: Path, *, seed: int = 400) -> Path:
    """images/{train,val}/*.png + labels/ (one 'car' each) + dataset.yaml, as FiftyOne's YOLOv5 export lays it out."""
    for i in range(4):
        split = "train" if i < 3 else "val"
        write_image(root / "images" / split / f"{i}.png", seed + i)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "dataset.yaml").write_text(f"path: {root}\ntrain: ./images/train/\nval: ./images/val/\nnames:\n  0: car\n")
    return root


def test_a_yolo_label_file_linked_outside_the_root_is_never_read(tmp_path: Path, unique_name: str) -> None:
    root = _yolo_export(tmp_path / "dataset")
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOPSECRET password=hunter2\n")
    (root / "labels" / "train" / "0.txt").unlink()
    (root / "labels" / "train" / "0.txt").symlink_to(secret)
    with untouched(root, secret.parent):
        code, doc, text = _audit_json(tmp_path, root, "--name", unique_name)
    assert code == 0, text[-2000:]
    assert "TOPSECRET" not in text and "TOPSECRET" not in json.dumps(doc), "the outside file was read"
    (problem,) = [p for p in doc["file_problems"] if "resolves outside the dataset folder" in p["message"]]
    assert problem["path"].endswith("images/train/0.png") and "labels/train/0.txt" in problem["message"]
    assert doc["class_counts"]["train"] == {"car": 2}  # the other labels are read


def test_a_moved_yolo_export_reads_its_own_copy_not_the_old_folder(tmp_path: Path, unique_name: str) -> None:
    """FiftyOne's export writes an absolute 'path:'; a copy of it must audit the copy, never the original."""
    original = _yolo_export(tmp_path / "original")
    moved = tmp_path / "moved"
    import shutil

    shutil.copytree(original, moved)  # dataset.yaml still says path: <original>
    for label in (moved / "labels").rglob("*.txt"):
        label.unlink()  # had the original's labels been read, 'car' would be counted
    with untouched(moved, original):
        code, doc, text = _audit_json(tmp_path, moved, "--name", unique_name)
    assert code == 0, text[-2000:]
    assert "lies outside the dataset folder" in text and "reading the folder's own" in text
    assert doc["dataset"]["n_samples"] == 4 and not doc["file_problems"]  # its own images, none outside
    assert all(not counts for counts in doc["class_counts"].values()), doc["class_counts"]


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


def _fiftyone_db_services() -> list:
    """This user's running FiftyOne database services (``service/main.py --51-service db``)."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline", "username"]):
        cmd = p.info.get("cmdline") or []
        if "--51-service" in cmd and "db" in cmd and p.info.get("username") == psutil.Process().username():
            found.append(p)
    return found


def _kill_mongods_of(folder: Path) -> int:
    """SIGKILL every ``mongod`` whose ``--dbpath`` is ``folder``; how many there were."""
    import psutil

    n = 0
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if cmd and cmd[0].endswith("mongod") and str(folder) in cmd:
            with contextlib.suppress(psutil.Error):
                p.kill()
                n += 1
    return n


def test_an_audit_survives_the_shared_database_service_stopping_mid_run(tmp_path: Path) -> None:
    """FiftyOne's shared database service dies while the audit embeds (as when the process that started it
    exits): the audit reconnects (FiftyOne starts a new service on the same database folder), writes its
    findings back and exits 0. The dataset is whole afterwards, and its sample count is right again (a
    mongod killed uncleanly reports stale counts until the collection is validated)."""
    if _fiftyone_db_services():
        pytest.skip("another FiftyOne database service of this user is running; this test would attach to it "
                    "and kill its mongod")
    root = tmp_path / "ds"
    for split, n in (("train", 40), ("test", 20)):
        for i in range(n):
            write_image(root / split / ("a" if i % 2 else "b") / f"{split}{i}.png", 700 + i + (0 if split == "train" else 100))
    (root / "test" / "a" / "leak.png").write_bytes((root / "train" / "a" / "train1.png").read_bytes())
    db_dir, cache = tmp_path / "fiftyone-db", tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "FIFTYONE_DATABASE_URI"}
    env.update(FIFTYONE_DATABASE_DIR=str(db_dir), WORKBENCH_CACHE=str(cache))
    name = "wb-test-db-dies"
    cmd = [sys.executable, "-m", "workbench.cli", "audit", str(root), "--name", name, "--embedder",
           "efficientnet-lite0", "--batch-size", "4", "--quiet", "--json", str(tmp_path / "out.json")]
    killed = 0
    try:
        with untouched(root):
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # the first embedding shard on disk means the dataset is loaded and embedding is under way
            while proc.poll() is None and not any(cache.rglob("shard-*.npz")):
                threading.Event().wait(0.05)
            if proc.poll() is None:
                killed = _kill_mongods_of(db_dir)
            out, err = proc.communicate(timeout=1800)
        assert killed == 1, f"the audit ended before its database could be stopped: {err[-2000:]}"
        assert proc.returncode == 0, err[-3000:]
        assert "FiftyOne's database went away during the audit" in err and "reconnecting" in err
        report = json.loads((tmp_path / "out.json").read_text())
        assert report["summary"]["leaks"] >= 1
        check = subprocess.run([sys.executable, "-c", (
            "import fiftyone as fo\n"
            f"ds = fo.load_dataset({name!r})\n"
            "leaks = set(ds.match_tags('wb:leak').values('filepath'))\n"
            f"print('RESULT', len(ds), {str(root / 'test' / 'a' / 'leak.png')!r} in leaks, 'wb-leaks' in ds.list_saved_views())")],
            env=env, capture_output=True, text=True, timeout=900)
        result = [line for line in check.stdout.splitlines() if line.startswith("RESULT")]
        assert result == ["RESULT 61 True True"], check.stdout + check.stderr[-2000:]
    finally:
        _kill_mongods_of(db_dir)
