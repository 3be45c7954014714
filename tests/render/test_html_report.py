"""Tests of the self-contained HTML report (workbench.render.html_report).

Synthetic :class:`AuditResult` objects are built from the dataclasses, with small real
PNG files written by Pillow. One of them is hostile: class names, file names, attribute
names and values, messages and the dataset name carry HTML/JS injection attempts.

The browser tests load the report in Debian's Chromium through Playwright and fail (not
skip) when Chromium is absent.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from workbench.render.formatting import script_safe_json
from workbench.render.html_report import build_context, render_html
from workbench.results import (
    AttributeAssociation,
    AuditResult,
    BalanceResult,
    BiasResult,
    CheckStatus,
    ClassErrorRate,
    ClassReadiness,
    DuplicateCluster,
    DuplicatesResult,
    EmbeddingInfo,
    FileProblem,
    IntegrityResult,
    LabelIssue,
    LabelIssuesResult,
    LeakageResult,
    LeakPair,
    SplitShift,
)


from tests.browser import REPO_ROOT  # noqa: E402
from tests.browser import assert_clean_load as _assert_clean_load  # noqa: E402
from tests.browser import open_in_chromium as _open_in_chromium  # noqa: E402

SECTION_IDS = ("summary", "file-problems", "duplicates", "leakage", "label-issues", "balance", "bias", "methods")

MODEL_ID = "open_clip/ViT-B-32:laion2b_s34b_b79k"
FALLBACK_MODEL_ID = "efficientnet-lite0/imagenet"

# Hostile strings: none of them may appear verbatim in the HTML.
CLASS_XSS = "<img src=x onerror=alert(1)>"
FILE_SCRIPT = "<script>alert(2)</script>.png"  # on disk: folder "<script>alert(2)<", file "script>.png"
FILE_DQUOTE = 'double"quote.png'
FILE_SQUOTE = "single'quote.png"
DATASET_XSS = "evil</script><script>alert(3)</script>"
ATTR_XSS = "<svg onload=alert(4)>"
LEVEL_XSS = '"><img src=y onerror=alert(5)>'
SPLIT_XSS = "val<iframe src=javascript:alert(6)>"
MESSAGE_XSS = "<script>alert(7)</script> broken"
CONFIG_XSS = "</pre></script><script>alert(8)</script>"
REASON_XSS = "<img src=z onerror=alert(10)> hub unreachable"
HOSTILE_STRINGS = (CLASS_XSS, "<script>alert(2)</script>", DATASET_XSS, ATTR_XSS, LEVEL_XSS, SPLIT_XSS,
                   MESSAGE_XSS, CONFIG_XSS, REASON_XSS, "<img src=", "</script><script>", "<iframe")
#: Markup the report itself never writes outside plotly.js (plotly.js contains "<svg").
FOREIGN_MARKUP = ("<svg", "<iframe", "<img src=x", "<img src=y", "<img src=z", "<b>timestamp")


# --------------------------------------------------------------------------- builders


def _png(path: Path, seed: int, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> str:
    """A small real PNG with a coloured background and a shape, so thumbnails look like pictures."""
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    palette = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193)]
    background = palette[seed % len(palette)]
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    w, h = size
    r = min(w, h) // 3
    cx, cy = (w // 4 + (seed * 7) % (w // 2)), h // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255))
    draw.rectangle((0, h - 6, w * ((seed % 5) + 1) // 5, h), fill=(30, 30, 30))
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format="PNG")
    return str(path)


def as_schema_v1(doc: dict) -> dict:
    """A result's JSON in the schema 1.0 layout: each check's result a top-level key."""
    old = {k: v for k, v in doc.items() if k != "findings"}
    old.update(doc["findings"])
    old["schema_version"] = "1.0"
    return old


def make_result(root: Path, *, hostile: bool = False, fallback_reason: str | None = None, trained: bool = True,
                states: dict[str, tuple[str, str]] | None = None) -> AuditResult:
    """A small audit with every kind of finding; ``states`` overrides check states: ``{name: (state, reason)}``."""
    classes = ("cat", "dog", CLASS_XSS, 'quote"class') if hostile else ("cat", "dog", "bird", "fish")
    splits = ("train", "test", SPLIT_XSS) if hostile else ("train", "test", "val")
    images = [_png(root / f"img_{i:02d}.png", i) for i in range(16)]
    images.append(_png(root / "rgba.png", 3, mode="RGBA"))
    images.append(_png(root / "gray.png", 4, mode="L"))
    if hostile:
        images[0] = _png(root / FILE_SCRIPT, 0)
        images[1] = _png(root / FILE_DQUOTE, 1)
        images[2] = _png(root / FILE_SQUOTE, 2)
    missing = str(root / "missing.png")
    corrupt = root / "corrupt.png"
    corrupt.write_bytes(b"this is not a png")

    integrity = IntegrityResult(problems=(
        FileProblem("s-missing", missing, "missing", "file not found"),
        FileProblem("s-corrupt", str(corrupt), "unreadable", MESSAGE_XSS if hostile else "cannot identify image file"),
    ))
    c0 = DuplicateCluster(0, "exact", ("s0", "s1"), (images[0], images[1]), ("train", "test"),
                          (classes[0], classes[0]), 0.0)
    c1 = DuplicateCluster(1, "near", ("s2", "s3", "s4"), (images[2], images[3], images[4]),
                          ("train", splits[2], "train"), (classes[2], classes[1], classes[2]), 0.031)
    c2 = DuplicateCluster(2, "near", ("s5", "s-missing", "s-corrupt"), (images[5], missing, str(corrupt)),
                          ("train", "train", None), (classes[3], classes[3], None), 0.044)
    duplicates = DuplicatesResult(near_threshold=0.05, clusters=(c0, c1, c2), n_exact_pairs=1, n_near_pairs=4)
    leakage = LeakageResult(pairs=(
        LeakPair("s0", "s1", images[0], images[1], "train", "test", classes[0], classes[0], "exact", 0.0, 0),
        LeakPair("s2", "s3", images[2], images[3], "train", splits[2], classes[2], classes[1], "near", 0.031, 1),
    ), n_clusters=2)
    issues = tuple(
        LabelIssue(f"s{i}", images[i], splits[i % 3], classes[i % 4], classes[(i + 1) % 4], 0.02 + 0.05 * i,
                   0.9 - 0.05 * i, *((10, i % 3, 7) if i % 2 == 0 else ()))
        for i in range(6, 12)
    ) + ((LabelIssue("s0", images[0], "train", classes[2], classes[0], 0.5, 0.6),) if hostile else ())
    label_issues = LabelIssuesResult(
        method="cleanlab prune_by_noise_rate", classes=classes, issues=issues,
        sample_ids=tuple(f"s{i}" for i in range(16)), scores=tuple(0.5 for _ in range(16)),
        suggested=tuple(classes[i % 4] for i in range(16)),
        per_class=tuple(ClassErrorRate(c, 40 + 5 * n, n + 1) for n, c in enumerate(classes)),
        n_folds=5, cv_accuracy=0.87,
    )
    counts = {"train": {classes[0]: 400, classes[1]: 320, classes[2]: 15, classes[3]: 120},
              "test": {classes[0]: 100, classes[1]: 80, classes[2]: 5, classes[3]: 30},
              splits[2]: {classes[0]: 50, classes[1]: 40, classes[2]: 2, classes[3]: 14}}
    totals = {c: sum(counts[s][c] for s in counts) for c in classes}
    readiness = (
        ClassReadiness(classes[0], totals[classes[0]], "good", "excellent", 5000 - totals[classes[0]]),
        ClassReadiness(classes[1], totals[classes[1]], "minimum", "good", 500 - totals[classes[1]]),
        ClassReadiness(classes[2], totals[classes[2]], "below minimum", "minimum", 100 - totals[classes[2]]),
        ClassReadiness(classes[3], totals[classes[3]], "minimum", "good", 500 - totals[classes[3]]),
    )
    balance = BalanceResult(
        task="classification", unit="images", counts=counts, totals=totals,
        imbalance_ratio=totals[classes[2]] / totals[classes[0]], min_ratio=0.10, rarest=classes[2],
        most_common=classes[0], below_ratio=(classes[2],), readiness=readiness,
        thresholds={"minimum": 100, "good": 500, "excellent": 5000},
    )
    attr_name = ATTR_XSS if hostile else "camera"
    level_a = LEVEL_XSS if hostile else "phone"
    bias = BiasResult(
        split_shifts=(
            SplitShift("train", "test", 0.012, 3.4, 0.33, 0.04, ((classes[2], -0.011), (classes[0], 0.02)), ()),
            SplitShift("train", splits[2], 0.031, 9.1, 0.028, 0.08, ((classes[3], 0.03),), (classes[2],)),
        ),
        attributes=(
            AttributeAssociation(attr_name, 2, 0.41, 55.0, 1e-9, {
                level_a: {classes[0]: 300, classes[1]: 40, classes[2]: 10, classes[3]: 60},
                "dslr": {classes[0]: 250, classes[1]: 400, classes[2]: 12, classes[3]: 104},
            }),
            AttributeAssociation("site", 3, 0.06, 4.0, 0.4, {
                "a": {classes[0]: 200, classes[1]: 150, classes[2]: 7, classes[3]: 50},
                "b": {classes[0]: 180, classes[1]: 150, classes[2]: 8, classes[3]: 60},
                "c": {classes[0]: 170, classes[1]: 140, classes[2]: 7, classes[3]: 54},
            }),
        ),
        skipped_attributes=(("<b>timestamp</b>" if hostile else "timestamp", "412 levels; more than 30"),),
    )
    embedding = EmbeddingInfo(
        model_id=FALLBACK_MODEL_ID if fallback_reason else MODEL_ID, backend="timm" if fallback_reason else "open_clip",
        requested=MODEL_ID, trained=trained, dim=512, device="cpu", preprocessing="resize 224, center crop",
        fallback_reason=fallback_reason, n_computed=16, n_cached=2, n_failed=2, seconds=3.2,
    )
    names = ("integrity", "duplicates", "leakage", "label_issues", "balance", "bias")
    overrides = states or {}
    checks = tuple(CheckStatus(n, *overrides.get(n, ("ran", "")), seconds=0.1 * (i + 1)) for i, n in enumerate(names))
    return AuditResult.build(
        dataset_name=DATASET_XSS if hostile else "pets-demo",
        source=str(root), task="classification", n_samples=1310, classes=classes, splits=splits,
        created_at="2025-01-01T12:00:00Z",
        config={"near_duplicate_threshold": 0.05, "min_class_ratio": 0.1, "embedder": {"name": "auto"},
                "note": CONFIG_XSS if hostile else "demo"},
        versions={"workbench": "0.1.0", "plotly": "6", **({"x<b>": CONFIG_XSS} if hostile else {})},
        checks=checks, embedding=embedding, integrity=integrity, duplicates=duplicates, leakage=leakage,
        label_issues=label_issues, balance=balance, bias=bias,
        timings={"load": 0.4, "embed": 3.2, "checks": 0.9},
    )


def make_large_result(root: Path, n_flagged: int = 300) -> AuditResult:
    """An audit with ``n_flagged`` label issues, plus leaks and duplicate clusters, each with its own image."""
    base = make_result(root / "base")
    images = [_png(root / "many" / f"f{i:04d}.png", i, size=(160, 120)) for i in range(n_flagged + 300)]
    issues = tuple(LabelIssue(f"l{i}", images[i], "train", "cat", "dog", i / n_flagged, 0.7) for i in range(n_flagged))
    pairs = tuple(LeakPair(f"a{i}", f"b{i}", images[n_flagged + 2 * i], images[n_flagged + 2 * i + 1], "train",
                           "test", "cat", "dog" if i % 3 == 0 else "cat", "near", 0.01, i) for i in range(150))
    clusters = tuple(DuplicateCluster(i, "near", (f"d{i}", f"e{i}", f"g{i}"),
                                      (images[i], images[n_flagged + i], images[(7 * i) % len(images)]),
                                      ("train", "train", "test"), ("cat", "cat", "cat"), 0.02) for i in range(250))
    label_issues = LabelIssuesResult(method="cleanlab", classes=base.classes, issues=issues,
                                     sample_ids=tuple(i.sample_id for i in issues),
                                     scores=tuple(i.score for i in issues), suggested=tuple("dog" for _ in issues),
                                     per_class=base.label_issues.per_class)
    return base.replace(label_issues=label_issues, leakage=LeakageResult(pairs=pairs, n_clusters=150),
                               duplicates=DuplicatesResult(near_threshold=0.05, clusters=clusters, n_near_pairs=500))


# --------------------------------------------------------------------------- HTML parsing helpers


class _Collector(HTMLParser):
    """Elements with their attributes, and the text of every <script> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: tuple[dict[str, str | None], list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script":
            self._script = (attributes, [])

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


def _data_images(text: str) -> int:
    """``<img>`` elements with a data-URI source."""
    return sum(tag == "img" and (a.get("src") or "").startswith("data:image/") for tag, a in _parse(text).elements)


def _csp(text: str) -> str:
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text)
    assert match, "CSP meta tag missing"
    return match.group(1).replace("&#39;", "'")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def hostile_result(tmp_path: Path) -> AuditResult:
    return make_result(tmp_path / "images", hostile=True, fallback_reason=REASON_XSS, trained=True)


