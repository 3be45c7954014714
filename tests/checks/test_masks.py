"""Segmentation masks: missing, empty and unnamed values are flagged in a real audit."""

from pathlib import Path

import numpy as np


def test_the_audit_flags_missing_empty_and_unnamed_masks(tmp_path: Path, unique_name: str):
    import fiftyone as fo

    import workbench
    from tests.conftest import write_image
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict

    good = np.zeros((16, 16), dtype=np.uint8)
    good[2:8, 2:8], good[9:14, 9:14] = 1, 2
    unnamed = good.copy()
    unnamed[0, 0] = 7
    masks = {"good": good, "empty": np.zeros((16, 16), dtype=np.uint8), "unnamed": unnamed, "missing": None}
    ds = fo.Dataset(unique_name)
    ds.default_mask_targets = {0: "background", 1: "road", 2: "car"}
    for n, (name, mask) in enumerate(masks.items()):
        path = write_image(tmp_path / f"{name}.png", n, size=16)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=None if mask is None else fo.Segmentation(mask=mask)))
    ds.save()
    result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False, label_field="ground_truth")
    found = {Path(p.filepath).stem: (p.kind, p.detail) for p in result.findings["masks"].problems}
    assert found == {"empty": ("empty", "empty"), "unnamed": ("unknown values", "unknown values: 7"),
                     "missing": ("missing", "missing")}
    assert result.findings["masks"].summary() == "3 of 4 masks: 1 empty, 1 unknown values, 1 missing"
    assert to_export_dict(result)["summary"]["mask_problems"] == 3
    assert evaluate_gates(result, parse_gates("mask-problems"))[0].failed
    assert 'id="masks"' in render_html(result)
    assert result.check("objects").state == "skipped"  # no boxes in a semantic segmentation set
