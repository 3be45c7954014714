"""Self-contained, offline HTML report of an :class:`~workbench.results.AuditResult`.

The report is a single file: plotly's JavaScript and the thumbnails are inlined, nothing
is fetched from anywhere, and a strict Content-Security-Policy lets only the report's own
inline scripts run (allowed by their sha256 hashes). The renderer reads the result only;
it never computes findings.

Every string that comes from the dataset is escaped:

* HTML: Jinja2 with ``autoescape=True``.
* plotly: text shown by plotly (axis categories, trace names, hovers, titles) goes through
  :func:`html.escape`, because plotly renders a pseudo-HTML subset in labels.
* figure JSON sits in ``<script type="application/json">`` blocks with ``<``, ``>``, ``&``,
  U+2028 and U+2029 written as ``\\u`` escapes, so nothing in it can close the tag.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.io.boundary import blocked_paths
from workbench.render.figures import (
    _Figures,
    attribute_figure,
    attribute_figure_height,
    balance_figure,
    label_error_figure,
)
from workbench.render.formatting import (
    TIER_NAMES,
    _basename,
    _fmt_label,
    _fmt_plural,
    _fmt_signed,
    fmt_cell,
    fmt_float,
    fmt_int,
    fmt_p,
    fmt_pct,
    fmt_pct_range,
    fmt_seconds,
    neighbor_votes_text,
    relative_path,
    table_columns,
)
from workbench.render.overlays import (
    Overlay,
    annotator_legend,
    annotator_overlays,
    legend_html,
    overlay_svg,
    overlays_for,
)
from workbench.render.sections import _sections, _summary_cards, section_states
from workbench.render.thumbnails import _Thumbnails

if TYPE_CHECKING:
    from workbench.results import AuditResult

logger = logging.getLogger(__name__)

#: Rows, clusters or pairs shown per list in the HTML; the JSON export has them all.
MAX_ROWS = 200
#: Members shown per duplicate cluster.
MAX_CLUSTER_MEMBERS = 12
#: Attribute charts drawn in the bias section.
MAX_ATTRIBUTE_CHARTS = 20

_TEMPLATE_DIR = Path(__file__).parent / "templates"
_TEMPLATE_NAME = "report.html.j2"

#: The one inline script besides plotly's: draws each figure from its JSON block.
_BOOT_JS = """(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var divs = document.querySelectorAll("div[data-figure]");
  for (var i = 0; i < divs.length; i++) {
    var div = divs[i];
    var block = document.getElementById(div.getAttribute("data-figure"));
    if (!block) { continue; }
    var fig = JSON.parse(block.textContent);
    Plotly.newPlot(div, fig.data, fig.layout, fig.config);
  }
})();"""


# --------------------------------------------------------------------------- view model


def _item(values: tuple[Any, ...], index: int) -> Any:
    return values[index] if index < len(values) else None


def _capped(items: tuple[Any, ...] | list[Any], limit: int = MAX_ROWS) -> tuple[list[Any], int]:
    items = list(items)
    return items[:limit], max(0, len(items) - limit)


#: Checks whose section has a view of its own below; every other check gets :func:`_generic_view`.
_OWN_VIEWS = ("integrity", "duplicates", "leakage", "label_issues", "balance", "bias")


def _nav_counts(result: AuditResult) -> dict[str, int]:
    """Per check that counts findings (``count_key``), its count, for the navigation bar."""
    from workbench.checks.registry import registered_checks

    return {spec.name: result.findings[spec.name].n_findings for spec in registered_checks()
            if spec.count_key and spec.name in result.findings}


def _records(finding: Any) -> list[dict[str, Any]]:
    frame = finding.to_frame()
    return frame.to_dict(orient="records") if len(frame) else []


def _generic_view(finding: Any, rows: list[dict[str, Any]], more: int, thumbs: Any, *,
                  figures: list[Any], overlays: dict[str, list[Overlay]]) -> dict[str, Any]:
    """A check's section from its protocol alone: the summary lines, its declared figures and its findings
    frame as a table, each row's thumbnail with the boxes and masks the audit flags on that image; a check
    whose records carry annotators' boxes draws those instead, with a legend naming the annotators."""
    columns = table_columns(rows)
    own = annotator_overlays(finding)
    return {"result": finding, "summary": finding.summary().splitlines(), "columns": columns, "more": more,
            "n": finding.n_findings, "figures": [f for f in figures if f is not None],
            "legend": annotator_legend(finding) if own else [],
            "rows": [{"thumb": next(thumbs), "filepath": r.get("filepath"), "record": r,
                      "overlays": (own or overlays).get(str(r.get("sample_id")), []),
                      "cells": [r.get(c) for c in columns]} for r in rows]}


