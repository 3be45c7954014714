"""Concept slices: dominated classes and tables (pure), the ImageNet head read from stored vectors against
the network's own output, zero-shot mechanics, prompt files, and the check in an audit."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.checks.concept_slices import concept_slices, find_dominated
from workbench.checks.concepts import ConceptOptions, read_prompt_file


def test_a_context_shared_by_every_class_dominates_none_of_them():
    labels = ["boat"] * 30 + ["car"] * 30
    outdoors = ["outdoors"] * 58 + ["indoors"] * 2  # the whole dataset is outdoors: no class stands out
    water = ["water"] * 28 + ["road"] * 2 + ["road"] * 25 + ["water"] * 5  # cars 83% road: not dominated
    tables, dominated = find_dominated(labels, {"setting": outdoors, "background": water})
    assert [(d.label, d.attribute, d.level) for d in dominated] == [("boat", "background", "water")]
    assert tables[0].attribute == "background" and tables[0].cramers_v > 0.7 > tables[1].cramers_v
    small = find_dominated(labels[:25] + ["car"] * 5, {"background": water[:25] + ["road"] * 5},
                           min_class_size=30)[1]
    assert small == []  # 25 boats < min_class_size


def test_the_rare_concepts_level_never_dominates_and_examples_are_most_confident_first():
    labels = ["a"] * 20 + ["b"] * 20
    levels = ["(rare)"] * 19 + ["x"] + ["y"] * 20
    conf = list(np.linspace(0.1, 0.9, 40))
    r = concept_slices([f"s{i}" for i in range(40)], [f"/d/{i}.png" for i in range(40)], labels, {"c": levels},
                       {"c": conf}, {}, source="test", note="", skip_level="(rare)", max_examples=3)
    assert [(d.label, d.level) for d in r.dominated] == [("b", "y")]
    assert [e.sample_id for e in r.examples] == ["s39", "s38", "s37"]
    assert r.n_findings == 1 and r.finding_rows()[0].about == ("b", "c", "y")
    assert "100% of 'b' images: c = y" in r.summary()
    doc = json.loads(json.dumps(r.to_export()))
    assert doc["concept_slices"]["dominated"][0]["share"] == 1.0


def test_imagenet_concepts_from_stored_vectors_rank_as_the_network_does():
    import torch
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    from workbench.embeddings.backends import efficientnet_lite0_network
    from workbench.embeddings.concepts import imagenet_concepts

    files = sorted(glob.glob("/usr/share/backgrounds/**/*.jpg", recursive=True)
                   + glob.glob("/usr/share/wallpapers/**/*.jpg", recursive=True))[:16]
    if len(files) < 8:
        pytest.skip("Debian's gnome-backgrounds / plasma-workspace-wallpapers are not installed")
    net = efficientnet_lite0_network().eval()
    tf = create_transform(**resolve_data_config({}, model=net))
    x = torch.stack([tf(Image.open(f).convert("RGB")) for f in files])
    with torch.no_grad():
        raw = net.forward_head(net.forward_features(x), pre_logits=True)
        truth = net.classifier(raw).topk(3).indices.numpy()
    vectors = torch.nn.functional.normalize(raw, dim=-1).numpy()  # what the audit stores
    idx, probs, names = imagenet_concepts(vectors, 3)
    assert (idx[:, 0] == truth[:, 0]).mean() >= 15 / 16
    assert np.mean([len(set(a) & set(b)) / 3 for a, b in zip(idx, truth)]) >= 0.9
    assert len(names) == 1000 and names[510] == "container ship"
    assert (np.diff(probs, axis=1) <= 0).all() and (probs <= 1).all()
    with pytest.raises(ValueError, match="1280 values"):
        imagenet_concepts(np.zeros((2, 512), np.float32))


def test_zero_shot_mechanics_with_untrained_clip_code_paths_only():
    import open_clip
    import torch

    from workbench.embeddings.concepts import text_vectors, zero_shot

    model = open_clip.create_model("ViT-B-32", pretrained=None)  # random weights: shapes, not meaning
    t = text_vectors(model, open_clip.get_tokenizer("ViT-B-32"), ["a photo of a cat", "a photo of a dog"], torch)
    assert t.shape == (2, 512) and np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    p = zero_shot(np.r_[t[1:], t[:1]], t)  # each image vector equal to one prompt picks that prompt
    assert p.argmax(1).tolist() == [1, 0] and np.allclose(p.sum(1), 1)


def test_prompt_files_read_lists_maps_and_yaml(tmp_path: Path):
    (tmp_path / "p.json").write_text(json.dumps({"terrain": ["snow", "sand"], "light": {"dim": "a dim photo",
                                                                                     "bright": "a bright photo"}}))
    (tmp_path / "p.yaml").write_text("terrain:\n  - snow\n  - sand\n")
    assert read_prompt_file(str(tmp_path / "p.json"))["terrain"] == {"snow": "a photo of snow", "sand": "a photo of sand"}
    assert read_prompt_file(str(tmp_path / "p.yaml")) == {"terrain": {"snow": "a photo of snow", "sand": "a photo of sand"}}
    groups = ConceptOptions(prompts=str(tmp_path / "p.yaml")).groups()
    assert "setting" in groups and "terrain" in groups
    assert list(ConceptOptions(prompts=str(tmp_path / "p.yaml"), defaults=False).groups()) == ["terrain"]


def _pasted(wall, item):
    base = wall.copy()
    base.paste(item.convert("RGB").resize((40, 40)), (8, 8))
    return base


def test_concepts_in_an_audit_with_the_offline_model(tmp_path: Path, unique_name: str):
    """Fashion-MNIST bags pasted on wallpapers: class 'first' always on one wallpaper, class 'second' on ten
    others. The one wallpaper is the first whose pasted images the network names alike (a context it
    recognises); the audit must find 'first' dominated by that concept, and nothing else."""
    import torch
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    import workbench
    from workbench.config import AuditConfig, EmbedderConfig
    from workbench.embeddings.backends import efficientnet_lite0_network
    from workbench.embeddings.concepts import imagenet_concepts

    from benchmarks.bench_concepts import wallpapers  # one picture per Debian wallpaper folder

    walls = wallpapers()
    items = sorted(glob.glob(str(Path(workbench.__file__).parents[1] / "data/demo/fashion-mnist/train/Bag/train-*.png")))
    if len(walls) < 12 or len(items) < 40:
        pytest.skip("wallpapers or the demo are missing")
    bags = [Image.open(f) for f in items[:40]]
    net = efficientnet_lite0_network().eval()
    tf = create_transform(**resolve_data_config({}, model=net))
    chosen = None
    for w in walls:
        wall = Image.open(w).convert("RGB").resize((224, 224))
        with torch.no_grad():
            raw = net.forward_head(net.forward_features(torch.stack([tf(_pasted(wall, b)) for b in bags[:6]])),
                                   pre_logits=True)
        idx, _, names = imagenet_concepts(torch.nn.functional.normalize(raw, dim=-1).numpy(), 1)
        if len({names[i[0]] for i in idx}) == 1:
            chosen, concept = w, names[idx[0, 0]]
            break
    assert chosen is not None, "no wallpaper gives one concept"
    others = [Image.open(w).convert("RGB").resize((224, 224)) for w in walls if w != chosen][:10]
    wall = Image.open(chosen).convert("RGB").resize((224, 224))
    for i, bag in enumerate(bags):
        label, base = ("first", wall) if i < 20 else ("second", others[i % 10])
        (tmp_path / "d" / label).mkdir(parents=True, exist_ok=True)
        _pasted(base, bag).save(tmp_path / "d" / label / f"{i}.png")
    cfg = AuditConfig(embedder=EmbedderConfig(name="efficientnet-lite0"),
                      check_options={"concept_slices": {"min_class_size": 10}})
    result = workbench.audit(tmp_path / "d", cfg, name=unique_name, progress=False)
    r = result.findings["concept_slices"]
    assert r.source.startswith("imagenet") and "offline fallback" in r.note
    # the audit's own preprocessing (not timm's crop) may name the wallpaper differently: one concept, not which
    assert [d.label for d in r.dominated] == ["first"] and r.dominated[0].share >= 0.9, (concept, r.dominated)
    from workbench.render.html_report import render_html

    html = render_html(result)
    section = html[html.index('id="concept-slices"'):]
    section = section[:section.index("</section>")]
    assert "imagenet concept × class" in section and "Dominated classes" in section
    assert f'<span class="tag bad">{r.dominated[0].level}</span>' in section  # the level, in the table
    ds = workbench.load(unique_name)
    assert len(ds.match_tags("wb:dominated_context")) == len(r.examples) >= 18
    assert len(ds.first()["wb_concepts"]) == 3


def test_an_audit_where_no_class_can_be_judged_skips_with_the_reason():
    from workbench.checks.concepts import _judgeable
    from workbench.errors import CheckNotApplicable

    with pytest.raises(CheckNotApplicable, match="hold 1"):
        _judgeable(["a"] * 30, {"c": ["x"] * 30}, 20)
    with pytest.raises(CheckNotApplicable, match="no class has 50 images with a concept"):
        _judgeable(["a"] * 30 + ["b"] * 30, {"c": ["x"] * 60}, 50)
    _judgeable(["a"] * 30 + ["b"] * 30, {"c": ["x"] * 60}, 20)  # judgeable: no error
