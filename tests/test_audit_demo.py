"""End to end on the shipped demo data: every planted issue is found, nothing is modified.

Runs the real stack: FiftyOne's embedded database, the auto embedder (which falls back to the
shipped EfficientNet-Lite0 here, since CLIP weights can't be downloaded), scikit-learn and cleanlab.
"""

import json

import pytest

from tests.conftest import DEMO, MANIFEST, tree_digest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    import fiftyone as fo

    import workbench
    from workbench.config import AuditConfig

    before = tree_digest(DEMO)
    name = "t-demo-audit"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = workbench.load(DEMO, name=name)
    result = workbench.audit(dataset, AuditConfig(), progress=False)
    yield dataset, result, before
    fo.delete_dataset(name)


@pytest.fixture(scope="module")
def planted():
    return json.loads(MANIFEST.read_text())


def _abs(rel):
    return str(DEMO / rel)


def test_user_files_untouched(demo_run):
    _, _, before = demo_run
    assert tree_digest(DEMO) == before


def test_fallback_is_recorded(demo_run):
    _, result, _ = demo_run
    emb = result.embedding
    assert emb.requested == "auto" and emb.backend == "efficientnet-lite0" and emb.trained
    assert "CLIP unavailable" in emb.fallback_reason


def test_every_exact_duplicate_found(demo_run, planted):
    _, result, _ = demo_run
    clusters = [set(c.filepaths) for c in result.duplicates.clusters]
    for group in planted["exact_duplicates"]:
        members = {_abs(group["original"]), *map(_abs, group["copies"])}
        assert any(members <= c for c in clusters), group


def test_every_near_duplicate_found(demo_run, planted):
    _, result, _ = demo_run
    clusters = [set(c.filepaths) for c in result.duplicates.clusters]
    for pair in planted["near_duplicates"]:
        assert any({_abs(pair["original"]), _abs(pair["copy"])} <= c for c in clusters), pair


def test_every_leak_found_with_label_conflicts(demo_run, planted):
    _, result, _ = demo_run
    found = {frozenset((p.filepath_a, p.filepath_b)): p for p in result.leakage.pairs}
    for leak in planted["leaks"]:
        pair = found.get(frozenset((_abs(leak["train"]), _abs(leak["test"]))))
        assert pair is not None, leak
        assert (pair.split_a, pair.split_b) == ("train", "test")
        assert pair.label_conflict == leak["label_conflict"]
        assert pair.kind == leak["kind"]
    loose = result.duplicates.calibration.loose  # no pair beyond the loose threshold, each with its evidence
    assert all(p.distance <= loose and p.evidence for p in result.leakage.pairs)


def test_flipped_labels_flagged(demo_run, planted):
    _, result, _ = demo_run
    flagged = {i.filepath: i for i in result.label_issues.issues}
    flips = planted["flipped_labels"]
    hits = [f for f in flips if _abs(f["path"]) in flagged]
    assert len(hits) >= 0.8 * len(flips), f"{len(hits)}/{len(flips)} flipped labels flagged"
    suggested_right = sum(flagged[_abs(f["path"])].suggested_label == f["true_label"] for f in hits)
    assert suggested_right >= 0.7 * len(hits)
    # Neighbour votes from the shared k-NN graph back the suggestion on the planted flips.
    votes = [flagged[_abs(f["path"])] for f in hits]
    assert all(v.neighbors == result.neighbors.k for v in votes)
    assert sum(v.neighbors_suggested > v.neighbors_given for v in votes) >= 0.7 * len(votes)


def test_rare_class_and_bad_files(demo_run, planted):
    _, result, _ = demo_run
    assert result.balance.below_ratio == (planted["rare_class"]["label"],)
    assert result.balance.counts["train"][planted["rare_class"]["label"]] == planted["rare_class"]["train"]
    bad = {p.filepath: p.kind for p in result.integrity.problems}
    assert bad == {_abs(b["path"]): "unreadable" for b in planted["bad_files"]}
    not_run = {c.name: c.reason for c in result.checks if c.state != "ran"}  # a classification set: no boxes, masks
    assert not_run == {"objects": "needs object boxes (a Detections or Polylines field)",
                       "object_labels": "needs object boxes (a Detections or Polylines field)",
                       "masks": "needs segmentation masks (a Segmentation field)",
                       "agreement": "needs two or more annotator fields (--annotators ann_a,ann_b)",
                       "selection": "runs when asked for a batch: `workbench select --budget N` (or "
                                    "--check-option selection.budget=N)"}, result.checks


