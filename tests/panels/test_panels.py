"""Tests of the notebook panels (workbench.panels), headless: widgets are built and driven from Python.

Fast tests use synthetic :class:`AuditResult` objects (the HTML report tests' builders, one
of them with hostile strings) and a small synthetic neighbour graph. Slow tests run a real
audit (EfficientNet-Lite0, FiftyOne's database) on a 60-image subset of the demo data with
planted copies, leaks and a flipped label, and open a real FiftyOne App session
(``remote=True, auto=False``: a local server, no browser).

Widgets are found by type and by the CSS classes the panels add (``wb-cluster``,
``wb-leak-pair``, ``wb-issue-row``, ``wb-show-in-app``, ...).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from tests.conftest import DEMO
from tests.render.test_html_report import (
    ATTR_XSS,
    CLASS_XSS,
    DATASET_XSS,
    LEVEL_XSS,
    REASON_XSS,
    SPLIT_XSS,
    make_result,
)
from workbench.results import (
    AuditArtifacts,
    AuditResult,
    ClassErrorRate,
    DuplicateCluster,
    DuplicatesResult,
    LabelIssue,
    LabelIssuesResult,
)

#: The tabs of the checks with a panel of their own; every other registered check adds a generic tab after them.
TABS = ["Overview", "Duplicates & leakage", "Label issues", "Bias & imbalance"]
#: Hostile strings of the synthetic result that the panels show (as text, escaped).
SHOWN_HOSTILE = (CLASS_XSS, DATASET_XSS, SPLIT_XSS, ATTR_XSS, REASON_XSS)


# --------------------------------------------------------------------------- widget helpers


def walk(widget: Any) -> Iterator[Any]:
    """The widget and all its descendants (Box / Tab children), depth first."""
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from walk(child)


def find(widget: Any, kind: type | None = None, css: str | None = None) -> list[Any]:
    return [w for w in walk(widget) if (kind is None or isinstance(w, kind))
            and (css is None or css in getattr(w, "_dom_classes", ()))]


def html_text(widget: Any) -> str:
    import ipywidgets as w

    return "\n".join(x.value for x in find(widget, w.HTML))


def button(widget: Any, description: str) -> Any:
    import ipywidgets as w

    found = [b for b in find(widget, w.Button) if b.description == description]
    assert found, f"no button {description!r}"
    return found[0]


def card_values(widget: Any) -> dict[str, str]:
    """``{card title: value}`` of the overview's summary cards."""
    text = html_text(widget)
    pattern = r"letter-spacing:0.04em\">([^<]*)</div><div class=\"wb-card-value\"[^>]*>([^<]*)</div>"
    return {title: value for title, value in re.findall(pattern, text)}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Markup()
    parser.feed(markup)
    parser.close()
    return parser.elements


def plotly_strings(widget: Any) -> str:
    """Everything the panel's plotly figures carry, as JSON text."""
    import plotly.graph_objects as go

    return json.dumps([fig.to_plotly_json() for fig in find(widget, go.FigureWidget)], default=str)


# --------------------------------------------------------------------------- synthetic results


@pytest.fixture
def clean(tmp_path: Path) -> AuditResult:
    return make_result(tmp_path / "images")


@pytest.fixture
def hostile(tmp_path: Path) -> AuditResult:
    return make_result(tmp_path / "images", hostile=True, fallback_reason=REASON_XSS)


def with_graph(result: AuditResult) -> AuditResult:
    """``result`` with a small real k-NN graph: an exact pair, a near pair at ~0.01 and one at ~0.08."""
    from workbench.checks.duplicates import duplicate_edges, find_duplicates
    from workbench.checks.leakage import find_leaks
    from workbench.checks.neighbors import knn_graph

    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 64))
    vectors = np.vstack([base[0], base[0] + 0.1 * rng.normal(size=64), base[1], base[1] + 0.4 * rng.normal(size=64),
                         base[2], base[3], base[4], base[4]])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    graph = knn_graph(vectors, k=4)
    ids = tuple(f"g{i}" for i in range(8))
    cols = (ids, tuple(f"/nowhere/g{i}.png" for i in range(8)),
            ("train", "test", "train", "train", "train", "test", "train", "test"),
            ("cat", "cat", "dog", "cat", "cat", "dog", "dog", "dog"))
    hashes = tuple(f"h{i}" for i in range(7)) + ("h6",)
    art = AuditArtifacts(*cols, hashes=hashes, embedded_rows=np.arange(8), vectors=vectors,
                         neighbor_indices=graph.indices, neighbor_distances=graph.distances)
    threshold = 0.05
    edges = duplicate_edges(hashes, graph, art.embedded_rows, threshold)
    dups = find_duplicates(*cols, hashes, edges, threshold=threshold)
    return result.replace(duplicates=dups, leakage=find_leaks(*cols, hashes, edges, dups), artifacts=art)


