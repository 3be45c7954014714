"""Real dataset layouts for the format tests, written by the tools that write them in the wild.

- :func:`export_layout` builds a 6-image FiftyOne dataset (classes, boxes, masks; 4 ``train`` +
  2 ``val``) with :func:`tests.conftest.write_image` and writes it with FiftyOne's own exporter
  (``dataset.export(dataset_type=fo.types.X)``), so detection is tested on what FiftyOne writes.
- :func:`write_hf` writes Hugging Face ``datasets`` layouts (``save_to_disk`` of a
  ``DatasetDict`` or a ``Dataset``, and ``to_parquet``) with pyarrow, byte for byte the schema,
  metadata and JSON sidecars ``datasets`` 5.2 writes (checked against it when this was written).
  pyarrow is not in the project's environment (it changes how pandas 3 stores strings for the
  whole process), so these run in a subprocess with :func:`pyarrow_path` on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO, write_image

#: README format name -> (FiftyOne dataset type name, label field exported, --format value detected).
EXPORTS = {
    "imagefolder": ("ImageClassificationDirectoryTree", "ground_truth", "imagefolder"),
    "coco": ("COCODetectionDataset", "boxes", "coco"),
    "yolo": ("YOLOv5Dataset", "boxes", "yolo"),
    "voc": ("VOCDetectionDataset", "boxes", "voc"),
    "cvat": ("CVATImageDataset", "boxes", "cvat"),
    "segmentation": ("ImageSegmentationDirectory", "seg", "segmentation"),
    "fiftyone": ("FiftyOneDataset", None, "fiftyone"),
    "fiftyone-classification": ("FiftyOneImageClassificationDataset", "ground_truth", "fiftyone-classification"),
    "fiftyone-detection": ("FiftyOneImageDetectionDataset", "boxes", "fiftyone-detection"),
    "imagedir": ("ImageDirectory", None, "imagedir"),
}
CLASSES = ["cat", "dog"]
PYARROW_VERSION = "25.0.1"  # the one scripts/bench_deps.sh installs for the benchmarks


def small_dataset(images: Path, name: str):
    """Six 40x40 images: ``ground_truth`` (cat/dog), ``boxes`` (one box each), ``seg`` (mask values 1/2)."""
    import fiftyone as fo
    import numpy as np

    samples = []
    for i in range(6):
        path = write_image(images / f"img{i}.png", 100 + i, size=40)
        label = CLASSES[i % 2]
        mask = np.zeros((40, 40), np.uint8)
        mask[5:20, 5:20] = 1 + i % 2
        samples.append(fo.Sample(filepath=str(path), tags=["train" if i < 4 else "val"],
                                 ground_truth=fo.Classification(label=label),
                                 boxes=fo.Detections(detections=[fo.Detection(label=label,
                                                                              bounding_box=[0.1, 0.1, 0.5, 0.5])]),
                                 seg=fo.Segmentation(mask=mask)))
    dataset = fo.Dataset(name)
    dataset.add_samples(samples, progress=False)
    return dataset


def export_layout(kind: str, export_dir: Path, scratch: Path) -> Path:
    """Write the README format ``kind`` to ``export_dir`` with FiftyOne's exporter; returns ``export_dir``."""
    import fiftyone as fo

    type_name, field, _ = EXPORTS[kind]
    dataset_type = getattr(fo.types, type_name)
    name = f"export-{kind}-{os.getpid()}-{abs(hash(str(export_dir))) % 10**8}"
    dataset = small_dataset(scratch / f"src-{kind}", name)
    try:
        kwargs = {"label_field": field} if field else {}
        if kind == "yolo":
            for split in ("train", "val"):
                dataset.match_tags(split).export(export_dir=str(export_dir), dataset_type=dataset_type, split=split,
                                                 classes=CLASSES, **kwargs)
        else:
            dataset.export(export_dir=str(export_dir), dataset_type=dataset_type, **kwargs)
    finally:
        fo.delete_dataset(name)
    return export_dir


# --- Hugging Face ----------------------------------------------------------------------------

