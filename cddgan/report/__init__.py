"""Aggregation, tables, figures and the HTML report.

Who does what: pandas aggregates the per-image metric files and writes the CSV exports (`aggregate`,
`tables`, `export`); `cddgan.stats` (numpy, scipy.stats, statsmodels) computes the intervals, paired tests,
power and convergence verdicts, which `comparisons` shapes into tables and `statstables` renders (see
docs/statistics.md); pandas' Styler writes the LaTeX (booktabs); seaborn on matplotlib draws the figures
(`plots`); Pillow resizes the images of the visual comparison (`visuals`); jinja2 renders the page
(`html`, templates/); the page's sorting and slider are our own static/report.js.
"""

from cddgan.report.aggregate import aggregate
from cddgan.report.html import build_report
from cddgan.report.published import load_published

__all__ = ["aggregate", "build_report", "load_published"]
