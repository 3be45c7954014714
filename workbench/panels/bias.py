"""The "Bias & imbalance" panel: class counts per split, the 10% rule, readiness, split shifts, attributes.

The charts are the HTML report's figures (:func:`workbench.render.figures.balance_figure`
and :func:`~workbench.render.figures.attribute_figure`) as plotly ``FigureWidget``\\ s, so
the notebook and the report agree; the class and split dropdowns update them in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.panels.charts import figure_widget
from workbench.panels.filters import ANY, filter_dropdown, matches
from workbench.panels.markup import Html, badge, bold, heading, join, muted, table
from workbench.panels.notices import check_notice

if TYPE_CHECKING:
    from workbench.results import AttributeAssociation, AuditResult, BalanceResult, BiasResult

#: Rows shown per table (readiness, split shifts, attributes); the rest are counted.
MAX_TABLE_ROWS = 200
_LEVEL_TONES = {"below minimum": "bad", "minimum": "warn", "good": "ok", "excellent": "ok"}
_STRENGTH_TONES = {"strong": "bad", "moderate": "warn", "weak": "neutral", "negligible": "muted"}


def bias_panel(result: AuditResult) -> Any:
    """Class balance and bias: grouped bars per split, ratio rule, readiness, split shifts, label × attribute.

    Args:
        result: The audit to show.

    Returns:
        An ``ipywidgets.VBox``; its "Class" and "Split" dropdowns filter the charts and tables.

    Example:
        >>> from workbench.panels import bias_panel
        >>> bias_panel(result)  # doctest: +SKIP
    """
    return _BiasPanel(result).widget


class _BiasPanel:
    """Widgets of one bias panel and the full chart data the filters cut down."""

    def __init__(self, result: AuditResult) -> None:
        import ipywidgets as w

        self.result = result
        balance_notice, bias_notice = check_notice(result, "balance"), check_notice(result, "bias")
        self.balance: BalanceResult | None = result.balance if balance_notice is None else None
        self.bias: BiasResult | None = result.bias if bias_notice is None else None

        classes = set(result.classes) | set(self.balance.totals if self.balance else ())
        splits = set(result.splits) | set(self.balance.counts if self.balance else ())
        self.class_filter = filter_dropdown("Class", classes, all_label="all classes")
        self.split_filter = filter_dropdown("Split", splits, all_label="all splits")

        self.counts_chart = self._counts_chart()
        self._bars = [(tuple(t.x), tuple(t.y)) for t in self.counts_chart.data] if self.counts_chart else []
        self._ticks = (tuple(self.counts_chart.layout.xaxis.tickvals or ()),
                       tuple(self.counts_chart.layout.xaxis.ticktext or ())) if self.counts_chart else ((), ())
        self.readiness = w.HTML()
        self.shifts = w.HTML()
        self.attribute, self.attribute_box = self._attribute_picker()

        parts: list[Any] = [w.HTML(heading("Bias & imbalance")),
                            w.HBox([self.class_filter, self.split_filter])]
        parts += [w.HTML(heading("Class balance", 4))]
        if self.balance is None:
            parts.append(w.HTML(balance_notice or ""))
        else:
            parts += [w.HTML(_imbalance(self.balance)), *([self.counts_chart] if self.counts_chart else []),
                      w.HTML(heading("Readiness per class", 4)), self.readiness]
        parts.append(w.HTML(heading("Split shift", 4)))
        if self.bias is None:
            parts.append(w.HTML(bias_notice or ""))
        else:
            parts += [self.shifts, w.HTML(heading("Labels × attributes", 4)), w.HTML(_associations(self.bias)),
                      self.attribute, self.attribute_box]
        self.widget = w.VBox(parts)
        self.widget.add_class("wb-bias")

        self.class_filter.observe(lambda _: self._apply(), names="value")
        self.split_filter.observe(lambda _: self._apply(), names="value")
        self.attribute.observe(lambda _: self._draw_attribute(), names="value")
        self._apply()

    # ------------------------------------------------------------------ balance

    def _counts_chart(self) -> Any:
        from workbench.render.figures import balance_figure

        return figure_widget(balance_figure(self.balance) if self.balance is not None else None, height=420)

    def _draw_readiness(self) -> None:
        from workbench.render.formatting import fmt_int

        bal = self.balance
        if bal is None:
            return
        rows = [(r.label, fmt_int(r.count), badge(r.level, _LEVEL_TONES.get(r.level, "neutral")),
                 r.next_level or "—", fmt_int(r.needed_for_next) if r.next_level else "—")
                for r in bal.readiness if matches(r.label, self.class_filter.value)]
        levels = " · ".join(f"{name} ≥ {fmt_int(n)}" for name, n in bal.thresholds.items())
        lead = muted(f"{bal.unit} per class on {bal.basis}, against the data guide ({levels}).")
        self.readiness.value = join([lead, table(["class", bal.unit, "level", "next level", "still needed"],
                                                 rows[:MAX_TABLE_ROWS], numeric=[1, 4],
                                                 more=max(0, len(rows) - MAX_TABLE_ROWS), what="classes")])

    def _filter_counts_chart(self) -> None:
        from workbench.render.formatting import plotly_text

        chart = self.counts_chart
        if chart is None:
            return
        cls, split = self.class_filter.value, self.split_filter.value
        target = None if cls is ANY else plotly_text(cls)
        labels = self._bars[0][0] if self._bars else ()
        keep = [k for k, lab in enumerate(labels) if target is None or lab == target]
        shown_split = None if split is ANY else plotly_text(split)
        tickvals, ticktext = self._ticks
        with chart.batch_update():
            for trace, (xs, ys) in zip(chart.data, self._bars):
                trace.x = [xs[k] for k in keep]
                trace.y = [ys[k] for k in keep]
                trace.visible = True if shown_split is None or trace.name == shown_split else "legendonly"
            if tickvals:
                kept = {labels[k] for k in keep}
                chart.layout.xaxis.tickvals = [v for v in tickvals if v in kept]
                chart.layout.xaxis.ticktext = [t for v, t in zip(tickvals, ticktext) if v in kept]

    # ------------------------------------------------------------------ bias

    def _draw_shifts(self) -> None:
        from workbench.render.formatting import fmt_float, fmt_int, fmt_p

        if self.bias is None:
            return
        if not self.bias.split_shifts:
            self.shifts.value = muted("No split shift: the dataset has fewer than two splits.")
            return
        split = self.split_filter.value
        shifts = [s for s in self.bias.split_shifts if split is ANY or split in (s.split_a, s.split_b)]
        rows = []
        for s in shifts[:MAX_TABLE_ROWS]:
            gaps = ", ".join(f"{label} {gap * 100:+.1f} pp" for label, gap in s.largest_gaps[:5])
            p_value = fmt_p(s.p_value)
            rows.append((f"{s.split_a} → {s.split_b}", fmt_float(s.js_divergence), fmt_float(s.cramers_v),
                         f"{s.chi2:.1f}", p_value, gaps, ", ".join(s.missing_in_b) or "—"))
        lead = muted("Class-distribution shift of each split against train: Jensen–Shannon divergence, "
                     "Cramér's V and χ² of the split × class table; gaps are share differences in "
                     "percentage points.")
        self.shifts.value = join([lead, table(["splits", "JS divergence", "Cramér's V", "χ²", "p", "largest gaps",
                                               "classes missing"], rows, numeric=[1, 2, 3, 4],
                                              more=max(0, len(shifts) - MAX_TABLE_ROWS), what="split pairs"),
                                  "" if shifts else muted(f"No split pair involves {split}."),
                                  muted(f" {fmt_int(len(self.bias.split_shifts))} split pairs in all.")])

    def _attribute_picker(self) -> tuple[Any, Any]:
        import ipywidgets as w

        attributes = sorted(self.bias.attributes, key=lambda a: -a.cramers_v) if self.bias else []
        options = [(f"{a.attribute} · V {a.cramers_v:.2f} ({a.strength})", n) for n, a in enumerate(attributes)]
        self._attributes = attributes
        picker = w.Dropdown(options=options, value=0 if options else None, description="Attribute",
                            disabled=not options, style={"description_width": "initial"},
                            layout=w.Layout(width="32em"))
        return picker, w.VBox()

    def _draw_attribute(self) -> None:
        import ipywidgets as w

        from workbench.render.figures import attribute_figure, attribute_figure_height
        from workbench.render.formatting import plotly_text

        if self.attribute.value is None:
            self.attribute_box.children = [w.HTML(muted("No attribute with 2–30 values to break labels down by."))]
            return
        assoc: AttributeAssociation = self._attributes[self.attribute.value]
        fig, hidden = attribute_figure(assoc)
        if fig is None:
            self.attribute_box.children = [w.HTML(muted("This attribute's table is empty."))]
            return
        cls = self.class_filter.value
        notes: list[Any] = [muted(f"{hidden:,} less frequent labels not drawn.")] if hidden else []
        if cls is not ANY:
            heat = fig.data[0]
            keep = [k for k, lab in enumerate(heat.y) if lab == plotly_text(cls)]
            heat.update(y=[heat.y[k] for k in keep], z=[heat.z[k] for k in keep], text=[heat.text[k] for k in keep])
            if not keep:
                notes = [join(["Class ", bold(cls), " does not occur in this attribute's table."])]
        widget = figure_widget(fig, height=max(200, attribute_figure_height(len(fig.data[0].y))))
        self.attribute_box.children = [widget, *([w.HTML(join(notes))] if notes else [])]

    # ------------------------------------------------------------------ filters

    def _apply(self) -> None:
        self._filter_counts_chart()
        self._draw_readiness()
        self._draw_shifts()
        self._draw_attribute()


def _imbalance(bal: BalanceResult) -> Html:
    from workbench.render.formatting import fmt_pct

    verdict = badge("rule met", "ok") if bal.meets_ratio else badge(f"{len(bal.below_ratio)} below the rule", "bad")
    parts: list[Any] = [f"Smallest / largest class on {bal.basis}: ", bold(fmt_pct(bal.imbalance_ratio)),
                        f" (rule: no class under {fmt_pct(bal.min_ratio, 0)} of the most common) ", verdict]
    if bal.rarest is not None:
        parts += [Html("<br>"), muted("rarest: "), bold(bal.rarest), muted(" · most common: "),
                  bold(bal.most_common)]
    if bal.below_ratio:
        parts += [Html("<br>"), "Below the rule: ", join([bold(c) for c in bal.below_ratio], ", "), ". ",
                  muted("Remedies: targeted collection, augmentation or oversampling of these classes, "
                        "or a weighted loss.")]
    if bal.n_unlabeled:
        parts += [Html("<br>"), muted(f"{bal.n_unlabeled:,} samples without a label.")]
    if bal.negative_share is not None:
        parts += [Html("<br>"), f"Images without objects (negatives): {fmt_pct(bal.negative_share)}"]
    return join(parts)


def _associations(bias: BiasResult) -> Html:
    from workbench.render.formatting import fmt_p
    from workbench.results import STRENGTH_BANDS

    ranked = sorted(bias.attributes, key=lambda a: -a.cramers_v)
    rows = [(a.attribute, f"{a.n_levels:,}", f"{a.cramers_v:.3f}", badge(a.strength, _STRENGTH_TONES[a.strength]),
             f"{a.chi2:.1f}", fmt_p(a.p_value))
            for a in ranked[:MAX_TABLE_ROWS]]
    bands = ", ".join(f"≥ {low} {name}" for low, name in STRENGTH_BANDS)
    parts: list[Any] = [muted(f"How strongly each attribute goes with the label (Cramér's V: {bands})."),
                        table(["attribute", "levels", "Cramér's V", "strength", "χ²", "p"], rows,
                              numeric=[1, 2, 4, 5], more=max(0, len(ranked) - MAX_TABLE_ROWS),
                              what="attributes")]
    if bias.skipped_attributes:
        parts += [muted("Not analysed: "),
                  join([join([bold(name), f" ({why})"]) for name, why in bias.skipped_attributes], "; ")]
    return join(parts)
