"""The "Duplicates & leakage" panel: clusters as thumbnail grids, leak pairs side by side, a threshold slider.

Each cluster and leak pair shows the evidence that linked it (``embedding``, ``embedding+thumbnail``,
``phash+embedding``, ``exact``...; see :mod:`workbench.checks.near_rule`), and the summary the
expected precision of near clusters when the audit calibrated its rule.

The slider re-filters the audit's cached k-NN graph with
:func:`workbench.checks.duplicates.refilter` (nothing is re-embedded or re-searched). A
result loaded from JSON has no graph (``result.artifacts`` is None): the slider is then
disabled and says why.
"""

from __future__ import annotations

import logging
import time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from workbench.panels.fiftyone_link import AppLinker, DatasetHandle, StatusLine
from workbench.panels.markup import Html, badge, bold, figure_html, heading, join, muted, strip
from workbench.panels.notices import check_notice, embedding_warning
from workbench.panels.paging import Pager
from workbench.io.boundary import blocked_paths
from workbench.panels.thumbnails import ThumbnailCache
from workbench.render.overlays import overlays_for

if TYPE_CHECKING:
    from workbench.results import AuditResult, DuplicateCluster, DuplicatesResult, LeakageResult, LeakPair

logger = logging.getLogger(__name__)

#: Clusters drawn per page.
CLUSTERS_PER_PAGE = 10
#: Leak pairs drawn per page.
PAIRS_PER_PAGE = 10
#: Members drawn per cluster; the rest are counted ("+N more").
MEMBERS_SHOWN = 8
#: Most thumbnails encoded per redraw of the cluster list (the rest show a placeholder).
MAX_NEW_THUMBNAILS = 100

#: (label, key) of the cluster filter.
CLUSTER_FILTERS: tuple[tuple[str, str], ...] = (
    ("all clusters", "all"),
    ("exact copies", "exact"),
    ("near duplicates", "near"),
    ("label conflicts", "conflict"),
    ("across splits", "spans"),
)


def duplicates_panel(result: AuditResult, *, dataset: Any = None, session: Any = None,
                     page_size: int = CLUSTERS_PER_PAGE) -> Any:
    """Duplicate clusters, cross-split leak pairs, and a near-duplicate threshold slider.

    Args:
        result: The audit to show.
        dataset: The audited FiftyOne dataset; defaults to the session's, else it is loaded by
            name when a "Show in App" button is first clicked.
        session: A FiftyOne App session (``workbench.review(result)``); "Show in App" buttons
            set its view to the cluster's or pair's samples.
        page_size: Clusters drawn per page.

    Returns:
        An ``ipywidgets.VBox``.

    Example:
        >>> from workbench.panels import duplicates_panel
        >>> duplicates_panel(result, session=workbench.review(result))  # doctest: +SKIP
    """
    import ipywidgets as w

    notice = check_notice(result, "duplicates")
    if notice is not None or result.duplicates is None:
        box = w.VBox([w.HTML(join([heading("Duplicates & leakage"), notice or ""]))])
        box.add_class("wb-duplicates")
        return box
    return _DuplicatesPanel(result, dataset=dataset, session=session, page_size=page_size).widget


def filter_clusters(duplicates: DuplicatesResult, key: str) -> list[DuplicateCluster]:
    """The clusters a filter key of :data:`CLUSTER_FILTERS` keeps, in the result's order.

    Example:
        >>> len(filter_clusters(result.duplicates, "exact"))  # doctest: +SKIP
        12
    """
    keep = {
        "all": lambda c: True,
        "exact": lambda c: c.kind == "exact",
        "near": lambda c: c.kind == "near",
        "conflict": lambda c: c.label_conflict,
        "spans": lambda c: c.spans_splits,
    }[key]
    return [c for c in duplicates.clusters if keep(c)]


