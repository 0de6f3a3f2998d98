"""Write a `Table` as CSV (pandas, numbers), Markdown (own renderer) and LaTeX (pandas `Styler`, booktabs).

The CSV keeps full-precision numbers for further analysis; Markdown and LaTeX show the cells as printed
in the HTML report, with the same bold/underline marks. The LaTeX needs ``\\usepackage{booktabs,xcolor}``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cddgan.io import atomic_path, write_text
from cddgan.report.tables import Cell, Table

# Unicode that LaTeX's default setup may not print, in math or ASCII form.
_LATEX_SYMBOLS = {"±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "Δ": r"$\Delta$", "–": "--",
                  "—": "---", "×": r"$\times$"}
_LATEX_TONES = {"better": "textcolor:{green!50!black}--rwrap;", "worse": "textcolor:{red!70!black}--rwrap;",
                "failed": "textcolor:{red!70!black}--rwrap;"}


def export_table(table: Table, tables_dir: Path) -> dict[str, Path]:
    """Write tables_dir/{id}.csv, .md and .tex atomically; return the paths by suffix."""
    tables_dir = Path(tables_dir)
    paths = {suffix: tables_dir / f"{table.id}.{suffix}" for suffix in ("csv", "md", "tex")}
    with atomic_path(paths["csv"]) as tmp:
        table.frame.to_csv(tmp, index=False)
    write_text(paths["md"], to_markdown(table))
    write_text(paths["tex"], to_latex(table))
    return paths


def _md_cell(cell: Cell) -> str:
    text = cell.text.replace("|", "\\|")
    if cell.mark == "best":
        text = f"**{text}**"
    elif cell.mark == "second":
        text = f"<u>{text}</u>"
    if cell.sub:
        sub = cell.sub.replace("|", "\\|")
        text += f" ({sub})"
    return text


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table; group labels become italic rows; notes follow as text."""
    header = "| " + " | ".join(c.name for c in table.columns) + " |"
    align = "| " + " | ".join("---:" if c.numeric else ":---" for c in table.columns) + " |"
    lines = [f"### {table.title}", "", header, align]
    for group in table.groups:
        if group.label and len(table.groups) > 1:
            lines.append("| " + " | ".join([f"*{group.label}*"] + [""] * (len(table.columns) - 1)) + " |")
        for row in group.rows:
            lines.append("| " + " | ".join(_md_cell(c) for c in row.cells) + " |")
    lines.append("")
    lines += [note for note in table.notes]
    return "\n".join(lines) + "\n"


def _latex_styles(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for i, row in enumerate(table.rows()):
        for j, cell in enumerate(row.cells):
            props = ""
            if cell.mark == "best":
                props += "textbf:--rwrap;"
            elif cell.mark == "second":
                props += "underline:--rwrap;"
            props += _LATEX_TONES.get(cell.tone, "")
            styles.iat[i, j] = props
    return styles


def to_latex(table: Table) -> str:
    """A booktabs tabular (\\toprule, \\midrule, \\bottomrule) with a \\midrule and a label per row group."""
    names = [c.name for c in table.columns]
    body = [[c.text for c in row.cells] for row in table.rows()]
    frame = pd.DataFrame(body, columns=pd.Index(range(len(names))))
    styler = frame.style.hide(axis="index")
    styler = styler.format(escape="latex").format_index(escape="latex", axis=1)
    styler = styler.relabel_index(names, axis=1)
    styler = styler.apply(lambda f: _latex_styles(table, f), axis=None)
    column_format = "".join("r" if c.numeric else "l" for c in table.columns)
    latex = styler.to_latex(hrules=True, column_format=column_format)
    latex = _insert_group_rules(latex, table)
    for symbol, replacement in _LATEX_SYMBOLS.items():
        latex = latex.replace(symbol, replacement)
    head = [f"% {table.title}", "% needs \\usepackage{booktabs} and \\usepackage{xcolor}"]
    tail = [f"% {note}" for note in table.notes]
    return "\n".join(head) + "\n" + latex + "\n".join(tail) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text (used for the group labels we add ourselves)."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _insert_group_rules(latex: str, table: Table) -> str:
    """Add a \\midrule and an italic group label before every row group after the first."""
    if len(table.groups) < 2:
        return latex
    lines = latex.splitlines()
    start = lines.index("\\midrule") + 1
    out = lines[:start]
    body = lines[start:]
    row_index = 0
    boundaries = {}
    for group in table.groups:
        boundaries[row_index] = group.label
        row_index += len(group.rows)
    seen = 0
    for line in body:
        if line.endswith("\\\\") and seen in boundaries:
            label = latex_escape(boundaries.pop(seen))
            out += ["\\midrule"] if seen > 0 else []
            out.append(f"\\multicolumn{{{len(table.columns)}}}{{l}}{{\\emph{{{label}}}}} \\\\")
        out.append(line)
        if line.endswith("\\\\"):
            seen += 1
    return "\n".join(out) + "\n"
