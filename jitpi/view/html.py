"""HTML renderings of ``jitpi.view.tables`` for the comparison page, and the page's frame.

The cells are the Markdown's, word for word (``tables.Cell``); HTML adds a colour swatch per backend,
the notes in small type, flagged values in red and, per row, the ids of its chart series, which the
page's script (``static/page.js``) highlights on hover. The style sheet and the script are package
data, inlined so that the page is one file that opens from file:// as well as from a server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from jitpi.registry import BACKENDS
from jitpi.view import tables

SERIES_PREFIXES = ("throughput", "precision")
"""The chart series' group ids start with these (``throughput-<backend>-<variant>-<device>``...)."""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def static(name: str) -> str:
    """A file of ``jitpi/view/static`` (the page's CSS and script)."""
    return resources.files("jitpi.view").joinpath("static", name).read_text(encoding="utf-8")


def swatch(backend: str) -> str:
    from jitpi.view.charts import COLOURS

    if backend not in BACKENDS:
        return escape(backend)
    return f'<span class=swatch style="background:{COLOURS.get(backend, "#999999")}"></span>{escape(backend)}'


def _cell(cell: tables.Cell, column: int) -> str:
    text = escape(cell.text)
    if column == 1:  # the backend
        text = swatch(cell.text)
    if cell.flag and cell.text:
        text = f'<span class="odd">{text}</span>'
    if cell.note:
        text += f" <small>{escape(cell.note)}</small>"
    return f"<td class=num>{text}</td>" if cell.numeric else f"<td>{text}</td>"


def render(table: tables.Table, *, ident: str = "", status_column: int | None = None) -> str:
    """A ``tables.Table`` as an HTML table (with ``ident`` as its id), notes below it."""
    numeric = table.numeric
    head = "".join(
        (f"<th class=num>{escape(title)}" if numeric[i] else f"<th>{escape(title)}")
        + (f"<br><small>{escape(note)}</small>" if note else "")
        + "</th>"
        for i, (title, note) in enumerate(table.columns)
    )
    body = []
    for index, row in enumerate(table.rows):
        series = table.series[index] if index < len(table.series) else ""
        state = table.states[index] if index < len(table.states) else ""
        attributes = f' class="{state}"' if state else ""
        attributes += f' data-series="{escape(series)}"' if series else ""
        cells = []
        for column, cell in enumerate(row):
            if column == status_column:
                cells.append(f"<td class=status>{escape(cell.text)}</td>")
            else:
                cells.append(_cell(cell, column))
        body.append(f"<tr{attributes}>{''.join(cells)}</tr>")
    ident_attribute = f" id={ident}" if ident else ""
    notes = "".join(f"<p class=note>{escape(note)}</p>" for note in table.notes)
    return (
        f"<table class=data{ident_attribute}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{notes}"
    )


def section(ident: str, title: str, source: str, content: str) -> str:
    return (
        f'<section id="{ident}"><h2 id="h-{ident}">{escape(title)}</h2>'
        f"<p class=source>Source: {source}</p>{content}</section>"
    )


def figure(svg: str, reading: str, table: str, *, stacked: bool = False) -> str:
    """A chart with the sentence on how to read it, and its numbers in a table beside it (below it
    where the table is too wide to share the row)."""
    return (
        f'<div class="pair{" stacked" if stacked else ""}"><figure>{svg}<figcaption><p class=read>{reading}'
        f"</p></figcaption></figure><div class=scroll>{table}</div></div>"
    )


def inline_svg(path: str | Path, prefix: str) -> str:
    """An SVG file as an element to inline: no XML prolog, scaled by CSS (viewBox kept), and every id
    that is not a series' own made unique to this chart (several SVGs share one document)."""
    text = Path(path).read_text(encoding="utf-8")
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    for _ in ("width", "height"):
        text = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", text, count=1)
    own = re.compile(rf"({'|'.join(SERIES_PREFIXES)})-")
    ids = {value for value in re.findall(r'\sid="([^"]+)"', text) if not own.match(value)}

    def rename(match: re.Match) -> str:
        value = match.group(2)
        return f"{match.group(1)}mpl-{prefix}-{value}" if value in ids else match.group(0)

    text = re.sub(r'(\sid=")([^"]+)(?=")', rename, text)
    text = re.sub(r"(#)([^\s#()\"']+)(?=[)\"'])", rename, text)
    return text.replace("<svg ", f'<svg role="img" aria-labelledby="h-{prefix}" ', 1)


def page(title: str, lead: str, sections: Sequence[str], footer: Sequence[tuple[str, str]], back: str) -> str:
    """The whole document: a header with the lead and a contents line, the sections, a footer of
    (term, description) pairs (descriptions are HTML), the style sheet and script inlined."""
    joined = "".join(sections)
    toc = "".join(
        f'<a href="#{ident}">{escape(name)}</a>'
        for ident, name in re.findall(r'<section id="([^"]+)"><h2 id="h-[^"]+">([^<]+)</h2>', joined)
    )
    terms = "".join(f"<dt>{escape(term)}</dt><dd>{text}</dd>" for term, text in footer)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        # No favicon request (a 404 where the page is served alone): an empty icon of its own.
        '<link rel=icon href="data:,">'
        f"<title>{escape(title)}</title><style>{static('page.css')}</style></head><body>"
        f'<header><p><a class=back href="../index.html">{escape(back)}</a></p>'
        f"<h1>{escape(title)}</h1><p>{lead}.</p><nav class=toc>{toc}</nav></header>"
        f"<main>{joined}</main><footer><dl>{terms}</dl></footer>"
        f"<script>{static('page.js')}</script></body></html>\n"
    )
