"""The perceptual-hash tier links near-exact copies without any model."""

from PIL import Image, ImageEnhance

import workbench
from workbench.checks.duplicates import duplicate_edges, perceptual_pairs
from workbench.config import AuditConfig, EmbedderConfig
from workbench.io.files import inspect_file


def test_pairs_match_brute_force():
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 200, dtype=np.int64).astype(np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, 200).astype(np.uint64)
    values = np.r_[base, base[:50] ^ flips[:50], base[:20]]  # 50 one-bit copies, 20 identical copies
    hexes = [f"{int(v):016x}" for v in values]
    got = {(i, j) for i, j, _ in perceptual_pairs(hexes, 2)}
    bits = np.unpackbits((values[:, None] ^ values[None, :]).view(np.uint8).reshape(len(values), len(values), 8),
                         axis=2).sum(axis=2)
    expect = {(i, j) for i in range(len(values)) for j in range(i + 1, len(values)) if bits[i, j] <= 2}
    # identical hashes are linked as stars through the first row, so compare connectivity
    assert got <= expect
    assert {(i, 200 + i) for i in range(50)} <= got
    assert {(i, 250 + i) for i in range(20)} <= got


def test_only_images_without_embeddings_use_the_tier(tmp_path):
    from tests.conftest import write_image

    a = write_image(tmp_path / "a.png", 1, size=64)
    with Image.open(a) as img:
        ImageEnhance.Brightness(img.convert("RGB")).enhance(1.05).save(tmp_path / "b.png")
    write_image(tmp_path / "c.png", 2, size=64)
    facts = [inspect_file(str(tmp_path / n)) for n in ("a.png", "b.png", "c.png")]
    phashes = [f.phash for f in facts]
    hashes = [f.sha256 for f in facts]
    edges = duplicate_edges(hashes, None, None, 0.05, phashes=phashes).edges
    assert [(e.a, e.b, e.evidence) for e in edges] == [(0, 1, "phash")]  # no embeddings: the hash alone
    assert 0 <= edges[0].distance <= 2 / 64


def test_audit_without_a_model_finds_exact_and_near_exact_copies(imagefolder, unique_name):
    src = imagefolder / "train" / "dog" / "train-dog-7.png"
    with Image.open(src) as img:
        img.convert("RGB").save(imagefolder / "test" / "dog" / "resaved.jpg", quality=95)
    cfg = AuditConfig(embedder=EmbedderConfig(name="none"))
    result = workbench.run_audit(workbench.load(imagefolder, name=unique_name), cfg, progress=False)
    assert result.embedding is None
    assert next(c for c in result.checks if c.name == "embeddings").state == "skipped"
    leaks = {(p.kind, p.filepath_b.rsplit("/", 1)[-1]) for p in result.leakage.pairs}
    assert ("exact", "copied.png") in leaks and ("near", "resaved.jpg") in leaks
    assert next(c for c in result.checks if c.name == "label_issues").state == "skipped"
