"""The report's pages: a front page read top down (sections, in order) and detail pages one click away.

A front-page section and a detail page are each one registration (`register_section`, `register_page`, used by
analysis.sections); their build functions take the `Report` (the inputs, drawn once) and the `Page` being written,
and return HTML ("" leaves a section out; a page whose `when` is false is neither written nor linked). A page draws
a figure through `page.figure` (each figure's PNG and PDF are written once: drawing a stem twice raises), writes a
table through `page.table` (the front page holds at most FRONT_PAGE_ROWS table rows: a table past that shows its
first rows and links the rest) and links a detail page through `page.link`. The front page ends with a link to every
written detail page and CSV, so every table of the report is one click away.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainables.spec.registry import Registry

from . import figures
from .ablation import Ablation
from .evidence import Evidence

HTML_FILE = "index.html"
FRONT_PAGE_ROWS = 60  # table rows on the front page at most: it shows pictures and verdicts, the tables sit behind
PNG_DPI = 100  # PNGs for a screen; the PDF beside each is vector (images in it at their own pixels)
ExplanationLoader = Callable[[str, str], Mapping[str, Mapping[str, np.ndarray]]]  # (task, backbone) -> label -> arrays

STYLE = """
body { font-family: sans-serif; margin: 1.2em 1.5em; max-width: 1400px; color: #222; }
h1 { font-size: 1.5em; margin: 0 0 0.2em; } h2 { font-size: 1.2em; margin: 1.2em 0 0.3em; }
h3 { font-size: 1em; margin: 0.8em 0 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.fail td { background: #fde0e0; }
span.fail { color: #a00; font-weight: bold; }
.run { font-size: 14px; margin: 0 0 0.3em; } .standin { color: #8a4b00; font-weight: bold; }
.warning { background: #fff3cd; padding: 0.3em 0.5em; border-left: 4px solid #e0a800; margin: 0.3em 0; }
.missing { background: #fde0e0; padding: 0.3em 0.5em; border-left: 4px solid #c00; margin: 0.3em 0; }
figure { display: inline-block; margin: 0.4em 0.6em 0.6em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figure.half { max-width: 620px; }
figcaption { font-size: 12px; }
.links a, figcaption a { margin-right: 0.6em; }
.small { font-size: 12px; color: #555; }
code { background: #f3f3f3; padding: 1px 3px; }
nav { font-size: 13px; margin: 0.4em 0 0.8em; }
"""


@dataclass(frozen=True)
class Section:
    """A part of the front page: its heading and the HTML below it (build(report, page) -> "" to leave it out)."""
    key: str  # the section's id on the page (link target "index.html#<key>")
    title: str
    build: Callable[["Report", "Page"], str]
    order: float  # top to bottom


@dataclass(frozen=True)
class DetailPage:
    """A page of its own, <name>.html, linked from the figures it explains and from the front page's index."""
    name: str
    title: str
    build: Callable[["Report", "Page"], str]
    summary: str = ""  # one line in the front page's index of pages
    when: Callable[["Report"], bool] = lambda report: True  # False: not written, not linked (e.g. nothing certified)


SECTIONS: Registry[Section] = Registry("report section")
DETAIL_PAGES: Registry[DetailPage] = Registry("report page")


def register_section(section: Section, *, replace: bool = False) -> Section:
    return SECTIONS.register(section.key, section, replace=replace)


def register_page(page: DetailPage, *, replace: bool = False) -> DetailPage:
    return DETAIL_PAGES.register(page.name, page, replace=replace)


@dataclass
class Report:
    """The inputs of every page and the bookkeeping of what was drawn and linked."""
    frame: pd.DataFrame
    out_dir: Path
    sweep: str = ""
    profile: str = ""
    evidence: Evidence | None = None
    smoothing: pd.DataFrame | None = None
    corruptions: pd.DataFrame | None = None  # analysis.load.load_corruptions's frame
    ablation: Ablation | None = None  # analysis.ablation's claims and trade-off plane (None: no ablation ran)
    explanations: ExplanationLoader | None = None
    problems: list[str] = field(default_factory=list)  # one line each: what could not be drawn or read
    csv_files: list[str] = field(default_factory=list)
    drawn: dict[str, str] = field(default_factory=dict)  # figure stem -> the page it is on
    links: dict[str, set[str]] = field(default_factory=dict)  # target file -> pages linking it
    written: set[str] = field(default_factory=set)  # detail pages written so far (only those are linked)
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))

    def draw(self, figure: Figure, stem: str, page: str) -> None:
        if stem in self.drawn:
            raise ValueError(f"figure {stem!r} drawn twice (on {self.drawn[stem]} and {page}): a figure has one page")
        figures.save_figure(figure, self.out_dir, stem, dpi=PNG_DPI)
        self.drawn[stem] = page


class Page:
    """One HTML file being written: its figures, tables and links go through here."""

    def __init__(self, report: Report, name: str, row_cap: int | None = None) -> None:
        self.report, self.name, self.row_cap, self.rows = report, name, row_cap, 0

    @property
    def file(self) -> str:
        return HTML_FILE if self.name == "index" else f"{self.name}.html"

    def link(self, target: str, text: str, anchor: str = "") -> str:
        """A link to a detail page by name ("paired"), or to a file ("claims.csv")."""
        file = target if "." in target else ("index.html" if target == "index" else f"{target}.html")
        if "." not in target and target != "index" and target not in self.report.written:
            return ""  # a detail page without content (e.g. no trial certified) is not written
        self.report.links.setdefault(file, set()).add(self.file)
        return f'<a href="{file}{"#" + anchor if anchor else ""}">{html.escape(text)}</a>'

    def figure(self, figure: Figure, stem: str, caption: str, *, links: Iterable[tuple[str, str, str]] = (),
               wide: bool = False) -> str:
        """Writes <stem>.png and <stem>.pdf and returns the <figure>; links: (page, text, anchor) of the tables
        that explain it."""
        self.report.draw(figure, stem, self.file)
        more = " ".join(filter(None, (self.link(page, text, anchor) for page, text, anchor in links)))
        return (f'<figure class="{"wide" if wide else "half"}" id="fig-{stem}"><img src="{stem}.png" '
                f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)} '
                f'<a href="{stem}.pdf">PDF</a>{" · tables: " + more if more else ""}</figcaption></figure>')

    def table(self, header: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str] | None = None,
              *, rest: tuple[str, str] | None = None) -> str:
        """Cells are HTML already. On a capped page only the rows that fit are shown, the rest behind rest =
        (page, anchor)."""
        rows = list(rows)
        classes = list(row_classes) if row_classes is not None else [""] * len(rows)
        shown = len(rows) if self.row_cap is None else max(0, min(len(rows), self.row_cap - self.rows - 1))
        if self.row_cap is not None and shown < len(rows):
            target = rest or ("index", "")
            note = (f'<p class="small">{len(rows) - shown} more row(s): '
                    f'{self.link(target[0], "the whole table", target[1])}</p>')
        else:
            note = ""
        if shown == 0 and rows:
            return note
        self.rows += shown + 1  # the header row counts
        return table_html(header, rows[:shown], classes[:shown]) + note


def table_html(header: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str] | None = None) -> str:
    rows = list(rows)
    classes = list(row_classes) if row_classes is not None else [""] * len(rows)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join((f'<tr class="{c}">' if c else "<tr>") + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row, c in zip(rows, classes))
    return f"<table><tr>{head}</tr>{body}</table>"


def document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_pages(report: Report) -> Path:
    """Every detail page with content, then the front page (its sections, in order, and the index of pages);
    returns the front page's path."""
    report.out_dir.mkdir(parents=True, exist_ok=True)
    experiment = report.frame.attrs.get("experiment", "?")
    written = [detail for detail in DETAIL_PAGES.values() if detail.when(report)]
    report.written = {detail.name for detail in written}
    for detail in written:
        page = Page(report, detail.name)
        body = detail.build(report, page)
        back = f'<nav>{page.link("index", "← the front page")}</nav>'
        text = document(f"{experiment}: {detail.title}", f"{back}<h1>{html.escape(detail.title)}</h1>\n{body}")
        (report.out_dir / page.file).write_text(text, encoding="utf-8")
    front = Page(report, "index", row_cap=FRONT_PAGE_ROWS)
    parts = [f"<h1>Robustness report: {html.escape(experiment)}</h1>"]
    for section in sorted(SECTIONS.values(), key=lambda s: s.order):
        body = section.build(report, front)
        if body:
            heading = f"<h2>{html.escape(section.title)}</h2>" if section.title else ""
            parts.append(f'<section id="{section.key}">{heading}\n{body}</section>')
    pages = "".join(f"<li>{front.link(d.name, d.title)}{': ' + html.escape(d.summary) if d.summary else ''}</li>"
                    for d in written)
    files = " ".join(front.link(name, name) for name in report.csv_files)
    parts.append(f'<section id="pages"><h2>Every table, one click away</h2><ul class="links">{pages}</ul>'
                 f'<p class="small">Data (CSV): {files}</p></section>')
    path = report.out_dir / HTML_FILE
    path.write_text(document(f"{experiment}: robustness report", "\n".join(parts)), encoding="utf-8")
    return path
