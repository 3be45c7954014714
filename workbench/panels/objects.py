"""The "Objects" panel of a detection dataset: instances per class against the readiness table, the box
size and aspect histograms, the share of negative images, and the flagged objects as thumbnails with
their boxes drawn, a page at a time. Everything is read from the result (``ObjectsResult`` and, when
the balance check ran, its readiness levels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.io.boundary import blocked_paths
from workbench.panels.fiftyone_link import AppLinker, DatasetHandle, StatusLine
from workbench.panels.markup import (
    Html,
    badge,
    bold,
    figure_html,
    heading,
    join,
    muted,
    strip,
    table,
)
from workbench.panels.notices import check_notice
from workbench.panels.paging import Pager
from workbench.panels.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from workbench.checks.objects import ObjectsResult
    from workbench.results import AuditResult

#: Flagged objects drawn per page.
OBJECTS_PER_PAGE = 24
_LEVEL_TONES = {"below minimum": "bad", "minimum": "warn", "good": "ok", "excellent": "ok"}


def _class_table(result: AuditResult, objects: ObjectsResult) -> Html:
    """Instances and images per class, the readiness level (from the balance check) and the thresholds."""
    from workbench.config import READINESS_TABLE

    levels = {r.label: r for r in (result.balance.readiness if result.balance is not None else ())}
    rules = READINESS_TABLE["detection"]
    rows = []
    for c in sorted(objects.classes, key=lambda c: (-c.n_instances, c.label)):
        level = levels.get(c.label)
        rows.append((c.label, f"{c.n_instances:,}", f"{c.n_images:,}",
                     badge(level.level, _LEVEL_TONES.get(level.level, "neutral")) if level else muted("—"),
                     f"{level.needed_for_next:,} more for {level.next_level}" if level and level.next_level else "",
                     f"{c.n_tiny:,}"))
    note = muted(f"Readiness (instances per class): minimum {rules[0]:,}, good {rules[1]:,}, excellent "
                 f"{rules[2]:,} (the balance check's levels{'' if levels else ': it did not run'}).")
    return join([table(["class", "instances", "images", "readiness", "to next level", "tiny"], rows,
                       numeric=(1, 2, 5)), note])


def objects_panel(result: AuditResult, *, dataset: Any = None, session: Any = None,
                  page_size: int = OBJECTS_PER_PAGE) -> Any:
    """The objects check's panel: classes against the readiness table, box histograms, negatives, and the
    flagged objects as thumbnails with their boxes, paged.

    Args:
        result: The audit to show.
        dataset: The audited FiftyOne dataset, for "Show in App" (default: loaded by name on first use).
        session: A FiftyOne App session; "Show in App" sets its view to the images with flagged objects.
        page_size: Flagged objects drawn per page.

    Returns:
        An ``ipywidgets.VBox``.

    Example:
        >>> from workbench.panels.objects import objects_panel
        >>> objects_panel(result, session=session)  # doctest: +SKIP
    """
    import ipywidgets as w

    from workbench.panels.charts import figure_widget
    from workbench.render.figures import box_figures
    from workbench.render.formatting import relative_path
    from workbench.render.overlays import overlays_for

    title = heading("Objects")
    notice = check_notice(result, "objects")
    objects: ObjectsResult | None = result.findings.get("objects")
    if notice is not None or objects is None:
        box = w.VBox([w.HTML(join([title, notice or muted("This check left no result.")]))])
        box.add_class("wb-objects")
        return box
    share = objects.negative_share
    negatives = (badge("no negative images: add some, they teach the model what not to detect", "bad")
                 if objects.n_negative == 0 and objects.n_images else
                 join(["negative images (no object): ", bold("—" if share is None else f"{share:.1%}"),
                       f" ({objects.n_negative:,} of {objects.n_images:,})"]))
    charts = [figure_widget(fig, height=height) for fig, height in box_figures(objects)]
    issues = list(objects.issues)
    overlays = overlays_for(result)
    thumbs = ThumbnailCache(blocked=blocked_paths(result))
    body = w.HTML()

    def draw() -> None:
        page = issues[pager.start:pager.stop]
        images = thumbs.render([i.filepath for i in page], limit=len(page),
                               overlays=[overlays.get(i.sample_id, []) for i in page])
        body.value = strip(figure_html(img, join([bold(i.label), " · ", ", ".join(i.kinds), Html("<br>"),
                                                  relative_path(i.filepath, result.source)]), width=thumbs.px + 8)
                           for img, i in zip(images, page)) if page else muted("No object flagged.")

    pager = Pager(page_size=page_size, on_change=draw, what="flagged objects")
    pager.reset(len(issues))
    draw()
    ids = sorted({i.sample_id for i in issues})
    status = StatusLine()
    linker = AppLinker(DatasetHandle(result.dataset_name, dataset=dataset, session=session), session, status)
    lead = w.HTML(join([title, *(muted(line) for line in objects.summary().splitlines()[:1]), Html("<br>"), negatives,
                        _class_table(result, objects)]))
    box = w.VBox([lead, *(c for c in charts if c is not None), w.HTML(heading("Flagged objects", 4)),
                  linker.button("Show in App", lambda: ids, what="images with flagged objects"), status.widget,
                  pager.widget, body])
    box.add_class("wb-objects")
    return box
