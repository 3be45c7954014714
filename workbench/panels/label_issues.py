"""The "Label issues" panel: likely label errors ranked worst first, with review buttons.

Two lists, as the audit ranks them: cleanlab's flagged set (the likely errors) and the review
queue (every assessed image ranked by ``review_ranking``, flagged or not, up to the budget; the
flagged ones marked "likely error"), with each tier's expected precision above them.

"Confirm error" / "Not an error" / "Clear" only tag the sample in FiftyOne
(:func:`workbench.marks.mark_samples`: ``wb:reviewed:confirmed`` / ``wb:reviewed:not_error``);
no label is ever changed. The next audit reads the tags back into ``AuditResult.reviews``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Sequence

from workbench.panels.charts import figure_widget
from workbench.panels.fiftyone_link import DatasetHandle, StatusLine
from workbench.panels.filters import ANY, filter_dropdown, matches
from workbench.panels.markup import Html, badge, bold, code, heading, join, muted, table
from workbench.panels.notices import check_notice, embedding_warning
from workbench.panels.paging import Pager
from workbench.io.boundary import blocked_paths
from workbench.panels.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from workbench.results import AuditResult, LabelIssue, LabelIssuesResult

logger = logging.getLogger(__name__)

#: Rows drawn per page (the widget count stays bounded whatever the number of issues).
ROWS_PER_PAGE = 20


#: (label, key) of the review-state filter; ``None`` keeps unreviewed samples.
REVIEW_FILTERS: tuple[tuple[str, Any], ...] = (
    ("any review state", ANY),
    ("not reviewed", None),
    ("confirmed errors", "confirmed"),
    ("not errors", "not_error"),
)
#: (label, key) of the list dropdown: cleanlab's flagged set, or the review queue.
LISTS: tuple[tuple[str, str], ...] = (("likely errors", "issues"), ("review queue", "queue"))
_REVIEW_BADGES = {None: ("not reviewed", "neutral"), "confirmed": ("confirmed error", "bad"),
                  "not_error": ("not an error", "ok")}
#: Table columns: (title, layout of the cells).
_COLUMNS: tuple[tuple[str, dict[str, str]], ...] = (
    ("#", {"width": "3em"}), ("image", {"width": "92px"}), ("file · split", {"flex": "1 1 18em"}),
    ("given → suggested", {"flex": "1 1 14em"}), ("score", {"width": "5em"}), ("review", {"width": "8.5em"}),
    ("", {"width": "20em", "flex": "0 0 auto"}),
)
_HIGHLIGHT, _DIMMED, _FLAGGED = "#c5221f", "#d3d7de", "#c5221f"


def label_issues_panel(result: AuditResult, *, dataset: Any = None, page_size: int = ROWS_PER_PAGE) -> Any:
    """Ranked likely label errors with thumbnails, review buttons, filters and the error rate per class.

    Args:
        result: The audit to show.
        dataset: The audited FiftyOne dataset; by default ``fiftyone.load_dataset(result.dataset_name)``,
            loaded when a review button is first clicked.
        page_size: Rows drawn per page.

    Returns:
        An ``ipywidgets.VBox``.

    Example:
        >>> from workbench.panels import label_issues_panel
        >>> label_issues_panel(result)  # doctest: +SKIP
    """
    import ipywidgets as w

    notice = check_notice(result, "label_issues")
    if notice is not None or result.label_issues is None:
        box = w.VBox([w.HTML(join([heading("Label issues"), notice or ""]))])
        box.add_class("wb-label-issues")
        return box
    return _LabelIssuesPanel(result, dataset=dataset, page_size=page_size).widget


def filter_issues(issues: Sequence[LabelIssue], reviews: dict[str, str], *, label: Any = ANY, split: Any = ANY,
                  review: Any = ANY) -> list[LabelIssue]:
    """The issues with given ``label``, ``split`` and review state (``ANY`` keeps all), in order.

    Example:
        >>> rows = filter_issues(ranked, result.reviews, label="Shirt", review=None)  # doctest: +SKIP
    """
    return [i for i in issues if matches(i.given_label, label) and matches(i.split, split)
            and matches(reviews.get(i.sample_id), review)]


class _LabelIssuesPanel:
    """Widgets and state of one label-issues panel (filters, page, review marks made here)."""

    def __init__(self, result: AuditResult, *, dataset: Any, page_size: int) -> None:
        import ipywidgets as w

        self.result = result
        self.label_issues: LabelIssuesResult = result.label_issues  # type: ignore[assignment]  # checked by the caller
        self.ranked = sorted(self.label_issues.issues, key=lambda i: i.score)  # worst first (stable)
        self.rank = {id(issue): n + 1 for n, issue in enumerate(self.ranked)}
        self.lists = {"issues": self.ranked, "queue": list(self.label_issues.review_queue)}  # the queue: ranked
        self.reviews = dict(result.reviews)
        self.handle = DatasetHandle(result.dataset_name, dataset=dataset)
        self.thumbs = ThumbnailCache(blocked=blocked_paths(result))
        self.status = StatusLine()

        shown = [*self.ranked, *self.lists["queue"]]
        self.list_choice = w.Dropdown(options=[(f"{title} ({len(self.lists[key]):,})", key) for title, key in LISTS],
                                      value="issues", description="List")
        self.label_filter = filter_dropdown("Given label", [*self.label_issues.classes,
                                                            *(i.given_label for i in shown)],
                                            all_label="all classes")
        self.split_filter = filter_dropdown("Split", (i.split for i in shown), all_label="all splits",
                                            none_label="(no split)")
        self.review_filter = w.Dropdown(options=REVIEW_FILTERS, value=ANY, description="Review")
        for dropdown in (self.list_choice, self.label_filter, self.split_filter, self.review_filter):
            dropdown.observe(lambda _: self._refilter(), names="value")

        self.summary = w.HTML()
        self.pager = Pager(page_size=page_size, on_change=self._draw_rows, what="issues")
        self.rows = w.VBox()
        self.chart = self._chart()
        header = w.HBox([w.HTML(bold(title), layout=w.Layout(**layout)) for title, layout in _COLUMNS])
        self.widget = w.VBox([
            w.HTML(join([heading("Label issues"), embedding_warning(result) or ""])),
            self.summary,
            *([w.HTML(_tiers(self.label_issues))] if self.label_issues.tiers else []),
            *([self.chart] if self.chart is not None else []),
            w.HBox([*([self.list_choice] if self.lists["queue"] else []), self.label_filter, self.split_filter,
                    self.review_filter], layout=w.Layout(flex_flow="row wrap")),
            self.status.widget,
            self.pager.widget,
            header,
            self.rows,
        ])
        self.widget.add_class("wb-label-issues")
        self._refilter()

    # ------------------------------------------------------------------ state

    @property
    def queue_listed(self) -> bool:
        """Whether the rows are the review queue (else cleanlab's flagged set)."""
        return self.list_choice.value == "queue"

    def listed(self) -> list[LabelIssue]:
        """The issues of the chosen list that the current filters keep, worst first."""
        return filter_issues(self.lists[self.list_choice.value], self.reviews, label=self.label_filter.value,
                             split=self.split_filter.value, review=self.review_filter.value)

    def _refilter(self) -> None:
        self.pager.reset(len(self.listed()))
        self.summary.value = self._summary()
        self._highlight_class()
        self._draw_rows()

    def _summary(self) -> Html:
        from workbench.render.formatting import fmt_int, fmt_pct

        li = self.label_issues
        parts: list[Any] = [bold(fmt_int(len(li.issues))), " likely label errors of ", fmt_int(len(li.sample_ids)),
                            f" assessed ({fmt_pct(li.issue_rate)}) · ", li.method]
        if li.cv_accuracy is not None:
            parts.append(f" · out-of-fold accuracy {fmt_pct(li.cv_accuracy)}"
                         + (f" ({li.n_folds} folds)" if li.n_folds else ""))
        if li.not_assessed:
            parts += [Html("<br>"), muted(f"{fmt_int(len(li.not_assessed))} samples not assessed: "
                                          f"{li.not_assessed_reason}")]
        if li.review_queue:
            parts += [Html("<br>"), "Review queue: ", bold(fmt_int(len(li.review_queue))),
                      f" samples ranked by {li.review_ranking.replace('_', ' ')}, flagged or not (budget "
                      f"{fmt_int(li.review_budget)}: {li.review_budget_source}). ",
                      muted("Read it from the top: # is the review rank, score the ranking's (low = likely wrong).")]
        states = Counter(self.reviews.get(i.sample_id) for i in li.issues)
        parts += [Html("<br>"), f"Reviewed: {fmt_int(states['confirmed'])} confirmed errors, "
                  f"{fmt_int(states['not_error'])} not errors, {fmt_int(states[None])} to go. ",
                  muted("The buttons only tag samples in FiftyOne (wb:reviewed:*); labels are never changed.")]
        listed = self.pager.n_items
        if listed != len(self.lists[self.list_choice.value]):
            parts += [Html("<br>"), bold(f"{fmt_int(listed)} match the filters.")]
        return join(parts)

    # ------------------------------------------------------------------ chart

    def _chart(self) -> Any:
        from workbench.render.figures import label_error_figure

        return figure_widget(label_error_figure(self.label_issues.per_class), height=320)

    def _highlight_class(self) -> None:
        from workbench.render.formatting import plotly_text

        if self.chart is None:
            return
        bars = self.chart.data[0]
        selected = self.label_filter.value
        if selected is ANY:
            bars.marker.color = _FLAGGED
        else:
            target = plotly_text(selected)
            bars.marker.color = [_HIGHLIGHT if x == target else _DIMMED for x in bars.x]

    # ------------------------------------------------------------------ rows

    def _draw_rows(self) -> None:
        import ipywidgets as w

        issues = self.listed()[self.pager.start:self.pager.stop]
        if not issues:
            self.rows.children = [w.HTML(muted("No label issues match the filters."))]
            return
        images = self.thumbs.render([i.filepath for i in issues], limit=len(issues))
        self.rows.children = [self._row(issue, image) for issue, image in zip(issues, images)]

    def _row(self, issue: LabelIssue, image: Html) -> Any:
        import ipywidgets as w

        from workbench.render.formatting import neighbor_votes_text, relative_path

        review = w.HTML(_review_badge(self.reviews.get(issue.sample_id)))
        review.add_class("wb-review-state")
        queued = self.queue_listed
        rank, score = (issue.review_rank, issue.review_score) if queued else (self.rank[id(issue)], issue.score)
        marker = [Html("<br>"), badge("likely error", "bad")] if queued and issue.likely_error else []
        cells = [
            "—" if rank is None else str(rank),
            image,
            join([code(relative_path(issue.filepath, self.result.source)), Html("<br>"),
                  muted("(no split)" if issue.split is None else issue.split), *marker]),
            join([bold(issue.given_label), " → ", bold(issue.suggested_label), Html("<br>"),
                  muted(f"suggestion confidence {issue.suggested_confidence:.2f}"),
                  *([Html("<br>"), muted(neighbor_votes_text(issue))] if issue.neighbors is not None else [])]),
            "—" if score is None else f"{score:.4f}",
        ]
        buttons = []
        for description, state, style in (("Confirm error", "confirmed", "danger"),
                                           ("Not an error", "not_error", "success"), ("Clear", None, "")):
            button = w.Button(description=description, button_style=style,
                              layout=w.Layout(width="auto", min_width="fit-content", flex="0 0 auto"),
                              tooltip="tag the sample in FiftyOne; its label is not changed")
            button.on_click(lambda _, s=state: self._mark(issue, s, review))
            buttons.append(button)
        widgets = [w.HTML(cell) for cell in cells] + [review, w.HBox(buttons)]
        for widget, (_, layout) in zip(widgets, _COLUMNS):
            for key, value in layout.items():
                setattr(widget.layout, key, value)
        row = w.HBox(widgets, layout=w.Layout(align_items="center", border_bottom="1px solid #e3e6eb"))
        row.add_class("wb-issue-row")
        return row

    def _mark(self, issue: LabelIssue, state: str | None, review: Any) -> None:
        from workbench.marks import mark_samples

        try:
            dataset = self.handle.get()
        except LookupError as exc:
            self.status.say(str(exc), "bad")
            return
        changed = mark_samples(dataset, [issue.sample_id], state)  # type: ignore[arg-type]
        if not changed:
            self.status.say(f"Sample {issue.sample_id} is not in dataset {dataset.name}: nothing was tagged.",
                            "warn")
            return
        if state is None:
            self.reviews.pop(issue.sample_id, None)
        else:
            self.reviews[issue.sample_id] = state
        review.value = _review_badge(state)
        self.summary.value = self._summary()
        done = "cleared the review mark of" if state is None else f"marked as {_REVIEW_BADGES[state][0]}:"
        logger.info("%s %s", done, issue.filepath)
        self.status.say(f"{done.capitalize()} {issue.filepath} (label unchanged).", "ok")


def _tiers(li: LabelIssuesResult) -> Html:
    """Each tier of label findings with its size and expected precision, and how that was estimated."""
    from workbench.render.formatting import TIER_NAMES, fmt_float, fmt_int, fmt_pct_range

    rows = [(TIER_NAMES.get(t.tier, t.tier), fmt_int(t.n), fmt_float(t.expected_errors, 2),
             fmt_pct_range(t.precision_range))
            for t in li.tiers]
    headers = ("Tier", "Samples", "Expected real errors (noise matrix)", "Real errors in the tier (est. range)")
    return join([table(headers, rows, numeric=(1, 2, 3)),
                 muted(f"How sure: {li.precision_method or 'not stated'}.")])


def _review_badge(state: str | None) -> Html:
    text, tone = _REVIEW_BADGES.get(state, (str(state), "neutral"))
    return badge(text, tone)
