"""The panel of a check that declares none of its own: its summary, its declared figures, and its findings
frame as a paged table with thumbnails (the boxes and masks its records carry drawn over them; annotators'
boxes, with a legend naming them) and a "Show in App" button (read from the result's protocol only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.io.boundary import blocked_paths
from workbench.panels.fiftyone_link import AppLinker, DatasetHandle, StatusLine
from workbench.panels.markup import Html, heading, join, muted, table
from workbench.panels.notices import check_notice
from workbench.panels.paging import Pager
from workbench.panels.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from workbench.results import AuditResult

#: Rows drawn per page.
ROWS_PER_PAGE = 25


def findings_panel(result: AuditResult, *, check: str, dataset: Any = None, session: Any = None,
                   page_size: int = ROWS_PER_PAGE) -> Any:
    """One check's findings: its ``summary()``, then ``to_frame()`` a page at a time, each row with its image.

    Args:
        result: The audit to show.
        check: The registered check's name (e.g. ``"image_quality"``).
        dataset: The audited FiftyOne dataset, for "Show in App" (default: loaded by name on first use).
        session: A FiftyOne App session; "Show in App" sets its view to the flagged samples.
        page_size: Rows drawn per page.

    Returns:
        An ``ipywidgets.VBox``.

    Example:
        >>> findings_panel(result, check="outliers", session=session)  # doctest: +SKIP
    """
    import ipywidgets as w

    from workbench.checks.registry import get_check
    from workbench.panels.charts import figure_widget
    from workbench.render.formatting import fmt_cell, relative_path, table_columns
    from workbench.render.overlays import annotator_legend, annotator_overlays, legend_html, overlays_for

    spec = get_check(check)
    title = heading(spec.heading)
    notice = check_notice(result, check)
    finding = result.findings.get(check)
    if notice is not None or finding is None:
        box = w.VBox([w.HTML(join([title, notice or muted("This check left no result.")]))])
        box.add_class("wb-findings")
        return box
    frame = finding.to_frame()
    records = frame.to_dict(orient="records") if len(frame) else []
    columns = table_columns(records)
    thumbs = ThumbnailCache(blocked=blocked_paths(result))
    status = StatusLine()
    linker = AppLinker(DatasetHandle(result.dataset_name, dataset=dataset, session=session), session, status)
    body = w.HTML()
    # Every box and mask the audit flags on each image; a check whose records carry annotators' boxes draws those.
    overlays = annotator_overlays(finding) or overlays_for(result)
    legend = legend_html(annotator_legend(finding))

    def draw() -> None:
        rows = records[pager.start:pager.stop]
        images = thumbs.render([r.get("filepath") for r in rows], limit=len(rows),
                               overlays=[overlays.get(str(r.get("sample_id")), []) for r in rows])
        body.value = table(["image", "file", *(c.replace("_", " ") for c in columns)],
                           [(Html(img), relative_path(r.get("filepath"), result.source),
                             *(fmt_cell(r.get(c)) for c in columns))
                            for img, r in zip(images, rows)]) if rows else muted("Nothing flagged.")

    pager = Pager(page_size=page_size, on_change=draw, what="findings")
    pager.reset(len(records))
    draw()
    ids = sorted({str(r["sample_id"]) for r in records if r.get("sample_id")})
    lead = w.HTML(join([title, *(muted(line) for line in finding.summary().splitlines()), Html(legend)]))
    charts = [figure_widget(fig, height=height) for fig, height in spec.draw_figures(finding)]
    box = w.VBox([lead, *(c for c in charts if c is not None),
                  linker.button("Show in App", lambda: ids, what="flagged samples"), status.widget, pager.widget, body])
    box.add_class("wb-findings")
    return box
