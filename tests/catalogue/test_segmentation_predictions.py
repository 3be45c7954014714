"""Bad-input catalogue: per-pixel probabilities (``--predictions FOLDER`` of ``.npy``) on a segmentation dataset.

Each case states its expected outcome (a :class:`~workbench.errors.PredictionsError` with a phrase of its
message, or a run) and runs inside ``untouched``: neither the dataset folder nor a folder outside it may
change. A bad file never falls back to anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.catalogue.harness import untouched
from tests.checks.segmentation_fixtures import planted_segmentation


def _remove(probs: Path) -> Path:
    (probs / "img3.npy").unlink()
    return probs


def _rewrite(array: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], Path]:
    def build(probs: Path) -> Path:
        np.save(probs / "img1.npy", array(np.load(probs / "img1.npy")))
        return probs
    return build


def _outside(probs: Path) -> Path:
    elsewhere = probs.parent.parent / "elsewhere"
    probs.rename(elsewhere)
    return elsewhere


def _linked_file(probs: Path) -> Path:
    elsewhere = probs.parent.parent / "elsewhere"
    elsewhere.mkdir()
    (probs / "img1.npy").rename(elsewhere / "img1.npy")
    (probs / "img1.npy").symlink_to(elsewhere / "img1.npy")
    return probs


def _not_npy(probs: Path) -> Path:
    (probs / "img1.npy").write_bytes(b"\x89PNG\r\n")
    return probs


def _extra_file(probs: Path) -> Path:
    np.save(probs / "not-an-image.npy", np.zeros((3, 32, 32), dtype=np.float32))
    return probs


def _nan(p):
    p = p.copy()
    p[0, 3, 3] = np.nan
    return p


def _logits(p):
    return (p * 10 - 5).astype(np.float32)


def _unnormalised(p):
    return (p * 0.5).astype(np.float32)


# (case, how to spoil the probabilities folder (returns what --predictions names), expected phrase; None: runs)
CASES = [
    ("missing folder", lambda probs: probs.parent / "no-such-folder", "does not exist; a segmentation dataset takes"),
    ("a single file, not a folder", lambda probs: probs / "img0.npy", "is a file; a segmentation dataset takes"),
    ("missing file for an image", _remove, "has no img3.npy for the image"),
    ("wrong shape", _rewrite(lambda p: p[:, :16]), "shape (3, 16, 32) does not match the mask (32x32) with 3 classes"),
    ("wrong number of classes", _rewrite(lambda p: p[:2]), "2 class channels, but the dataset's mask_targets name 3"),
    ("NaN", _rewrite(_nan), "holds NaN or infinite values"),
    ("logits", _rewrite(_logits), "these look like logits: apply a softmax"),
    ("not summing to 1", _rewrite(_unnormalised), "sums to 0.5 over the classes, not 1"),
    ("integers", _rewrite(lambda p: (p > 0.5).astype(np.int64)), "dtype int64 is not floating point"),
    ("not an .npy", _not_npy, "not a NumPy .npy array"),
    ("folder outside the dataset root", _outside, "resolves outside the dataset folder"),
    ("file linked outside the dataset root", _linked_file, "resolves outside the dataset folder"),
    ("a file naming no image is ignored", _extra_file, None),
]


@pytest.mark.parametrize("case, spoil, phrase", CASES, ids=[c[0] for c in CASES])
def test_bad_segmentation_predictions_are_input_errors(tmp_path: Path, unique_name: str, case, spoil, phrase):
    import workbench
    from workbench.errors import PredictionsError

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    spec = spoil(planted.probs)
    outside = tmp_path / "elsewhere"
    cfg = workbench.AuditConfig(embedder="none", predictions=str(spec))
    with untouched(planted.root, outside):
        if phrase is None:
            result = workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")
            assert result.check("object_labels").state == "ran"
            return
        with pytest.raises(PredictionsError) as err:
            workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")
    assert phrase in str(err.value), str(err.value)


def test_outside_the_root_is_read_when_allowed_and_needs_mask_targets(tmp_path: Path, unique_name: str):
    """``allow_outside_root`` reads a folder outside the dataset; without mask_targets there is no channel order."""
    import workbench
    from workbench.errors import PredictionsError

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    elsewhere = _outside(planted.probs)
    cfg = workbench.AuditConfig(embedder="none", predictions=str(elsewhere), allow_outside_root=True)
    with untouched(planted.root, elsewhere):
        result = workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")
    assert [Path(i.filepath).stem for i in result.findings["object_labels"].issues] == ["img2"]
    planted.dataset.default_mask_targets = {}
    planted.dataset.save()
    with untouched(planted.root, elsewhere), pytest.raises(PredictionsError, match="need the dataset's integer "
                                                                                    "mask_targets"):
        workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")


def test_through_the_cli_a_bad_folder_is_exit_2_and_a_good_one_is_exported(tmp_path: Path, unique_name: str):
    """The CLI on the dataset by name: a missing ``.npy`` is one line on stderr and exit 2, no JSON written;
    the whole folder runs and exports the flagged region."""
    import json

    from tests.catalogue.harness import run_cli

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    out_json = tmp_path / "a.json"
    fast = ("--embedder", "none", "--no-write-back", "--quiet", "--json", out_json)
    with untouched(planted.root):
        good = run_cli("audit", unique_name, *fast, "--predictions", planted.probs)
    assert good.code == 0, good.text[-2000:]
    doc = json.loads(out_json.read_text())["object_label_issues"]
    assert doc["method"] == "segmentation" and [(Path(i["path"]).stem, i["label"], i["suggested_label"])
                                                for i in doc["issues"]] == [("img2", "road", "car")]
    out_json.unlink()
    _remove(planted.probs)
    with untouched(planted.root):
        bad = run_cli("audit", unique_name, *fast, "--predictions", planted.probs)
    assert bad.code == 2 and "has no img3.npy for the image" in bad.stderr and "Traceback" not in bad.text
    assert not out_json.exists()
