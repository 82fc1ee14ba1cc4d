"""``report.md`` and ``report.html`` from ONE template (``maps/templates/report.j2``).

The template holds every heading, sentence, table and figure once; a small *format* object
(:class:`MarkdownFormat` or :class:`HtmlFormat`) turns them into Markdown or HTML, so the two
reports cannot drift. Everything is rendered from the typed summary
(:class:`maps.summary_types.Summary`) and the headline derived from it
(:func:`maps.headline.headline`), so the reports agree with ``summary.json``.

Input-derived text passes through the format's ``t`` (Markdown escaping, or
:func:`maps.escape.escape_text` for HTML) before it reaches the page; numbers are formatted by
``n``. The HTML page is self-contained (no scripts, no network; figures as ``data:`` PNGs) and
prints on A4 (page breaks before each part, headings kept with what follows).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import jinja2

from maps.escape import escape_text
from maps.headline import WEEKS_PER_YEAR, headline
from maps.report_baseline import baseline_rows
from maps.report_rows import n, report_rows
from maps.summary_types import Summary

__all__ = ["FigureRef", "HtmlFormat", "MarkdownFormat", "md_text", "n", "render_report"]


@dataclass(frozen=True)
class FigureRef:
    """A figure written next to the report: ``<stem>.png`` and ``<stem>.svg``."""

    stem: str
    alt: str
    png: bytes


def md_text(value: object) -> str:
    """Text from inputs made safe for Markdown (no HTML, no table-column breaks)."""
    text = str(value).replace("\\", "\\\\")
    for ch in "`*_[]#|~":
        text = text.replace(ch, "\\" + ch)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", " ").replace("\r", " ")


class MarkdownFormat:
    name = "md"

    def t(self, value: object) -> str:
        return md_text(value)

    def b(self, value: str) -> str:
        """Bold around already-formatted text."""
        return f"**{value}**"

    def h(self, level: int, text: str, *, page: bool = False) -> str:
        return f"\n{'#' * level} {text}\n\n"

    def p(self, text: str, *, cls: str = "") -> str:
        return f"{text}\n\n"

    def warn(self, text: str) -> str:
        return f"> {text}\n\n"

    def ul(self, items: Sequence[str]) -> str:
        return "".join(f"- {i}\n" for i in items) + "\n"

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], *, flagged: Sequence[bool] = (),
              left: int = 1, cls: str = "") -> str:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(":---" if i < left else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n\n"

    def figure(self, fig: FigureRef, caption: str) -> str:
        return f"![{md_text(fig.alt)}]({fig.stem}.png)\n\n*{caption}* (also `{fig.stem}.svg`)\n\n"

    def figures(self, figs: Sequence[tuple[FigureRef, str]]) -> str:
        return "".join(self.figure(f, c) for f, c in figs)

    def begin(self, cls: str) -> str:
        return ""

    def end(self) -> str:
        return ""


def _cls(name: str) -> str:
    return f' class="{name}"' if name else ""


class HtmlFormat:
    name = "html"

    def t(self, value: object) -> str:
        return escape_text(value)

    def b(self, value: str) -> str:
        return f"<b>{value}</b>"

    def h(self, level: int, text: str, *, page: bool = False) -> str:
        attr = ' class="page"' if page else ""
        return f"<h{level}{attr}>{text}</h{level}>\n"

    def p(self, text: str, *, cls: str = "") -> str:
        return f"<p{_cls(cls)}>{text}</p>\n"

    def warn(self, text: str) -> str:
        return f'<p class="warn">{text}</p>\n'

    def ul(self, items: Sequence[str]) -> str:
        return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>\n"

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], *, flagged: Sequence[bool] = (),
              left: int = 1, cls: str = "") -> str:
        def cells(tag: str, row: Sequence[str]) -> str:
            return "".join(f"<{tag}{_cls('t' if i < left else '')}>{c}</{tag}>" for i, c in enumerate(row))

        flags = list(flagged) + [False] * (len(rows) - len(flagged))
        body = "".join(f"<tr{_cls('flag' if f else '')}>{cells('td', r)}</tr>" for r, f in zip(rows, flags,
                                                                                               strict=True))
        return (f"<table{_cls(cls)}><thead><tr>{cells('th', header)}</tr></thead>"
                f"<tbody>{body}</tbody></table>\n")

    def figure(self, fig: FigureRef, caption: str) -> str:
        data = base64.b64encode(fig.png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape_text(fig.alt)}">'
                f"<figcaption>{caption} (also <code>{fig.stem}.png</code> and <code>{fig.stem}.svg</code>)"
                "</figcaption></figure>\n")

    def figures(self, figs: Sequence[tuple[FigureRef, str]]) -> str:
        return "".join(self.figure(f, c) for f, c in figs)

    def begin(self, cls: str) -> str:
        return f'<section class="{cls}">'

    def end(self) -> str:
        return "</section>\n"


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: resources.files("maps").joinpath("templates", name).read_text("utf-8")),
    autoescape=False,  # every value passes through the format's t() or n(); see the module docstring
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
)


def render_report(summary: Summary, *, fmt: MarkdownFormat | HtmlFormat,
                  figures: dict[str, FigureRef] | None = None) -> str:
    """The whole report as text; ``figures`` by role: ``maps``, ``load``, ``travel``."""
    h = headline(summary)
    body = _ENV.get_template("report.j2").render(
        s=summary, h=h, f=fmt, n=n, figs=figures or {}, weeks=WEEKS_PER_YEAR, rows=report_rows(summary, h, fmt),
        since=baseline_rows(summary.get("since_baseline"), fmt),
    )
    if isinstance(fmt, MarkdownFormat):
        while "\n\n\n" in body:
            body = body.replace("\n\n\n", "\n\n")
        return body.lstrip("\n")
    css = resources.files("maps").joinpath("templates", "report.css").read_text("utf-8")
    title = escape_text(summary["scenario"]["title"])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{title}</title><style>{css}</style></head><body>\n{body}</body></html>\n"
    )