def many_issues(result: AuditResult, n: int) -> AuditResult:
    """``result`` with ``n`` label issues (files that don't exist) over 4 classes and 3 splits."""
    classes = ("cat", "dog", "bird", "fish")
    issues = tuple(LabelIssue(f"x{i}", f"/nowhere/{i}.png", ("train", "test", "val")[i % 3], classes[i % 4],
                              classes[(i + 1) % 4], round((n - i) / n, 6), 0.8) for i in range(n))
    li = LabelIssuesResult(method="cleanlab", classes=classes, issues=issues,
                           sample_ids=tuple(i.sample_id for i in issues), scores=tuple(i.score for i in issues),
                           suggested=tuple(i.suggested_label for i in issues),
                           per_class=tuple(ClassErrorRate(c, n, n // 4) for c in classes))
    return result.replace(label_issues=li)


def many_clusters(result: AuditResult, n: int) -> AuditResult:
    clusters = tuple(DuplicateCluster(i, "near" if i % 2 else "exact", (f"a{i}", f"b{i}"),
                                      (f"/nowhere/a{i}.png", f"/nowhere/b{i}.png"), ("train", "test"),
                                      ("cat", "dog" if i % 5 == 0 else "cat"), 0.01 * (i % 2)) for i in range(n))
    return result.replace(duplicates=DuplicatesResult(0.05, clusters, n_exact_pairs=n // 2,
                                                                   n_near_pairs=n - n // 2))


# --------------------------------------------------------------------------- show / overview


def test_import_is_light() -> None:
    code = ("import sys, workbench.panels; print(','.join(m for m in ('ipywidgets', 'plotly', 'fiftyone', 'PIL', "
            "'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_show_has_one_tab_per_registered_panel(clean: AuditResult) -> None:
    import ipywidgets as w

    import workbench

    from workbench.panels import tabs

    tab = workbench.show(clean)
    assert isinstance(tab, w.Tab)
    titles = [title for title, _, _ in tabs()]
    assert list(tab.titles) == titles and titles[:4] == TABS and len(tab.children) == len(titles) > 4
    own = {"Objects": "wb-objects"}  # checks past the first four with a panel of their own
    assert [c._dom_classes[0] for c in tab.children] == ["wb-overview", "wb-duplicates", "wb-label-issues", "wb-bias",
                                                        *[own.get(t, "wb-findings") for t in titles[4:]]]
    # checks that did not run in this result: their tabs say so (the generic panel reads the check's state)
    assert all("did not run" in child.children[0].value for child in tab.children[4:])


def test_overview_counts(clean: AuditResult) -> None:
    from workbench.panels import overview_panel

    reviewed = dataclasses.replace(clean, reviews={"s6": "confirmed", "s7": "not_error", "s8": "confirmed"})
    from workbench.checks.registry import registered_checks

    cards = card_values(overview_panel(reviewed))
    others = {spec.heading: "—" for spec in registered_checks()  # checks this result holds no result for
              if spec.count_key and spec.name not in clean.findings}
    assert cards == {"Samples": "1,310", "Classes": "4", "Splits": "3", "File problems": "2",
                     "Duplicate clusters": "3", "Leak pairs": "2", "Label issues": "6", "Imbalance ratio": "4.0%",
                     **others, "Reviewed": "3"} and others
    text = html_text(overview_panel(reviewed))
    assert "2 confirmed errors, 1 not errors" in text
    assert "open_clip/ViT-B-32:laion2b_s34b_b79k" in text
    assert "FALLBACK" not in text and "UNTRAINED" not in text
    assert "Every check ran." in text
    assert "embed" in text and "3.2 s" in text  # timings


@pytest.mark.parametrize(("reason", "trained", "expected"), [
    (None, True, set()),
    ("CLIP unavailable: hub unreachable", True, {"FALLBACK"}),
    (None, False, {"UNTRAINED"}),
    ("CLIP unavailable", False, {"FALLBACK", "UNTRAINED"}),
])
def test_overview_warns_about_the_embedding_model(tmp_path: Path, reason: str | None, trained: bool,
                                                  expected: set[str]) -> None:
    from workbench.panels import overview_panel

    text = html_text(overview_panel(make_result(tmp_path, fallback_reason=reason, trained=trained)))
    assert {w for w in ("FALLBACK", "UNTRAINED") if f"{w} embedding model." in text} == expected
    if reason:
        assert reason in text


def test_skipped_and_failed_checks_show_their_reasons(tmp_path: Path) -> None:
    from workbench.panels import duplicates_panel, label_issues_panel, overview_panel

    result = make_result(tmp_path, states={"label_issues": ("skipped", "no class labels on this dataset"),
                                           "duplicates": ("failed", "MemoryError: k-NN graph too large")})
    result = result.replace(label_issues=None, duplicates=None)
    overview = html_text(overview_panel(result))
    assert "2 of 6 checks did not run" in overview
    assert "no class labels on this dataset" in overview and "MemoryError: k-NN graph too large" in overview
    assert "Label issues: skipped." in html_text(label_issues_panel(result))
    dup_text = html_text(duplicates_panel(result))
    assert "Duplicates: failed." in dup_text and "k-NN graph too large" in dup_text


# --------------------------------------------------------------------------- escaping


def _set_every_filter(tab: Any) -> None:
    """Pick the hostile class and split in every dropdown that offers them (redraws with them)."""
    import ipywidgets as w

    for dropdown in find(tab, w.Dropdown):
        for value in (CLASS_XSS, SPLIT_XSS):
            if any(v == value for _, v in dropdown.options):
                dropdown.value = value


def test_hostile_strings_are_escaped_in_every_html_widget(hostile: AuditResult) -> None:
    import ipywidgets as w

    import workbench

    tab = workbench.show(hostile)
    seen = html_text(tab)
    _set_every_filter(tab)
    seen += html_text(tab)
    for raw in SHOWN_HOSTILE:
        assert raw not in seen, f"unescaped in an HTML widget: {raw!r}"
        assert raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in seen, f"not shown: {raw!r}"
    assert '"><img src=y' not in seen and "<script>alert" not in seen
    for html_widget in find(tab, w.HTML):
        for tag, attrs in elements(html_widget.value):
            assert tag in {"div", "span", "b", "br", "code", "h2", "h3", "h4", "p", "figure", "figcaption", "img",
                           "table", "thead", "tbody", "tr", "th", "td"}, tag
            assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
            if tag == "img":
                assert (attrs.get("src") or "").startswith("data:image/")


def test_plotly_text_is_escaped_in_figure_widgets(hostile: AuditResult) -> None:
    import workbench

    tab = workbench.show(hostile)
    dumped = plotly_strings(tab)
    _set_every_filter(tab)
    dumped += plotly_strings(tab)
    for raw in (CLASS_XSS, SPLIT_XSS, ATTR_XSS, LEVEL_XSS):
        assert raw not in dumped
    assert "&lt;img src=x onerror=alert(1)&gt;" in dumped and "&lt;svg onload=alert(4)&gt;" in dumped


# --------------------------------------------------------------------------- duplicates


def test_missing_and_unreadable_images_get_placeholders(clean: AuditResult) -> None:
    from workbench.panels import duplicates_panel

    text = html_text(duplicates_panel(clean))
    assert "file missing" in text and "unreadable image" in text
    assert text.count('src="data:image/') >= 5


def test_slider_refilters_the_cached_graph(clean: AuditResult) -> None:
    import ipywidgets as w

    from workbench.checks.duplicates import refilter
    from workbench.panels import duplicates_panel

    result = with_graph(clean)
    panel = duplicates_panel(result, page_size=50)
    slider = find(panel, w.FloatSlider)[0]
    assert not slider.disabled and slider.value == pytest.approx(0.05)
    shown = {}
    for t in (0.0, 0.05, 0.2):
        slider.value = t
        dups, leaks = refilter(result.artifacts, t)
        clusters = find(panel, css="wb-cluster")
        assert len(clusters) == len(dups.clusters)
        assert len(find(panel, css="wb-leak-pair")) == len(leaks.pairs)
        assert f"at near threshold {t:.3f}" in html_text(panel)
        shown[t] = len(clusters)
    assert shown[0.0] == 1 < shown[0.05] < shown[0.2]


def test_slider_is_disabled_for_a_json_round_tripped_result(clean: AuditResult) -> None:
    import ipywidgets as w

    from workbench.panels import duplicates_panel

    live = duplicates_panel(with_graph(clean))
    assert not find(live, w.FloatSlider)[0].disabled
    loaded = AuditResult.from_dict(json.loads(with_graph(clean).to_json()))
    assert loaded.artifacts is None
    panel = duplicates_panel(loaded)
    slider = find(panel, w.FloatSlider)[0]
    assert slider.disabled
    assert "loaded from JSON" in html_text(panel)


def test_cluster_filter_and_pages(clean: AuditResult) -> None:
    import ipywidgets as w

    from workbench.panels import duplicates_panel

    result = many_clusters(clean, 10_000)
    started = time.perf_counter()
    panel = duplicates_panel(result)
    assert time.perf_counter() - started < 5
    assert len(find(panel, css="wb-cluster")) == 10
    assert "page 1 of 1,000 · clusters 1–10 of 10,000" in html_text(panel)
    kind = [d for d in find(panel, w.Dropdown) if d.description == "Show"][0]
    kind.value = "conflict"
    assert "of 2,000" in html_text(panel)
    assert all("label conflict" in html_text(c) for c in find(panel, css="wb-cluster"))
    kind.value = "exact"
    button(panel, "Next ▶").click()
    shown = find(panel, css="wb-cluster")
    assert len(shown) == 10 and all(">exact<" in html_text(c) for c in shown)
    assert "Cluster 20" in html_text(shown[0])  # exact clusters are the even ids: page 2 starts at the 11th


def test_show_in_app_without_session_says_how(clean: AuditResult) -> None:
    from workbench.panels import duplicates_panel

    panel = duplicates_panel(clean)
    buttons = find(panel, css="wb-show-in-app")
    assert len(buttons) == 3 + 2 + 2  # per cluster, per pair, and the two "whole list" buttons
    for b in buttons:
        assert "needs session" in b.description and "session=workbench.review(result)" in b.tooltip
    buttons[0].click()
    assert "session=workbench.review(result)" in html_text(find(panel, css="wb-status")[0])


def test_show_in_app_sets_the_view_of_the_session(clean: AuditResult) -> None:
    """The handler only sets ``session.view``; the real FiftyOne Session is exercised in the slow test below."""
    from workbench.panels.fiftyone_link import AppLinker, DatasetHandle, StatusLine

    class Dataset:
        name = "pets-demo"

        def select(self, ids: list[str], ordered: bool = False) -> tuple[str, ...]:
            return tuple(ids)

    class Session:
        view = None

    session = Session()
    status = StatusLine()
    linker = AppLinker(DatasetHandle("pets-demo", dataset=Dataset()), session, status)
    linker.button("Show in App", lambda: ("s2", "s3", "s2")).click()
    assert session.view == ("s2", "s3")
    assert "Showing 2 samples" in status.widget.value


# --------------------------------------------------------------------------- label issues


def test_label_issues_are_ranked_worst_first(clean: AuditResult) -> None:
    from workbench.panels import label_issues_panel

    panel = label_issues_panel(clean)
    rows = find(panel, css="wb-issue-row")
    assert len(rows) == len(clean.label_issues.issues)
    scores = [float(re.search(r"\b0\.\d{4}\b", html_text(r).split("confidence")[1]).group()) for r in rows]
    assert scores == sorted(round(i.score, 4) for i in clean.label_issues.issues)
    first = html_text(rows[0])
    assert "img_06.png" in first and "<b>bird</b> → <b>fish</b>" in first and "not reviewed" in first


def test_label_issue_rows_show_neighbour_votes(clean: AuditResult) -> None:
    from workbench.panels import label_issues_panel

    issues = list(clean.label_issues.issues)
    issues[0] = dataclasses.replace(issues[0], neighbors=10, neighbors_given=1, neighbors_suggested=8)
    result = clean.replace(label_issues=dataclasses.replace(clean.label_issues, issues=tuple(issues)))
    rows = [html_text(r) for r in find(label_issues_panel(result), css="wb-issue-row")]
    assert sum("nearest images" in r for r in rows) == sum(i.neighbors is not None for i in issues)
    i = issues[0]
    assert f"1 of 10 nearest images labelled {i.given_label} (given), 8 {i.suggested_label} (suggested)" in rows[0]


def test_label_filters_change_the_rows(clean: AuditResult) -> None:
    import ipywidgets as w

    from workbench.panels import label_issues_panel

    result = dataclasses.replace(clean, reviews={"s6": "confirmed", "s9": "not_error"})
    panel = label_issues_panel(result)
    dropdowns = {d.description: d for d in find(panel, w.Dropdown)}
    dropdowns["Given label"].value = "bird"
    rows = find(panel, css="wb-issue-row")
    assert [i.given_label for i in result.label_issues.issues].count("bird") == len(rows) == 2
    assert all("<b>bird</b> →" in html_text(r) for r in rows)
    assert "2 match the filters" in html_text(panel)
    dropdowns["Given label"].value = dropdowns["Given label"].options[0][1]  # all classes
    dropdowns["Split"].value = "val"
    assert len(find(panel, css="wb-issue-row")) == 2
    dropdowns["Split"].value = dropdowns["Split"].options[0][1]
    dropdowns["Review"].value = "confirmed"
    rows = find(panel, css="wb-issue-row")
    assert len(rows) == 1 and "img_06.png" in html_text(rows[0]) and "confirmed error" in html_text(rows[0])
    dropdowns["Review"].value = None  # not reviewed
    assert len(find(panel, css="wb-issue-row")) == 4


def test_label_chart_highlights_the_filtered_class(clean: AuditResult) -> None:
    import ipywidgets as w
    import plotly.graph_objects as go

    from workbench.panels import label_issues_panel

    panel = label_issues_panel(clean)
    bars = find(panel, go.FigureWidget)[0].data[0]
    assert sorted(bars.x) == sorted(clean.classes) and bars.marker.color == "#c5221f"
    [d for d in find(panel, w.Dropdown) if d.description == "Given label"][0].value = "bird"
    colours = dict(zip(bars.x, bars.marker.color))
    assert colours.pop("bird") == "#c5221f" and set(colours.values()) == {"#d3d7de"}


def test_ten_thousand_issues_build_a_bounded_panel_fast(clean: AuditResult) -> None:
    import workbench.panels.label_issues as module
    from workbench.panels import label_issues_panel

    result = many_issues(clean, 10_000)
    label_issues_panel(clean)  # imports plotly and ipywidgets before timing
    started = time.perf_counter()
    panel = label_issues_panel(result)
    assert time.perf_counter() - started < 3
    rows = find(panel, css="wb-issue-row")
    assert len(rows) == module.ROWS_PER_PAGE
    assert len(list(walk(panel))) < 400
    text = html_text(panel)
    assert "page 1 of 500 · issues 1–20 of 10,000" in text
    assert text.count("file missing") == module.ROWS_PER_PAGE  # placeholders, no exception
    assert "/nowhere/9999.png" in html_text(rows[0])  # lowest score first
    button(panel, "Next ▶").click()
    assert "/nowhere/9979.png" in html_text(find(panel, css="wb-issue-row")[0])


def test_review_buttons_report_a_missing_dataset(clean: AuditResult) -> None:
    from workbench.panels import label_issues_panel

    panel = label_issues_panel(dataclasses.replace(clean, dataset_name="no-such-dataset-for-panels"))
    button(panel, "Confirm error").click()
    status = html_text(find(panel, css="wb-status")[0])
    assert "no FiftyOne dataset named" in status and "no-such-dataset-for-panels" in status
    assert "not reviewed" in html_text(find(panel, css="wb-issue-row")[0])


# --------------------------------------------------------------------------- bias


def test_bias_filters_update_the_charts_and_tables(clean: AuditResult) -> None:
    import ipywidgets as w
    import plotly.graph_objects as go

    from workbench.panels import bias_panel

    panel = bias_panel(clean)
    dropdowns = {d.description: d for d in find(panel, w.Dropdown)}
    counts, heatmap = find(panel, go.FigureWidget)
    assert [t.name for t in counts.data] == ["train", "test", "val"] and all(t.visible is not False
                                                                             for t in counts.data)
    assert list(counts.data[0].x) == ["cat", "dog", "fish", "bird"]  # by total count
    text = html_text(panel)
    assert "Smallest / largest class on all: <b>4.0%</b>" in text and "Below the rule: <b>bird</b>" in text
    assert text.count("below minimum") == 1 and "camera" in text and "moderate" in text

    dropdowns["Split"].value = "test"
    assert [t.visible for t in counts.data] == ["legendonly", True, "legendonly"]
    assert "train → val" not in html_text(panel) and "train → test" in html_text(panel)

    dropdowns["Class"].value = "bird"
    assert [list(t.x) for t in counts.data] == [["bird"]] * 3 and [list(t.y) for t in counts.data] == [[15], [5], [2]]
    assert list(counts.layout.xaxis.ticktext) == ["⚠ bird"]
    readiness = re.findall(r"<tr><td[^>]*>([^<]*)</td>", html_text(panel).split("Readiness per class")[1])
    assert readiness[0] == "bird" and "cat" not in readiness[:2]
    heatmap = find(panel, go.FigureWidget)[1]
    assert list(heatmap.data[0].y) == ["bird"] and [list(r) for r in heatmap.data[0].text] == [[10, 12]]

    dropdowns["Attribute"].value = 1  # the weaker attribute, "site"
    heatmap = find(panel, go.FigureWidget)[1]
    assert list(heatmap.data[0].x) == ["a", "b", "c"] and list(heatmap.data[0].y) == ["bird"]


def test_bias_panel_without_results_shows_the_reasons(tmp_path: Path) -> None:
    from workbench.panels import bias_panel

    result = make_result(tmp_path, states={"bias": ("skipped", "only one split and no attributes")})
    result = result.replace(bias=None, balance=None)
    text = html_text(bias_panel(result))
    assert "Bias: skipped." in text and "only one split and no attributes" in text
    assert "Balance: no result." in text


# --------------------------------------------------------------------------- real audit (slow)


DEMO_SUBSET = ("train/Sandal/train-000043.png", "test/Bag/leak-train-000043.png",  # exact leak, labels differ
               "train/Bag/train-026890.png", "test/Bag/leak-train-026890-upscale.png",  # near leak
               "train/Trouser/train-030434.png", "test/Trouser/leak-train-030434-shift.png",  # near leak
               "train/Trouser/train-032497.png", "train/Trouser/train-032497-copy1.png",  # exact copy in train
               "train/Bag/train-025499.png")  # a sandal labelled Bag


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, AuditResult]]:
    """A real audit of 60 demo images (3 classes) with the planted copies, leaks and flip above."""
    import fiftyone as fo

    import workbench

    root = tmp_path_factory.mktemp("panels") / "fashion"
    picked = [DEMO / rel for rel in DEMO_SUBSET]
    for label in ("Bag", "Sandal", "Trouser"):
        picked += sorted(p for p in (DEMO / "train" / label).glob("train-??????.png"))[:12]
        picked += sorted((DEMO / "test" / label).glob("test-??????.png"))[:5]
    for src in picked:
        dst = root / src.relative_to(DEMO)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    name = "t-panels-audit"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = workbench.load(root, name=name)
    result = workbench.audit(dataset, progress=False,
                             config=workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0")))
    yield dataset, result
    fo.delete_dataset(name)


@pytest.mark.slow
def test_real_audit_slider_matches_refilter(audited: tuple[Any, AuditResult], tmp_path: Path) -> None:
    import ipywidgets as w

    from workbench.checks.duplicates import refilter
    from workbench.panels import duplicates_panel

    _, result = audited
    panel = duplicates_panel(result, page_size=100)
    slider = find(panel, w.FloatSlider)[0]
    assert slider.value == result.duplicates.near_threshold and not slider.disabled
    assert len(find(panel, css="wb-cluster")) == len(result.duplicates.clusters)
    shown = {}
    for t in (0.0, 0.1):
        slider.value = t
        dups, leaks = refilter(result.artifacts, t)
        clusters = find(panel, css="wb-cluster")
        assert [re.search(r"Cluster (\d+)", html_text(c)).group(1) for c in clusters] == \
            [str(c.cluster_id) for c in dups.clusters]
        assert len(find(panel, css="wb-leak-pair")) == len(leaks.pairs)
        shown[t] = len(clusters)
    assert shown[0.0] == 2 and shown[0.1] > shown[0.0]  # the two exact groups, then the near ones too

    result.to_json(tmp_path / "result.json")
    loaded = AuditResult.from_json(tmp_path / "result.json")
    assert loaded == result and loaded.artifacts is None
    assert find(duplicates_panel(loaded), w.FloatSlider)[0].disabled


@pytest.mark.slow
def test_real_audit_review_buttons_tag_and_never_relabel(audited: tuple[Any, AuditResult]) -> None:
    from workbench.marks import read_marks
    from workbench.panels import label_issues_panel

    dataset, result = audited
    flipped = next(i for i in result.label_issues.issues if i.filepath.endswith("train-025499.png"))
    panel = label_issues_panel(result)  # no dataset given: loaded by name on the first click
    row = next(r for r in find(panel, css="wb-issue-row") if "train-025499.png" in html_text(r))
    label_before = dataset[flipped.sample_id].ground_truth.label

    button(row, "Confirm error").click()
    tags = dataset[flipped.sample_id].tags
    assert "wb:reviewed:confirmed" in tags and "wb:reviewed:not_error" not in tags
    assert dataset[flipped.sample_id].ground_truth.label == label_before == "Bag"
    assert "confirmed error" in html_text(row)

    button(row, "Not an error").click()
    tags = dataset[flipped.sample_id].tags
    assert "wb:reviewed:not_error" in tags and "wb:reviewed:confirmed" not in tags
    assert read_marks(dataset) == {flipped.sample_id: "not_error"}

    button(row, "Clear").click()
    assert read_marks(dataset) == {}
    assert dataset[flipped.sample_id].ground_truth.label == "Bag"
    assert "train" in dataset[flipped.sample_id].tags  # split tag untouched


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_real_session_show_in_app(audited: tuple[Any, AuditResult]) -> None:
    """A real FiftyOne App session (local server, no browser): the buttons move its view."""
    import workbench
    from workbench.panels import duplicates_panel

    dataset, result = audited
    session = workbench.review(result, dataset=dataset, remote=True, address="127.0.0.1", auto=False,
                               port=_free_port())
    try:
        panel = duplicates_panel(result, session=session)  # the dataset comes from the session
        clusters = find(panel, css="wb-cluster")
        find(clusters[0], css="wb-show-in-app")[0].click()
        assert list(session.view.values("id")) == list(result.duplicates.clusters[0].sample_ids)
        pair = result.leakage.pairs[-1]
        find(find(panel, css="wb-leak-pair")[-1], css="wb-show-in-app")[0].click()
        assert list(session.view.values("id")) == [pair.sample_id_a, pair.sample_id_b]
        button(panel, "Show all leak pairs in App").click()
        assert set(session.view.values("id")) == set(result.leakage.leaked_ids)
        assert "in the FiftyOne App" in html_text(find(panel, css="wb-status")[0])
    finally:
        session.close()
