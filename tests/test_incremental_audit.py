"""Re-auditing a dataset after adding images embeds only those and updates the stored k-NN graph."""

import numpy as np
from PIL import Image, ImageEnhance

import workbench
from workbench.config import AuditConfig, EmbedderConfig


def _leak_pairs(result):
    return sorted(tuple(sorted((p.filepath_a, p.filepath_b))) for p in result.leakage.pairs)


def _clusters(result):
    return sorted(tuple(sorted(c.filepaths)) for c in result.duplicates.clusters)


def test_reaudit_embeds_only_new_images_and_updates_the_graph(imagefolder, unique_name, tmp_path):
    cfg = AuditConfig(embedder=EmbedderConfig(name="efficientnet-lite0", cache_dir=str(tmp_path / "cache")))
    dataset = workbench.load(imagefolder, name=unique_name)
    first = workbench.run_audit(dataset, cfg, progress=False)
    assert first.neighbors.mode == "built" and first.neighbors.n_rows == first.n_samples
    workbench.write_back(dataset, first)

    # A brightened copy of a training image lands in the test split: a new near-duplicate leak.
    src = imagefolder / "train" / "dog" / "train-dog-6.png"
    with Image.open(src) as img:
        ImageEnhance.Brightness(img.convert("RGB")).enhance(1.08).save(imagefolder / "test" / "dog" / "new.png")
    dataset = workbench.load(imagefolder, name=unique_name)
    second = workbench.run_audit(dataset, cfg, progress=False)
    assert second.embedding.n_computed == 1 and second.embedding.n_cached == first.n_samples
    nb = second.neighbors
    assert nb.mode == "updated" and nb.n_new == 1 and nb.n_reused + nb.n_recomputed == first.n_samples
    new_path = str(imagefolder / "test" / "dog" / "new.png")
    assert any(new_path in pair for pair in _leak_pairs(second))

    # Write-back keeps the stored vectors of the same model and writes only the new one.
    written = {}
    real_set_values = type(dataset).set_values

    def spy(self, field, values, *args, **kwargs):
        written[field] = len(values)
        return real_set_values(self, field, values, *args, **kwargs)

    type(dataset).set_values = spy
    try:
        workbench.write_back(dataset, second)
    finally:
        type(dataset).set_values = real_set_values
    assert written["wb_embedding"] == 1
    assert len(dataset.exists("wb_embedding")) == second.n_samples
    assert dataset[new_path]["wb_embedding"] is not None

    # The same findings as an audit that rebuilds the graph from scratch.
    rebuilt = workbench.run_audit(dataset, cfg.replace(incremental=False), progress=False)
    assert rebuilt.neighbors.mode == "built"
    assert _leak_pairs(second) == _leak_pairs(rebuilt) and _clusters(second) == _clusters(rebuilt)
    a, b = second.artifacts, rebuilt.artifacts
    np.testing.assert_allclose(a.neighbor_distances, b.neighbor_distances, atol=1e-5)
