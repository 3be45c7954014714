"""The "Objects" panel of a real detection audit: classes against the readiness table, the box histograms as
``FigureWidget``\\ s, the negatives, and the flagged objects as thumbnails with their boxes, escaped and paged."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.panels.test_panels import button, find, html_text
from tests.render.test_box_overlays import HOSTILE, detection_audit


@pytest.fixture
def audited(tmp_path: Path, unique_name: str) -> Any:
    return detection_audit(tmp_path, unique_name)


def test_objects_panel_shows_histograms_readiness_and_boxed_thumbnails(audited: Any) -> None:
    import plotly.graph_objects as go

    import workbench
    from workbench.panels.objects import objects_panel

    panel = objects_panel(audited, page_size=2)
    charts = find(panel, go.FigureWidget)
    assert [c.layout.xaxis.type for c in charts] == ["log", "log"] and len(charts[0].data) == 3
    text = html_text(panel)
    assert "negative images (no object): <b>25.0%</b> (1 of 4)" in text
    assert "below minimum" in text and "200 more for minimum" not in text  # dog: 2 instances, 198 more
    assert "198 more for minimum" in text
    # page 1 of 2: the outside dog and the tiny cat (worst kinds first), each drawn on its 64 × 32 thumbnail
    svgs = re.findall(r"<svg [^>]*viewBox=\"0 0 64 32\".*?</svg>", text, re.DOTALL)
    assert len(svgs) == 2 and '<rect x="32" y="8" width="1.3" height="16"' in svgs[1]
    assert "page 1 of 2" in text
    button(panel, "Next ▶").click()
    text = html_text(panel)
    assert "page 2 of 2" in text and '<rect x="6.4" y="3.2" width="25.6" height="12.8"' in text
    # the hostile class: escaped in the overlay, the captions and the plots
    assert HOSTILE not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;: duplicate" in text
    plots = json.dumps([c.to_plotly_json() for c in charts])
    assert "<script>" not in plots and "&lt;script&gt;alert" in plots
    # the tab is the registry's: workbench.show builds it
    tabs = workbench.show(audited)
    assert "Objects" in tabs.titles and "wb-objects" in tabs.children[tabs.titles.index("Objects")]._dom_classes


def test_objects_panel_says_why_it_is_empty(tmp_path: Path) -> None:
    from tests.render.test_html_report import make_result
    from workbench.panels.objects import objects_panel

    panel = objects_panel(make_result(tmp_path / "images"))
    assert "did not run" in html_text(panel) and not find(panel, __import__("plotly.graph_objects").graph_objects
                                                            .FigureWidget)


def test_duplicates_panel_draws_the_boxes_of_copies_that_disagree(tmp_path: Path, unique_name: str) -> None:
    from tests.render.test_box_overlays import copies_audit
    from workbench.panels.duplicates import duplicates_panel

    text = html_text(duplicates_panel(copies_audit(tmp_path, unique_name)))
    for rect in ('<rect x="4" y="4" width="12" height="12"', '<rect x="24" y="20" width="12" height="12"'):
        assert text.count(rect) == 2  # in the cluster and in the leak pair
    assert 'stroke-dasharray="3 2"' in text and "<title>car: conflict</title>" in text


def test_the_generic_panel_draws_declared_figures_and_boxes(audited: Any) -> None:
    """A check shown by the generic panel still gets its registered figures and the boxes on its thumbnails."""
    import plotly.graph_objects as go

    from workbench.panels.findings import findings_panel

    panel = findings_panel(audited, check="objects")
    assert len(find(panel, go.FigureWidget)) == 2
    text = html_text(panel)
    assert '<rect x="32" y="8" width="1.3" height="16"' in text and "<script>alert" not in text