def pyarrow_path() -> str | None:
    """A folder to put on ``sys.path`` for pyarrow ("" when it is importable already), or None.

    Looks in this environment, then ``.venv/bench-deps`` (``make bench``), then
    ``<venv>/test-deps``; installs pyarrow there from PyPI on first use (``--no-deps``, like
    ``scripts/bench_deps.sh``). None when that is impossible (offline): the tests then skip.
    """
    if importlib.util.find_spec("pyarrow") is not None:
        return ""
    for folder in (REPO / ".venv" / "bench-deps", Path(sys.prefix) / "test-deps"):
        if (folder / "pyarrow").is_dir():
            return str(folder)
    target = Path(sys.prefix) / "test-deps"
    staging = Path(tempfile.mkdtemp(prefix="test-deps-", dir=sys.prefix))
    env = {**os.environ, "PIP_FIND_LINKS": ""}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(staging),
                           f"pyarrow=={PYARROW_VERSION}"], env=env, capture_output=True, timeout=600)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        return None
    try:
        staging.rename(target)
    except OSError:  # installed meanwhile by another run
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def hf_env(path: str) -> dict[str, str]:
    """The environment of a subprocess that can import pyarrow from ``path`` (and this checkout)."""
    extra = [p for p in (path, str(REPO)) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(extra + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


_HF_WRITER = r'''
import io, json, sys
from pathlib import Path
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

kind, root, splits = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
features = {"image": {"_type": "Image"}, "label": {"names": ["cat", "dog"], "_type": "ClassLabel"},
            "note": {"dtype": "string", "_type": "Value"}}
meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                    ("label", pa.int64()), ("note", pa.string())], metadata=meta)

def png(seed):
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).resize((32, 32), Image.NEAREST)
    buf = io.BytesIO(); img.save(buf, format="PNG"); return buf.getvalue()

def table(seeds, labels):
    return pa.table({"image": [{"bytes": png(s), "path": f"pic{s}.png"} for s in seeds],
                     "label": labels, "note": ["n%d" % (s % 2) for s in seeds]}, schema=schema)

def save(folder, t, split):
    folder.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, t.schema) as writer:
            writer.write_table(t)
    info = {"citation": "", "description": "", "features": features, "homepage": "", "license": ""}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=2))
    state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "f" * 16,
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
             "_split": split}
    (folder / "state.json").write_text(json.dumps(state, indent=2))

tables = {s: table(v["seeds"], v["labels"]) for s, v in splits.items()}
if kind == "dict":
    for s, t in tables.items():
        save(root / s, t, s)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": list(tables)}))
elif kind == "single":
    (s, t), = tables.items()
    save(root, t, None)
elif kind == "parquet":
    for s, t in tables.items():
        (root / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(t, str(root / "data" / f"{s}-00000-of-00001.parquet"))
'''

#: Two splits; seed 7 appears in both, so the images are an exact cross-split copy.
HF_SPLITS = {"train": {"seeds": [1, 2, 3, 7], "labels": [0, 1, 0, 1]},
             "validation": {"seeds": [7, 9], "labels": [1, 0]}}


def write_hf(kind: str, root: Path, deps: str, splits: dict | None = None) -> Path:
    """Write a Hugging Face layout (``dict``, ``single`` or ``parquet``) at ``root`` with pyarrow from ``deps``."""
    splits = splits or (HF_SPLITS if kind != "single" else {"train": HF_SPLITS["train"]})
    subprocess.run([sys.executable, "-c", _HF_WRITER, kind, str(root), json.dumps(splits)], env=hf_env(deps),
                   check=True, capture_output=True, timeout=120)
    return root


_CLI = "import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))"


def run_cli_with_pyarrow(deps: str, *argv: str | Path) -> subprocess.CompletedProcess:
    """``workbench ARGV`` in a subprocess that can import pyarrow (same database and cache as the tests)."""
    return subprocess.run([sys.executable, "-c", _CLI, *map(str, argv)], env=hf_env(deps), capture_output=True,
                          text=True, timeout=300)