@pytest.fixture
def clean_result(tmp_path: Path) -> AuditResult:
    return make_result(tmp_path / "images")


# --------------------------------------------------------------------------- HTML text tests


def test_render_returns_text_and_writes_file(clean_result: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    text = render_html(clean_result, out)
    assert out.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html>")
    assert render_html(clean_result) == text  # deterministic


def test_hostile_strings_are_escaped(hostile_result: AuditResult) -> None:
    text = render_html(hostile_result)
    for needle in HOSTILE_STRINGS:
        assert needle not in text, f"unescaped hostile string in the report: {needle!r}"
    without_plotly_js = re.sub(r"<script>.{100000,}?</script>", "", text, flags=re.S)
    assert len(without_plotly_js) < len(text) - 1_000_000
    for needle in FOREIGN_MARKUP:
        assert needle not in without_plotly_js, f"unescaped markup in the report: {needle!r}"
    # They are present, escaped: the data is shown, not dropped.
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "evil&lt;/script&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in text
    assert "double&#34;quote.png" in text and "single&#39;quote.png" in text

    page = _parse(text)
    for tag, attrs in page.elements:
        assert tag not in ("iframe", "svg", "object", "embed", "base", "form"), f"unexpected <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"event handler attribute on <{tag}>: {handlers}"
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/"), attrs
    executable = [body for attrs, body in page.scripts if attrs.get("type") != "application/json"]
    assert len(executable) == 2  # plotly.js and the boot script
    assert all("alert(" not in body for body in executable[1:])
    for attrs, body in page.scripts:
        if attrs.get("type") == "application/json":
            assert "<" not in body and ">" not in body and "&" not in body
            json.loads(body)


def test_plotly_text_is_html_escaped(hostile_result: AuditResult) -> None:
    text = render_html(hostile_result)
    figures = [json.loads(body) for attrs, body in _parse(text).scripts if attrs.get("type") == "application/json"]
    assert figures
    dumped = json.dumps(figures)
    for raw in (CLASS_XSS, ATTR_XSS, LEVEL_XSS, SPLIT_XSS):
        assert raw not in dumped
    assert "&lt;img src=x onerror=alert(1)&gt;" in dumped  # escaped class name on an axis
    assert "&lt;svg onload=alert(4)&gt;" in dumped  # escaped attribute name in a title


def test_script_safe_json_escapes_closing_tags() -> None:
    text = script_safe_json({"a": "</script><!-- & \u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029"}


def test_model_sections_and_csp(clean_result: AuditResult) -> None:
    text = render_html(clean_result)
    assert MODEL_ID in text
    for section_id in SECTION_IDS:
        assert f'id="{section_id}"' in text, section_id
        assert f'href="#{section_id}"' in text, section_id
    csp = _csp(text)
    for directive in ("default-src 'none'", "img-src data:", "style-src 'unsafe-inline'", "script-src 'sha256-"):
        assert directive in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_csp_hashes_match_inline_scripts(clean_result: AuditResult) -> None:
    text = render_html(clean_result)
    script_src = next(d for d in _csp(text).split(";") if d.strip().startswith("script-src")).split()[1:]
    allowed = {s.strip("'") for s in script_src}
    executable = [body for attrs, body in _parse(text).scripts if attrs.get("type") != "application/json"]
    assert executable
    for body in executable:
        digest = "sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        assert digest in allowed


def test_no_remote_resources(hostile_result: AuditResult) -> None:
    text = render_html(hostile_result)
    for tag, attrs in _parse(text).elements:
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http://", "https://", "//", "javascript:")), (tag, name, value)
    outside_scripts = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", outside_scripts)
    assert "mathjax" not in outside_scripts.lower()
    assert "cdn.plot.ly/plotly" not in outside_scripts


@pytest.mark.parametrize("reason", [None, "open_clip weights not in the cache and the hub is unreachable"])
def test_fallback_banner_iff_fallback_reason(tmp_path: Path, reason: str | None) -> None:
    text = render_html(make_result(tmp_path, fallback_reason=reason))
    assert ('id="fallback-warning"' in text) is (reason is not None)
    if reason:
        assert reason in text and FALLBACK_MODEL_ID in text and "unavailable" in text


@pytest.mark.parametrize("trained", [True, False])
def test_untrained_warning_iff_untrained(tmp_path: Path, trained: bool) -> None:
    text = render_html(make_result(tmp_path, trained=trained))
    assert ('id="untrained-warning"' in text) is (not trained)
    assert ("not meaningful" in text) is (not trained)


def test_no_embedding_info(tmp_path: Path) -> None:
    base = make_result(tmp_path)
    result = dataclasses.replace(base, embedding=None)
    text = render_html(result)
    assert "No embeddings were computed" in text
    assert 'id="fallback-warning"' not in text


def test_skipped_and_failed_checks_show_reason(tmp_path: Path) -> None:
    result = make_result(tmp_path, states={
        "label_issues": ("skipped", "needs predictions or embeddings; neither was available"),
        "bias": ("failed", "ValueError: metadata field 'camera' <is> not categorical"),
    })
    text = render_html(result)
    label_section = text.split('id="label-issues"')[1].split("</section>")[0]
    bias_section = text.split('id="bias"')[1].split("</section>")[0]
    assert "needs predictions or embeddings; neither was available" in label_section
    assert "status-skipped" in label_section and "<table" not in label_section
    assert "metadata field &#39;camera&#39; &lt;is&gt; not categorical" in bias_section
    assert "status-failed" in bias_section and "Cramér" not in bias_section.split("</header>")[1]


def test_missing_result_without_status_says_not_run(tmp_path: Path) -> None:
    base = make_result(tmp_path)
    result = base.replace(bias=None, checks=tuple(c for c in base.checks if c.name != "bias"))
    bias_section = render_html(result).split('id="bias"')[1].split("</section>")[0]
    assert "not run" in bias_section


def test_label_issues_show_neighbour_votes(clean_result: AuditResult) -> None:
    import html as html_lib

    text = render_html(clean_result)
    section = text[text.index("Nearest images"):]
    for issue in clean_result.label_issues.issues:
        if issue.neighbors is None:
            continue
        expected = (f"{issue.neighbors_given} of 10 nearest images labelled {issue.given_label} (given), "
                    f"7 {issue.suggested_label} (suggested)")
        assert html_lib.escape(expected, quote=False) in section or html_lib.escape(expected) in section
    assert sum(i.neighbors is None for i in clean_result.label_issues.issues) == 3  # shown as "—"


def test_missing_and_unreadable_images_get_placeholders(clean_result: AuditResult) -> None:
    text = render_html(clean_result)
    assert "file missing" in text and "unreadable image" in text
    assert 'class="thumb placeholder' in text


def test_thumbnail_formats(tmp_path: Path) -> None:
    from PIL import Image

    rgba = _png(tmp_path / "a.png", 1, mode="RGBA")
    gray16 = tmp_path / "g16.png"
    Image.new("I;16", (30, 20), 4000).save(gray16)
    big = _png(tmp_path / "big.png", 2, size=(800, 300))
    base = make_result(tmp_path / "base")
    issues = tuple(LabelIssue(f"x{i}", fp, "train", "cat", "dog", 0.1, 0.5)
                   for i, fp in enumerate([rgba, str(gray16), big, str(tmp_path)]))  # last one: a folder
    result = base.replace(label_issues=LabelIssuesResult(method="m", classes=base.classes, issues=issues))
    ctx = build_context(result, thumbnail_px=64)
    rows = ctx["label_issues"]["rows"]
    assert rows[0]["thumb"].uri.startswith("data:image/png;base64,")  # alpha kept
    assert rows[1]["thumb"].uri.startswith("data:image/jpeg;base64,")
    assert rows[3]["thumb"].uri is None and rows[3]["thumb"].note == "unreadable image"
    thumb = Image.open(io.BytesIO(base64.b64decode(rows[2]["thumb"].uri.split(",", 1)[1])))
    assert max(thumb.size) == 64


def test_large_report_is_bounded(tmp_path: Path) -> None:
    result = make_large_result(tmp_path, n_flagged=300)
    text = render_html(result, max_thumbnails=300)
    n_images = _data_images(text)
    assert n_images == 300
    assert len(text.encode("utf-8")) < 10_000_000
    assert "100 more label issues not shown; see the JSON export." in text
    assert "50 more clusters not shown; see the JSON export." in text
    assert "not embedded (thumbnail limit)" in text


def test_thumbnail_budget_is_shared_between_sections(tmp_path: Path) -> None:
    result = make_large_result(tmp_path, n_flagged=300)
    ctx = build_context(result, max_thumbnails=30)
    assert ctx["thumbnails"]["embedded"] == 30
    leak_imgs = sum(bool(p["a"].uri) + bool(p["b"].uri) for p in ctx["leakage"]["pairs"])
    dup_imgs = sum(bool(m["thumb"].uri) for c in ctx["duplicates"]["clusters"] for m in c["members"])
    label_imgs = sum(bool(r["thumb"].uri) for r in ctx["label_issues"]["rows"])
    assert leak_imgs >= 9 and dup_imgs >= 9 and label_imgs >= 9
    assert _data_images(render_html(result, max_thumbnails=0)) == 0
    assert _data_images(render_html(result, max_thumbnails=7)) == 7


def test_import_is_lazy() -> None:
    code = ("import sys, workbench.render.html_report, workbench.render.formatting, workbench.render.figures, "
            "workbench.render.thumbnails, workbench.render.sections\n"
            "heavy = [m for m in ('plotly', 'PIL', 'jinja2', 'pandas', 'torch') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# --------------------------------------------------------------------------- browser tests


def _screenshot_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.mark.browser
def test_browser_hostile_report(hostile_result: AuditResult, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    report = tmp_path / "hostile.html"
    render_html(hostile_result, report)
    found = _open_in_chromium(report, _screenshot_name(request))
    _assert_clean_load(found)
    assert found["model_visible"] and found["model_text"] == FALLBACK_MODEL_ID
    # plotly shows the escaped strings as the original text, not as markup and not double-escaped.
    assert CLASS_XSS in found["tick_texts"]
    assert DATASET_XSS in found["title"]


@pytest.mark.browser
def test_browser_clean_report(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    result = make_result(tmp_path / "images", states={"bias": ("failed", "ValueError: not categorical")})
    report = tmp_path / "clean.html"
    render_html(result, report)
    found = _open_in_chromium(report, _screenshot_name(request))
    _assert_clean_load(found)
    assert found["model_visible"] and found["model_text"] == MODEL_ID
    assert "bird" in found["tick_texts"]


@pytest.mark.browser
def test_browser_large_report(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    report = tmp_path / "large.html"
    render_html(make_large_result(tmp_path, n_flagged=300), report)
    found = _open_in_chromium(report, _screenshot_name(request))
    _assert_clean_load(found)


def test_every_template_is_in_the_package_data() -> None:
    """A section include missing from pyproject's package-data works in a checkout and breaks every
    report of a wheel install."""
    import tomllib
    from pathlib import PurePosixPath

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["workbench"]
    templates = sorted(p.relative_to(root / "workbench").as_posix()
                       for p in (root / "workbench" / "render" / "templates").rglob("*.j2"))

    def packaged(path: str) -> bool:  # setuptools' globs: '*' stays within one folder
        return any(len(PurePosixPath(path).parts) == len(PurePosixPath(g).parts) and PurePosixPath(path).match(g)
                   for g in globs)

    assert templates and [t for t in templates if not packaged(t)] == []
