"""Pagination for long lists, so a panel builds a bounded number of widgets whatever the result's size."""

from __future__ import annotations

from typing import Callable


class Pager:
    """Previous/next buttons and a "page i of n" line over ``n_items`` items.

    ``on_change`` is called with no argument after the page changes; the owner then
    redraws ``items[pager.start:pager.stop]``.

    Example:
        >>> pager = Pager(page_size=20, on_change=redraw)  # doctest: +SKIP
        >>> pager.reset(n_items=10_000)  # doctest: +SKIP
        >>> rows = issues[pager.start:pager.stop]  # doctest: +SKIP
    """

    def __init__(self, *, page_size: int, on_change: Callable[[], None], what: str = "items") -> None:
        import ipywidgets as w

        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.page_size = page_size
        self.page = 0
        self.n_items = 0
        self.what = what
        self._on_change = on_change
        self.previous = w.Button(description="◀ Previous", tooltip="previous page",
                                 layout=w.Layout(width="auto"))
        self.next = w.Button(description="Next ▶", tooltip="next page", layout=w.Layout(width="auto"))
        self.label = w.HTML()
        self.previous.on_click(lambda _: self.go(self.page - 1))
        self.next.on_click(lambda _: self.go(self.page + 1))
        self.widget = w.HBox([self.previous, self.next, self.label], layout=w.Layout(align_items="center"))
        self.widget.add_class("wb-pager")
        self._sync()

    @property
    def n_pages(self) -> int:
        return max(1, -(-self.n_items // self.page_size))

    @property
    def start(self) -> int:
        return self.page * self.page_size

    @property
    def stop(self) -> int:
        return min(self.n_items, self.start + self.page_size)

    def reset(self, n_items: int) -> None:
        """Start over at the first page of ``n_items`` items (does not call ``on_change``)."""
        self.n_items = max(0, int(n_items))
        self.page = 0
        self._sync()

    def go(self, page: int) -> None:
        """Show ``page`` (clamped to the existing pages) and call ``on_change``."""
        page = min(max(0, page), self.n_pages - 1)
        if page != self.page:
            self.page = page
            self._sync()
            self._on_change()

    def _sync(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.n_pages - 1
        if self.n_items == 0:
            self.label.value = f"no {self.what}"
        else:
            self.label.value = (f"page {self.page + 1:,} of {self.n_pages:,} · {self.what} "
                                f"{self.start + 1:,}–{self.stop:,} of {self.n_items:,}")