def build_context(result: AuditResult, *, max_thumbnails: int = 300, thumbnail_px: int = 96) -> dict[str, Any]:
    """Everything the template needs, read from ``result`` (no findings are computed here).

    Args:
        result: The audit to show.
        max_thumbnails: Most images embedded in the report, over all sections.
        thumbnail_px: Longest side of a thumbnail, in pixels.
        steady: Leave out what differs between two runs on the same data (the audit's time, stage and
            check timings, cache hits), so the same findings give the same bytes (``--out``).

    Returns:
        The template context (plain data, figures as script-safe JSON).

    Example:
        >>> ctx = build_context(result, max_thumbnails=50)  # doctest: +SKIP
        >>> ctx["thumbnails"]["embedded"] <= 50  # doctest: +SKIP
        True
    """
    states = section_states(result)
    figures = _Figures()
    thumbs = _Thumbnails(max_thumbnails, thumbnail_px, blocked_paths(result))

    dup = result.duplicates if states["duplicates"].show else None
    leak = result.leakage if states["leakage"].show else None
    lab = result.label_issues if states["label_issues"].show else None
    clusters, clusters_more = _capped(dup.clusters if dup else ())
    pairs, pairs_more = _capped(leak.pairs if leak else ())
    issues, issues_more = _capped(lab.issues if lab else ())

    # Each other check's section: its findings frame, capped, with a thumbnail per row that names a file.
    frames = {name: _capped(_records(result.findings[name]))
              for name, st in states.items() if st.show and name not in _OWN_VIEWS}
    # Thumbnails only for what is shown, shared fairly between the image sections.
    pair_thumbs, cluster_thumbs, issue_thumbs, *frame_thumbs = (iter(group) for group in thumbs.allocate([
        [fp for p in pairs for fp in (p.filepath_a, p.filepath_b)],
        [fp for c in clusters for fp in c.filepaths[:MAX_CLUSTER_MEMBERS]],
        [i.filepath for i in issues],
        *([r.get("filepath") for r in rows] for rows, _ in frames.values()),
    ]))
    from workbench.checks.registry import get_check

    overlays = overlays_for(result)  # the boxes and masks each image's findings carry, drawn over its thumbnails
    views = {name: _generic_view(result.findings[name], rows, more, group, overlays=overlays,
                                 figures=[figures.add(fig, height=height)
                                          for fig, height in get_check(name).draw_figures(result.findings[name])])
             for (name, (rows, more)), group in zip(frames.items(), frame_thumbs)}

    integrity_view = None
    if states["integrity"].show and result.integrity is not None:
        rows, more = _capped(result.integrity.problems)
        integrity_view = {"rows": rows, "more": more, "total": len(result.integrity.problems),
                          "by_kind": sorted(Counter(p.kind for p in result.integrity.problems).items())}

    duplicates_view = None
    if dup is not None:
        duplicates_view = {
            "result": dup,
            "clusters": [{
                "cluster": c,
                "members": [{"thumb": next(cluster_thumbs), "split": _item(c.splits, k), "label": _item(c.labels, k),
                             "boxes": overlays.get(c.sample_ids[k], [])}
                            for k in range(min(len(c.filepaths), MAX_CLUSTER_MEMBERS))],
                "hidden": max(0, len(c.filepaths) - MAX_CLUSTER_MEMBERS),
            } for c in clusters],
            "more": clusters_more,
            "n_exact": sum(c.kind == "exact" for c in dup.clusters),
            "n_near": sum(c.kind == "near" for c in dup.clusters),
            "n_conflicts": sum(c.label_conflict for c in dup.clusters),
            "n_spanning": sum(c.spans_splits for c in dup.clusters),
            "how": dup.rule_text(),
        }

    leakage_view = None
    if leak is not None:
        leakage_view = {
            "result": leak,
            "pairs": [{"pair": p, "a": next(pair_thumbs), "b": next(pair_thumbs), "a_boxes": overlays.get(p.sample_id_a, []),
                       "b_boxes": overlays.get(p.sample_id_b, [])} for p in pairs],
            "more": pairs_more,
            "by_splits": sorted(Counter(f"{p.split_a} ↔ {p.split_b}" for p in leak.pairs).items()),
        }

    label_view = None
    if lab is not None:
        label_view = {
            "result": lab,
            "rows": [{"rank": n + 1, "issue": i, "thumb": next(issue_thumbs)} for n, i in enumerate(issues)],
            "more": issues_more,
            "figure": figures.add(label_error_figure(lab.per_class), height=380),
            "n_assessed": len(lab.sample_ids),
            "n_confirmed": sum(result.reviews.get(i.sample_id) == "confirmed" for i in lab.issues),
            "n_not_error": sum(result.reviews.get(i.sample_id) == "not_error" for i in lab.issues),
            "tiers": [{"name": TIER_NAMES.get(t.tier, t.tier), "tier": t} for t in lab.tiers],
            "queue": [{"rank": n + 1, "issue": i} for n, i in enumerate(_capped(lab.review_queue)[0])],
            "queue_more": _capped(lab.review_queue)[1],
        }

    balance_view = None
    if states["balance"].show and result.balance is not None:
        bal = result.balance
        readiness, readiness_more = _capped(bal.readiness)
        balance_view = {
            "result": bal,
            "figure": figures.add(balance_figure(bal), height=420),
            "readiness": readiness,
            "readiness_more": readiness_more,
        }

    bias_view = None
    if states["bias"].show and result.bias is not None:
        bias = result.bias
        shifts, shifts_more = _capped(bias.split_shifts)
        attributes = []
        for n, assoc in enumerate(bias.attributes):
            fig, hidden = attribute_figure(assoc) if n < MAX_ATTRIBUTE_CHARTS else (None, 0)
            height = attribute_figure_height(len(fig.data[0].y)) if fig is not None else 0
            attributes.append({"assoc": assoc, "figure": figures.add(fig, height=height), "hidden_labels": hidden})
        bias_view = {
            "result": bias,
            "shifts": shifts,
            "shifts_more": shifts_more,
            "attributes": attributes,
            "charts_more": max(0, len(bias.attributes) - MAX_ATTRIBUTE_CHARTS),
        }

    check_names = [c for c, _, _, _ in _sections()]
    checks = sorted(result.checks, key=lambda c: (check_names.index(c.name) if c.name in check_names
                                                   else len(check_names), c.name))
    from workbench.render.json_export import EXPORT_SCHEMA_VERSION

    return {
        "r": result,
        "export_schema": EXPORT_SCHEMA_VERSION,
        "embedding": result.embedding,
        "states": states,
        "sections": [states[c] for c in check_names],
        "views": views,
        "hot_checks": ("integrity", "leakage"),
        "nav_counts": _nav_counts(result),
        "counts": result.counts(),
        "cards": _summary_cards(result, states),
        "integrity": integrity_view,
        "duplicates": duplicates_view,
        "leakage": leakage_view,
        "label_issues": label_view,
        "balance": balance_view,
        "bias": bias_view,
        "checks": checks,
        "reviews": result.reviews,
        "config_text": json.dumps(result.config, indent=2, ensure_ascii=False, default=str),
        "figures": figures.items,
        "thumbnails": {"embedded": thumbs.n_embedded, "failed": thumbs.n_failed,
                       "limit": thumbs.max_thumbnails, "px": thumbs.px},
        "max_rows": MAX_ROWS,
    }


