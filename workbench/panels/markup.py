"""HTML snippets for the panels' ``ipywidgets.HTML`` widgets.

``ipywidgets.HTML`` places its value in the page as markup, so every string that comes
from a dataset (class names, file paths, split names, attribute levels, messages) goes
through :func:`esc` here. Snippets built by these helpers are :class:`Html` (a ``str``
marked as already safe); anything else handed to them is escaped. Styles are inline, so a
panel looks the same in JupyterLab, Notebook 7 and VS Code.
"""

from __future__ import annotations

import html
from typing import Any, Iterable, Sequence

#: Colours shared with the HTML report.
TONES: dict[str, tuple[str, str]] = {  # tone: (accent, background)
    "ok": ("#1e8e3e", "#e6f4ea"),
    "warn": ("#b06000", "#fef4e0"),
    "bad": ("#c5221f", "#fce8e6"),
    "info": ("#2f5bd3", "#ebf1fd"),
    "neutral": ("#5d6677", "#f1f3f6"),
    "muted": ("#9aa3b2", "#f5f6f8"),
}
_MUTED_INK = "#5d6677"


class Html(str):
    """A string of markup built by this module: inserted as is, never escaped again."""


def esc(value: Any) -> Html:
    """``value`` as text that HTML shows literally; ``None`` becomes an em dash.

    Example:
        >>> esc("<img src=x onerror=alert(1)>")
        '&lt;img src=x onerror=alert(1)&gt;'
    """
    if isinstance(value, Html):
        return value
    return Html("—" if value is None else html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Html:
    """Concatenate snippets, escaping the parts that are not :class:`Html` yet.

    Example:
        >>> join([bold("a"), "<b>"], " ")
        '<b>a</b> &lt;b&gt;'
    """
    return Html(sep.join(esc(p) for p in parts))


def bold(text: Any) -> Html:
    """``text`` in bold."""
    return Html(f"<b>{esc(text)}</b>")


def code(text: Any) -> Html:
    """``text`` in a monospace font, wrapping anywhere (for paths and model ids)."""
    return Html(f'<code style="font-size:0.92em;overflow-wrap:anywhere;word-break:break-all">{esc(text)}</code>')


def muted(text: Any) -> Html:
    """``text`` in the secondary colour."""
    return Html(f'<span style="color:{_MUTED_INK}">{esc(text)}</span>')


def heading(text: Any, level: int = 3) -> Html:
    """A section heading."""
    return Html(f'<h{level} style="margin:0.6em 0 0.3em">{esc(text)}</h{level}>')


def badge(text: Any, tone: str = "neutral") -> Html:
    """A small rounded label coloured by ``tone`` (a key of :data:`TONES`).

    Example:
        >>> "label conflict" in badge("label conflict", "bad")
        True
    """
    ink, bg = TONES.get(tone, TONES["neutral"])
    return Html(f'<span style="display:inline-block;padding:0 0.5em;border-radius:999px;font-size:0.8em;'
                f'white-space:nowrap;color:{ink};background:{bg}">{esc(text)}</span>')


def banner(title: Any, body: Any = "", tone: str = "warn") -> Html:
    """A coloured box with a bold title, for warnings and check states.

    Example:
        >>> "FALLBACK" in banner("FALLBACK", "CLIP unavailable")
        True
    """
    ink, bg = TONES.get(tone, TONES["warn"])
    return Html(f'<div style="border-left:5px solid {ink};background:{bg};padding:0.45em 0.8em;'
                f'border-radius:6px;margin:0.4em 0"><b style="color:{ink}">{esc(title)}</b> {esc(body)}</div>')


def card(title: Any, value: Any, detail: Any = "", tone: str = "neutral") -> Html:
    """One summary card: a small title, a big value and a detail line.

    Example:
        >>> "1,390" in card("Samples", "1,390", "classification")
        True
    """
    ink, _ = TONES.get(tone, TONES["neutral"])
    value_ink = ink if tone in ("bad", "muted") else "#1d2330"
    return Html(f'<div style="border:1px solid #e3e6eb;border-top:4px solid {ink};border-radius:8px;'
                f'padding:0.5em 0.8em;min-width:9em;flex:1 1 9em;background:#fff">'
                f'<div style="color:{_MUTED_INK};font-size:0.78em;text-transform:uppercase;letter-spacing:0.04em">'
                f'{esc(title)}</div>'
                f'<div class="wb-card-value" style="font-size:1.6em;font-weight:650;color:{value_ink}">'
                f"{esc(value)}</div>"
                f'<div style="color:{_MUTED_INK};font-size:0.8em;overflow-wrap:anywhere">{esc(detail)}</div></div>')


def card_row(cards: Iterable[Html]) -> Html:
    """Cards side by side, wrapping onto more lines when narrow."""
    return Html('<div style="display:flex;flex-wrap:wrap;gap:0.6em">' + "".join(cards) + "</div>")


def table(headers: Sequence[Any] | None, rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (),
          more: int = 0, what: str = "rows") -> Html:
    """A compact table; cells that are not :class:`Html` are escaped.

    Args:
        headers: Column titles; None for a table without a header row.
        rows: Cell values, one sequence per row.
        numeric: Indexes of right-aligned columns.
        more: Rows left out; adds an "N more" line under the table.
        what: What the rows are, for that line.

    Example:
        >>> "&lt;b&gt;" in table(["class"], [["<b>"]])
        True
    """
    right = set(numeric)
    cell = "padding:0.25em 0.6em;border-bottom:1px solid #e3e6eb;text-align:{};vertical-align:middle"
    head = "".join(f'<th style="{cell.format("right" if i in right else "left")};background:#f3f4f7">{esc(h)}</th>'
                   for i, h in enumerate(headers or ()))
    body = "".join("<tr>" + "".join(f'<td style="{cell.format("right" if i in right else "left")}">{esc(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    out = (f'<div style="overflow-x:auto"><table style="border-collapse:collapse;font-size:13px;width:100%">'
           f"{thead}<tbody>{body}</tbody></table></div>")
    if more:
        out += more_note(more, what)
    return Html(out)


def more_note(n: int, what: str) -> Html:
    """The line under a capped list: "N more … not shown"."""
    return Html(f'<p style="color:{_MUTED_INK};margin:0.4em 0">{n:,} more {esc(what)} not shown.</p>')


def figure_html(img: Html, caption: Html, *, width: int) -> Html:
    """A thumbnail with a caption under it, ``width`` pixels wide."""
    return Html(f'<figure style="margin:0;width:{width}px;flex:0 0 auto">{img}'
                f'<figcaption style="font-size:11px;line-height:1.3;color:{_MUTED_INK};overflow-wrap:anywhere">'
                f"{caption}</figcaption></figure>")


def strip(items: Iterable[Html], gap: str = "0.5em") -> Html:
    """Snippets in a wrapping row (a thumbnail grid)."""
    return Html(f'<div style="display:flex;flex-wrap:wrap;gap:{gap};align-items:flex-start">'
                + "".join(items) + "</div>")