def test_write_back_fields_tags_views_and_run_record(demo_run, planted):
    dataset, result, _ = demo_run
    assert set(dataset.list_saved_views()) >= {"wb-duplicates", "wb-leaks", "wb-label-issues", "wb-file-problems"}
    leaks = dataset.load_saved_view("wb-leaks")
    assert len(leaks) == len(result.leakage.leaked_ids)
    assert len(dataset.match_tags("wb:label_issue")) == len(result.label_issues.issues)
    flip = dataset[_abs(planted["flipped_labels"][0]["path"])]
    assert flip["wb_label_score"] is not None
    issue = result.label_issues.issues[0]
    suggestion = dataset[issue.sample_id]["wb_suggested_label"]
    assert suggestion.label == issue.suggested_label and suggestion["neighbors_given"] == issue.neighbors_given
    assert len(dataset.exists("wb_embedding")) == result.n_samples - 2  # all but the two unreadable files
    run = dataset.info["workbench"]["runs"][-1]
    assert run["counts"] == result.counts() and run["embedding_fallback"]
    assert "cleanlab" in run["versions"] and "fiftyone" in run["versions"]


def test_reaudit_uses_cache_and_keeps_reviews(demo_run):
    import workbench

    dataset, result, _ = demo_run
    sample = dataset.match_tags("wb:label_issue").first()
    sample.tags.append("wb:reviewed:not_error")
    sample.save()
    again = workbench.audit(dataset, progress=False)
    assert again.embedding.n_computed == 0 and again.embedding.n_cached == result.embedding.n_cached + \
        result.embedding.n_computed
    assert again.counts() == result.counts()
    assert "wb:reviewed:not_error" in dataset[sample.id].tags
    assert len(dataset.info["workbench"]["runs"]) == 2


def test_result_round_trips_through_json(demo_run, tmp_path):
    from workbench.results import AuditResult

    _, result, _ = demo_run
    path = tmp_path / "result.json"
    result.to_json(path)
    back = AuditResult.from_json(path)
    assert back == result  # artifacts are in-memory only and excluded from equality
    assert back.leakage.pairs[0].label_conflict in (True, False)


def test_json_export_schema(demo_run, planted):
    from workbench.render.json_export import to_export_dict

    _, result, _ = demo_run
    doc = json.loads(json.dumps(to_export_dict(result)))
    assert doc["embedding_model"]["id"] == result.embedding.model_id
    assert {"path_a", "split_a", "label_a", "path_b", "split_b", "label_b"} <= set(doc["leaks"][0])
    assert {"path", "given_label", "suggested_label", "score", "neighbors"} <= set(doc["label_issues"][0])
    first = result.label_issues.issues[0]
    assert doc["label_issues"][0]["neighbors"] == {"counted": first.neighbors, "given_label": first.neighbors_given,
                                                    "suggested_label": first.neighbors_suggested}
    assert all(p.startswith("/") for c in doc["duplicates"] for p in c["paths"])
    assert doc["class_counts"]["test"]["Ankle_boot"] == planted["rare_class"]["test"]


@pytest.mark.browser
def test_demo_report_renders_in_chromium(demo_run, tmp_path):
    from tests.browser import assert_clean_load, open_in_chromium
    from workbench.render.html_report import render_html

    _, result, _ = demo_run
    path = tmp_path / "report.html"
    render_html(result, path)
    assert path.stat().st_size < 10 * 1024 * 1024
    found = open_in_chromium(path, "demo")
    assert_clean_load(found)
    assert found["model_visible"] and found["model_text"] == result.embedding.model_id


def test_refilter_from_cached_graph_matches_the_audit(demo_run):
    from workbench.checks.duplicates import refilter

    _, result, _ = demo_run
    cal = result.duplicates.calibration
    dups, leaks = refilter(result.artifacts, cal.rule(), calibration=cal)
    assert dups == result.duplicates and leaks == result.leakage
    tight, tight_leaks = refilter(result.artifacts, 0.0)
    assert all(c.max_distance == 0.0 for c in tight.clusters)
    assert len(tight.clusters) < len(result.duplicates.clusters) and len(tight_leaks.pairs) < len(result.leakage.pairs)
    loose, _ = refilter(result.artifacts, 0.2)
    assert loose.n_redundant > result.duplicates.n_redundant