class _DuplicatesPanel:
    """Widgets and state of one duplicates panel (the current threshold's clusters and leaks)."""

    def __init__(self, result: AuditResult, *, dataset: Any, session: Any, page_size: int) -> None:
        import ipywidgets as w

        self.result = result
        self.duplicates: DuplicatesResult = result.duplicates  # type: ignore[assignment]  # checked by the caller
        self.leakage: LeakageResult | None = result.leakage
        self.thumbs = ThumbnailCache(blocked=blocked_paths(result))
        self.overlays = overlays_for(result)  # box conflicts of detection copies, flagged objects
        self.status = StatusLine()
        self.linker = AppLinker(DatasetHandle(result.dataset_name, dataset=dataset, session=session), session,
                                self.status)

        self.slider, self.slider_note = self._threshold_slider()
        self.kind = w.Dropdown(options=CLUSTER_FILTERS, value="all", description="Show",
                               layout=w.Layout(width="16em"))
        self.summary = w.HTML()
        self.clusters = w.VBox()
        self.cluster_pager = Pager(page_size=page_size, on_change=self._draw_clusters, what="clusters")
        self.show_clusters = self.linker.button("Show listed clusters in App", self._listed_cluster_ids,
                                                what="duplicates")
        self.pairs = w.VBox()
        self.pair_pager = Pager(page_size=PAIRS_PER_PAGE, on_change=self._draw_pairs, what="leak pairs")
        self.show_pairs = self.linker.button("Show all leak pairs in App", self._leaked_ids, what="leaked samples")
        self.slider.observe(self._on_threshold, names="value")
        self.kind.observe(lambda _: self._redraw(), names="value")

        leak_notice = check_notice(result, "leakage")
        leak_parts = [w.HTML(leak_notice)] if leak_notice else [
            w.HBox([self.pair_pager.widget, self.show_pairs]), self.pairs]
        self.widget = w.VBox([
            w.HTML(join([heading("Duplicates & leakage"), embedding_warning(result) or ""])),
            w.HBox([self.slider, self.kind]),
            self.slider_note,
            self.summary,
            self.status.widget,
            w.HTML(heading("Clusters", 4)),
            w.HBox([self.cluster_pager.widget, self.show_clusters]),
            self.clusters,
            w.HTML(heading("Leak pairs (same picture in two splits)", 4)),
            *leak_parts,
        ])
        self.widget.add_class("wb-duplicates")
        self._redraw()

    # ------------------------------------------------------------------ controls

    def _threshold_slider(self) -> tuple[Any, Any]:
        import ipywidgets as w

        threshold = self.duplicates.near_threshold
        slider = w.FloatSlider(value=threshold, min=0.0, max=max(0.2, round(2 * threshold, 2)), step=0.001,
                               readout_format=".3f", continuous_update=False, description="Near threshold",
                               tooltip="cosine distance at or below which two images count as near duplicates",
                               style={"description_width": "initial"}, layout=w.Layout(width="30em"))
        note = w.HTML()
        note.add_class("wb-slider-note")
        if self.result.artifacts is None:
            slider.disabled = True
            note.value = muted(
                f"The threshold is fixed at the audit's {threshold:.3f}: re-filtering needs the audit's in-memory "
                "k-NN graph (result.artifacts), which a result loaded from JSON does not carry. Run "
                "workbench.audit(...) in this session to tune it without re-embedding.")
        else:
            note.value = muted(f"The audit used {threshold:.3f}. Moving the slider re-filters the cached "
                               "neighbour graph; nothing is re-embedded.")
        return slider, note

    def _on_threshold(self, change: dict[str, Any]) -> None:
        from workbench.checks.duplicates import refilter

        if self.result.artifacts is None:
            return
        started = time.perf_counter()
        self.duplicates, leaks = refilter(self.result.artifacts, float(change["new"]))
        if self.result.leakage is not None:
            self.leakage = leaks
        logger.debug("re-filtered duplicates at %.3f in %.3f s", change["new"], time.perf_counter() - started)
        self._redraw()

    def _listed_clusters(self) -> list[DuplicateCluster]:
        return filter_clusters(self.duplicates, self.kind.value)

    def _listed_cluster_ids(self) -> list[str]:
        return [sid for c in self._listed_clusters() for sid in c.sample_ids]

    def _leaked_ids(self) -> list[str]:
        pairs = self.leakage.pairs if self.leakage else ()
        return [sid for p in pairs for sid in (p.sample_id_a, p.sample_id_b)]

    # ------------------------------------------------------------------ drawing

    def _redraw(self) -> None:
        self.summary.value = self._summary()
        self.cluster_pager.reset(len(self._listed_clusters()))
        self.pair_pager.reset(len(self.leakage.pairs) if self.leakage else 0)
        self._draw_clusters()
        self._draw_pairs()

    def _summary(self) -> Html:
        from workbench.render.formatting import fmt_int, fmt_pct

        dup = self.duplicates
        n_exact = sum(c.kind == "exact" for c in dup.clusters)
        parts: list[Any] = [bold(fmt_int(len(dup.clusters))), " clusters (", fmt_int(n_exact), " exact, ",
                            fmt_int(len(dup.clusters) - n_exact), " near; ", fmt_int(dup.n_redundant),
                            f" redundant samples) at near threshold {dup.near_threshold:.3f}"]
        if self.leakage is not None:
            parts += ["; ", bold(fmt_int(len(self.leakage.pairs))), " leak pairs across splits (",
                      fmt_int(self.leakage.n_label_conflicts), " with conflicting labels)"]
        listed = len(self._listed_clusters())
        if listed != len(dup.clusters):
            parts += [f"; {fmt_int(listed)} listed"]
        if dup.expected_near_precision is not None:  # calibrated; a slider re-filter has no estimate
            parts += [Html("<br>"), muted(f"Expected precision (est.): exact copies 100%, images in near clusters "
                                          f"{fmt_pct(dup.expected_near_precision, 0)}, from the calibration's "
                                          "false-pair rate; it runs high on look-alike images (icons, clip art).")]
        return join(parts)

    def _draw_clusters(self) -> None:
        import ipywidgets as w

        clusters = self._listed_clusters()[self.cluster_pager.start:self.cluster_pager.stop]
        if not clusters:
            self.clusters.children = [w.HTML(muted("No clusters at this threshold and filter."))]
            return
        paths = [fp for c in clusters for fp in c.filepaths[:MEMBERS_SHOWN]]
        boxes = [self.overlays.get(s, []) for c in clusters for s in c.sample_ids[:MEMBERS_SHOWN]]
        images = iter(self.thumbs.render(paths, limit=MAX_NEW_THUMBNAILS, overlays=boxes))
        self.clusters.children = [self._cluster(c, images) for c in clusters]

    def _cluster(self, cluster: DuplicateCluster, images: Iterator[Html]) -> Any:
        import ipywidgets as w

        flags: list[Any] = [bold(f"Cluster {cluster.cluster_id}"),
                            badge(cluster.kind, "info" if cluster.kind == "exact" else "neutral"),
                            f"{len(cluster.sample_ids)} samples"]
        if cluster.kind == "near":
            flags.append(f"max distance {cluster.max_distance:.3f}")
        if cluster.evidence:
            flags.append(_evidence(cluster.evidence))
        if cluster.label_conflict:
            flags.append(badge("label conflict", "bad"))
        if cluster.spans_splits:
            flags.append(badge("across splits", "bad"))
        shown = list(zip(cluster.filepaths, cluster.splits, cluster.labels))[:MEMBERS_SHOWN]
        members = [figure_html(next(images), _caption(split, label, path), width=self.thumbs.px)
                   for path, split, label in shown]
        hidden = len(cluster.sample_ids) - MEMBERS_SHOWN
        if hidden > 0:
            members.append(muted(f"+{hidden:,} more"))
        ids = cluster.sample_ids
        button = self.linker.button("Show in App", lambda: ids, what="cluster members")
        box = w.VBox([w.HBox([w.HTML(join(flags, " ")), button], layout=w.Layout(align_items="center")),
                      w.HTML(strip(members))],
                     layout=w.Layout(border="1px solid #e3e6eb", padding="4px 8px", margin="0 0 6px 0"))
        box.add_class("wb-cluster")
        return box

    def _draw_pairs(self) -> None:
        import ipywidgets as w

        if self.leakage is None:
            return
        pairs = self.leakage.pairs[self.pair_pager.start:self.pair_pager.stop]
        if not pairs:
            self.pairs.children = [w.HTML(muted("No leak pairs at this threshold."))]
            return
        images = iter(self.thumbs.render([fp for p in pairs for fp in (p.filepath_a, p.filepath_b)],
                                         limit=2 * PAIRS_PER_PAGE,
                                         overlays=[self.overlays.get(s, []) for p in pairs
                                                   for s in (p.sample_id_a, p.sample_id_b)]))
        self.pairs.children = [self._pair(p, images) for p in pairs]

    def _pair(self, pair: LeakPair, images: Iterator[Html]) -> Any:
        import ipywidgets as w

        px = self.thumbs.px
        side_a = figure_html(next(images), _caption(pair.split_a, pair.label_a, pair.filepath_a), width=px)
        side_b = figure_html(next(images), _caption(pair.split_b, pair.label_b, pair.filepath_b), width=px)
        facts: list[Any] = [badge(pair.kind, "info" if pair.kind == "exact" else "neutral"),
                            f" distance {pair.distance:.3f}"]
        if pair.evidence:
            facts += [Html("<br>"), _evidence([pair.evidence])]
        if pair.label_conflict:
            facts += [" ", badge("label conflict", "bad")]
        arrow = Html('<div style="align-self:center;font-size:1.6em;color:#5d6677">↔</div>')
        info = Html(f'<div style="align-self:center">{join(facts)}</div>')
        ids = (pair.sample_id_a, pair.sample_id_b)
        button = self.linker.button("Show in App", lambda: ids, what="leaked samples")
        box = w.HBox([w.HTML(strip([side_a, arrow, side_b, info], gap="0.8em")), button],
                     layout=w.Layout(align_items="center", border="1px solid #e3e6eb", padding="4px 8px",
                                     margin="0 0 6px 0"))
        box.add_class("wb-leak-pair")
        return box


def _evidence(kinds: Iterable[str]) -> Html:
    """A badge per kind of evidence that linked the images, after the word "evidence"."""
    return join([muted("evidence"), *(badge(kind, "info") for kind in kinds)], " ")


def _caption(split: str | None, label: str | None, filepath: str | None) -> Html:
    name = PurePath(filepath).name if filepath else ""
    return join([bold("(no label)" if label is None else label), Html("<br>"),
                 "(no split)" if split is None else split, Html("<br>"), muted(name)])
