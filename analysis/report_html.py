"""The report's page: sections, tables, embedded figures, written as one self-contained HTML file.

A section is a function ``(rep, runs, tasks) -> None`` that adds headings, notes, tables and figures to ``rep``
(:data:`Section`); :func:`analysis.report.build_report` calls them in order. What a section needs beyond the
runs and tasks frames is on the :class:`Report`: the source ``paths``, the ``studies`` found and ``top``.
"""

from __future__ import annotations

import base64
import html
import os
from typing import Callable, List, Sequence, Tuple

import pandas as pd

from birsweep.tracking.figures import figure_png

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
td { white-space: nowrap; } td:first-child { white-space: normal; min-width: 14em; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
.note { color: #666; font-size: .9em; } code { background: #f3f3f3; padding: 0 .2em; }
nav a { margin-right: 1em; }
"""

# Marks <body data-images-loaded="ok/total"> once the page has loaded: lets a headless browser check that every
# embedded figure decoded (the report needs no script otherwise).
IMAGE_CHECK = """
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } }
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


def pct(mean: float, err: float) -> str:
    """``mean ± err`` in % (2 decimals), a dash when there is no mean."""
    if pd.isna(mean):
        return "–"
    return f"{100 * mean:.2f} ± {100 * err:.2f}" if not pd.isna(err) else f"{100 * mean:.2f}"


def num(value, pct: bool = False) -> str:
    """A table cell: missing as a dash, fractions as % when ``pct``, floats to 4 significant digits."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if pct:
        return f"{100 * float(value):.2f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Report:
    """Collects sections and figures, then writes the HTML and the PNGs."""

    def __init__(
        self,
        out: str,
        title: str,
        paths: Sequence[str] = (),
        studies: Sequence[Tuple[str, str]] = (),
        top: int = 10,
    ):
        self.out, self.title = os.path.abspath(out), title
        self.paths, self.studies, self.top = list(paths), list(studies), top
        stem = os.path.splitext(os.path.basename(self.out))[0]
        self.fig_dir = os.path.join(os.path.dirname(self.out), f"{stem}_figures")
        self.parts: List[str] = []
        self.nav: List[Tuple[str, str]] = []
        self.figures: List[str] = []

    def section(self, anchor: str, heading: str) -> None:
        self.nav.append((anchor, heading))
        self.parts.append(f'<h2 id="{anchor}">{html.escape(heading)}</h2>')

    def h3(self, text: str, anchor: str = "") -> None:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h3{ident}>{html.escape(text)}</h3>")

    def text(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>' if cls else f"<p>{html.escape(text)}</p>")

    def table(self, frame: pd.DataFrame) -> None:
        self.parts.append(frame.to_html(index=False, escape=True, na_rep="–", border=0))

    def figure(self, name: str, fig, caption: str) -> None:
        png = figure_png(fig)
        os.makedirs(self.fig_dir, exist_ok=True)
        path = os.path.join(self.fig_dir, f"{name}.png")
        with open(path, "wb") as f:
            f.write(png)
        self.figures.append(path)
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def write(self, preamble: str) -> None:
        nav = " ".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h in self.nav)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>\n<body>"
            f"<h1>{html.escape(self.title)}</h1>{preamble}<nav>{nav}</nav>\n"
            + "\n".join(self.parts)
            + f"\n<script>{IMAGE_CHECK}</script></body></html>\n"
        )
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        tmp = self.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, self.out)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-").lower() or "x"


Section = Callable[[Report, pd.DataFrame, pd.DataFrame], None]
