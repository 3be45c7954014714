"""The panels' links to FiftyOne: the audited dataset (loaded on first use) and "Show in App" buttons.

"Show in App" sets ``session.view = dataset.select(ids)`` on a FiftyOne ``Session``, the
object :func:`workbench.review` returns. Any object with a writable ``view`` attribute
works the same way, which keeps the handler independent of how the App was opened.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from workbench.errors import AppNotConnected
from workbench.panels.markup import banner

logger = logging.getLogger(__name__)

#: What a "Show in App" button says when the panel has no App session.
NO_SESSION_HINT = "pass session=workbench.review(result) to see samples in the FiftyOne App"


class DatasetHandle:
    """The FiftyOne dataset a result was computed on, resolved on first use.

    Resolution order: the ``dataset`` given, the session's dataset when it has the result's
    name, else ``fiftyone.load_dataset(result.dataset_name)``.

    Example:
        >>> handle = DatasetHandle("pets")
        >>> handle.get()  # doctest: +SKIP
        Name: pets ...
    """

    def __init__(self, dataset_name: str, *, dataset: Any = None, session: Any = None) -> None:
        self.dataset_name = dataset_name
        self._dataset = dataset
        self._session = session

    def get(self) -> Any:
        """The dataset; raises ``LookupError`` (with what to do) when it does not exist."""
        if self._dataset is None:
            from_session = getattr(self._session, "dataset", None)
            if from_session is not None and getattr(from_session, "name", None) == self.dataset_name:
                self._dataset = from_session
            else:
                from workbench._fo import load_dataset

                self._dataset = load_dataset(self.dataset_name)
        return self._dataset


class StatusLine:
    """One line under a panel that says what the last button did (or why it could not)."""

    def __init__(self) -> None:
        import ipywidgets as w

        self.widget = w.HTML()
        self.widget.add_class("wb-status")

    def say(self, text: str, tone: str = "info") -> None:
        """Show ``text`` (escaped) in the colour of ``tone``."""
        self.widget.value = banner("", text, tone) if text else ""


def show_in_app(session: Any, dataset: Any, sample_ids: Sequence[str]) -> Any:
    """Point ``session`` at exactly ``sample_ids``, in that order; returns the view.

    Example:
        >>> session = workbench.review(result)  # doctest: +SKIP
        >>> show_in_app(session, dataset, cluster.sample_ids)  # doctest: +SKIP
    """
    from workbench.render.app_session import set_view

    return set_view(session, dataset.select(list(dict.fromkeys(sample_ids)), ordered=True))


class AppLinker:
    """Makes "Show in App" buttons for one panel; each button shows the ids its callback returns.

    Without a session the buttons say so and, when clicked, explain how to get one.

    Example:
        >>> linker = AppLinker(handle, session, status)  # doctest: +SKIP
        >>> button = linker.button("Show in App", lambda: cluster.sample_ids)  # doctest: +SKIP
    """

    def __init__(self, handle: DatasetHandle, session: Any, status: StatusLine) -> None:
        self.handle = handle
        self.session = session
        self.status = status

    def button(self, description: str, ids: Callable[[], Sequence[str]], *, what: str = "samples") -> Any:
        """A button that shows ``ids()`` in the App (evaluated when clicked)."""
        import ipywidgets as w

        if self.session is None:
            button = w.Button(description=f"{description} (needs session)", tooltip=NO_SESSION_HINT,
                              icon="external-link", layout=w.Layout(width="auto"))
        else:
            button = w.Button(description=description, tooltip=f"show these {what} in the FiftyOne App",
                              icon="external-link", layout=w.Layout(width="auto"))
        button.add_class("wb-show-in-app")
        button.on_click(lambda _: self.show(ids(), what=what))
        return button

    def show(self, sample_ids: Sequence[str], *, what: str = "samples") -> bool:
        """Set the session's view to ``sample_ids``; returns whether it did."""
        if self.session is None:
            self.status.say(f"No FiftyOne App session: {NO_SESSION_HINT} (e.g. "
                            "workbench.show(result, session=workbench.review(result))).", "warn")
            return False
        if not sample_ids:
            self.status.say(f"No {what} to show.", "warn")
            return False
        try:
            dataset = self.handle.get()
        except LookupError as exc:
            self.status.say(str(exc), "bad")
            return False
        try:
            view = show_in_app(self.session, dataset, sample_ids)
        except AppNotConnected as exc:
            self.status.say(str(exc), "bad")
            return False
        logger.info("showing %d samples of %r in the App", len(view), dataset.name)
        self.status.say(f"Showing {len(view):,} {what} in the FiftyOne App.", "ok")
        return True