def test_proposed_split_repairs_every_demo_leak(demo_run, planted):
    """The audit's own proposal (repair: the demo has a split): every planted leak pair ends up in one split,
    nothing else moves, the class mix stays within ±5%, and the field is written beside the user's split."""
    dataset, result, _ = demo_run
    p = result.findings["split_proposal"]
    assert p.mode == "repair" and p.current.crossing_links == len(result.leakage.pairs) > 0
    assert p.proposed.crossing_links == 0 and p.proposed.split_groups == 0 and p.within_tolerance
    by_path = dict(zip(dataset.values("filepath"), dataset.values("id")))
    for leak in planted["leaks"]:
        assert p.assignment[by_path[_abs(leak["train"])]] == p.assignment[by_path[_abs(leak["test"])]], leak
    assert 0 < p.moved <= 2 * len(result.leakage.pairs)
    assert dict(zip(dataset.values("id"), dataset.values("wb_proposed_split"))) == p.assignment


def test_fresh_resplit_of_the_demo_has_zero_leakage_and_ratios_within_tolerance(demo_run, tmp_path):
    """`workbench resplit` with a group field, then a real re-audit on the proposed field: no leak, every
    session in one split, every class of 40+ images within ±5% of each split's ratio; no file changed."""
    import csv

    import workbench
    from tests.catalogue.harness import run_cli

    dataset, _, before = demo_run
    ids = dataset.values("id")
    dataset.set_values("session", {sid: f"s{k // 4}" for k, sid in enumerate(ids)}, key_field="id")
    try:
        out = run_cli("resplit", dataset.name, "--mode", "fresh", "--ratios", "train=0.7,val=0.15,test=0.15",
                      "--group-by", "session", "--field", "clean_split", "--manifest", tmp_path / "split.csv",
                      "--quiet")
        assert out.code == 0 and "proposed: 0" in out.stdout, out.text[-3000:]
        rows = list(csv.DictReader((tmp_path / "split.csv").open()))
        sessions = dict(zip(ids, dataset.values("session")))
        spread = {}
        for r in rows:
            spread.setdefault(sessions[r["sample_id"]], set()).add(r["proposed_split"])
        assert all(len(v) == 1 for v in spread.values())
        again = workbench.audit(dataset, split_field="clean_split", write_back=False, progress=False)
        assert again.leakage.pairs == ()
        current = again.findings["split_proposal"].current
        assert {s.name: s.share for s in current.sides} == pytest.approx({"train": 0.7, "val": 0.15, "test": 0.15},
                                                                         abs=0.015)  # groups of 4 images
        assert current.worst <= 0.05
    finally:
        for field in ("session", "clean_split"):
            if dataset.has_sample_field(field):
                dataset.delete_sample_field(field)
    assert tree_digest(DEMO) == before


def test_drift_finds_no_split_drift_and_names_the_weak_regions(demo_run, planted):
    """The demo's train and test are one random draw of Fashion-MNIST: no (split, class) drifts, the rare
    class is said to be too small; the weak regions are the upper-body garments the probe confuses, each a
    named slice in the App (field, tag, view) and in the JSON."""
    from workbench.render.json_export import to_export_dict

    dataset, result, _ = demo_run
    drift = result.findings["drift"]
    (split,) = drift.splits
    assert (split.split, split.against) == ("test", "train") and not drift.flagged and not drift.examples
    assert abs(split.auc - split.baseline_mean) < 0.05
    rare = next(c for c in split.classes if c.label == planted["rare_class"]["label"])
    assert rare.too_small and rare.n_split == planted["rare_class"]["test"]
    assert drift.regions and [r.name for r in drift.regions] == [f"wb-weak-{k}" for k in
                                                                   range(1, len(drift.regions) + 1)]
    for region in drift.regions:
        assert region.accuracy <= drift.overall_accuracy - 0.1 and region.n >= 20
        assert {lab for lab, _ in region.labels[:2]} & {"Shirt", "T-shirt_top", "Pullover", "Coat"}
    assert dict(zip(dataset.values("id"), dataset.values("wb_weak_region"))) == {
        **{sid: None for sid in dataset.values("id")}, **drift.region_of()}
    assert len(dataset.load_saved_view("wb-weak-regions")) == sum(r.n for r in drift.regions)
    for r in drift.regions:  # one saved view per named slice
        assert set(dataset.load_saved_view(r.name).values("id")) == set(r.sample_ids)
    assert "wb-drift" in dataset.list_saved_views() and len(dataset.match_tags("wb:drift")) == 0
    doc = json.loads(json.dumps(to_export_dict(result)))
    assert [r["name"] for r in doc["drift"]["weak_regions"]] == [r.name for r in drift.regions]
    from workbench.render.html_report import render_html

    html = render_html(result)
    section = html[html.index('<section id="drift">'):]
    section = section[:section.index("</section>")]
    assert "test against train" in section and all(r.name in section for r in drift.regions)
    assert "too small to test" in section and "Weak regions" in section