# --------------------------------------------------------------------------- public API


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _environment(source: str = "") -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update({
        "f3": fmt_float,
        "f2": lambda v: fmt_float(v, 2),
        "pct": fmt_pct,
        "pct_range": fmt_pct_range,
        "num": fmt_int,
        "pval": fmt_p,
        "secs": fmt_seconds,
        "label": _fmt_label,
        "signed": _fmt_signed,
        "plural": _fmt_plural,
        "basename": _basename,
        "relpath": lambda fp: relative_path(fp, source),
        "votes": neighbor_votes_text,
        "cell": fmt_cell,
    })
    return env


def render_html(result: AuditResult, path: str | Path | None = None, *, max_thumbnails: int = 300,
                thumbnail_px: int = 96, steady: bool = False) -> str:
    """Render ``result`` as one self-contained, offline HTML file.

    plotly's JavaScript and the thumbnails (of flagged samples only) are inlined; the
    page loads nothing from the network and a Content-Security-Policy allows only its
    own inline scripts, by hash. Missing or unreadable images show a placeholder.

    Args:
        result: The audit to show.
        path: Where to write the HTML (UTF-8). ``None`` only returns it.
        max_thumbnails: Most images embedded, over all sections; the rest get a placeholder.
        thumbnail_px: Longest side of a thumbnail, in pixels.
        steady: Leave out what differs between two runs on the same data (the audit's time, stage and
            check timings, cache hits), so the same findings give the same bytes (``--out``).

    Returns:
        The HTML text.

    Example:
        >>> from workbench.render.html_report import render_html
        >>> html_text = render_html(result, "audit.html", max_thumbnails=100)  # doctest: +SKIP
    """
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    context = build_context(result, max_thumbnails=max_thumbnails, thumbnail_px=thumbnail_px)
    plotly_js = get_plotlyjs() if context["figures"] else ""
    # The scripts are hashed exactly as they are written into the page.
    scripts = [s for s in (plotly_js, _BOOT_JS if plotly_js else "") if s]
    for script in scripts:
        if "</script" in script.lower():  # would end the element early; never true for plotly.js
            raise ValueError("an inline script contains '</script'; it can't be embedded safely")
    csp = "; ".join([
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "script-src " + (" ".join(_csp_hash(s) for s in scripts) if scripts else "'none'"),
        "base-uri 'none'",
        "form-action 'none'",
    ])
    context.update({
        "steady": steady,
        "csp": csp,
        "plotly_js": Markup(plotly_js),
        "boot_js": Markup(_BOOT_JS) if plotly_js else "",
        "script_json": lambda fig: Markup(fig.json),
        "overlay_svg": lambda overlays, t: Markup(overlay_svg(overlays, t.width, t.height)),
        "legend_html": lambda legend: Markup(legend_html(legend)),
    })
    text = _environment(result.source).get_template(_TEMPLATE_NAME).render(**context)
    if path is not None:
        from workbench.io.outputs import write_text_atomic

        out = write_text_atomic(path, text)
        logger.info("wrote HTML report %s (%.1f MB, %d thumbnails)", out, len(text.encode("utf-8")) / 1e6,
                    context["thumbnails"]["embedded"])
    return text
