"""The offline before/after page of `cddgan apply --compare`: DIR/compare.html, one slider per image.

It reuses the report's slider (the jinja2 macro in report/templates/slider.html.j2, static/report.css and
static/report.js, copied beside the page), so the two pages cannot drift apart. The page's folder is
self-contained: the inputs are copied as PNG under DIR/compare/before/, the outputs are the files apply
wrote, and every link is relative. The templates are read from the package folder directly, not through
`cddgan.report`, whose import would pull in the report's plotting stack for one page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import jinja2

from cddgan.io import atomic_path, write_text

REPORT_DIR = Path(__file__).resolve().parent / "report"
PAGE = "compare.html"
AUX_DIR = "compare"  # beside the page: before/ (the inputs as PNG) and static/ (the report's CSS and JS)
STATIC_FILES = ("report.css", "report.js")


@dataclass
class Pair:
    """One image of the page: its name, the input's PNG copy and the output, both relative to the page."""

    name: str
    before: PurePosixPath
    after: PurePosixPath
    size: str
    width: int = 320


def before_path(out_dir: Path, output_rel: PurePosixPath) -> Path:
    """Where the PNG copy of the input whose output is `output_rel` goes."""
    return out_dir / AUX_DIR / "before" / Path(output_rel)


def write_page(out_dir: str | Path, pairs: Sequence[Pair], title: str, byline: str) -> Path:
    """Write DIR/compare.html and copy the report's static files beside it; returns the page's path."""
    out_dir = Path(out_dir)
    static = REPORT_DIR / "static"
    for name in STATIC_FILES:
        with atomic_path(out_dir / AUX_DIR / "static" / name) as tmp:
            tmp.write_bytes((static / name).read_bytes())
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPORT_DIR / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    items = [
        {
            "name": pair.name,
            "size": pair.size,
            "width": max(320, pair.width),
            "slider": {
                "image_id": pair.name,
                "before": _url(pair.before),
                "after": _url(pair.after),
                "before_label": "input",
                "after_label": "dehazed",
            },
        }
        for pair in pairs
    ]
    html = env.get_template("compare.html.j2").render(
        title=title, byline=byline, items=items, static=f"{AUX_DIR}/static", before_dir=f"{AUX_DIR}/before"
    )
    page = out_dir / PAGE
    write_text(page, html)
    return page


def _url(path: PurePosixPath) -> str:
    """A relative URL for a file path (spaces, #, ? and non-ASCII names quoted)."""
    return quote(str(path))
