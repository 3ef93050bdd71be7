"""What a notebook shows in the report: glued values, captioned figures and captioned tables.

    from lib import report
    report.glue("test_mse", "0.0114 ± 0.0002")        # markdown prose writes {{test_mse}}
    report.figure(fig, key="q1-curves", caption="...")  # markdown prose writes Figure {{fig:q1-curves}}
    report.table(headers, rows, key="q1-summary", caption="...")  # ... Table {{tab:q1-summary}}

Each call emits one ``display_data`` output whose metadata (``{"bundle": {...}}``) tells
``lib.build`` what it is: the build numbers figures and tables in order of appearance,
puts the numbers and glued values into the markdown prose, and drops everything else a
notebook printed (logs, reprs) from the PDF of a clean assignment.  Nothing here names an
assignment.
"""

from __future__ import annotations

import base64
import io
import numbers
import re
import struct
from collections.abc import Sequence
from typing import Any

GLUE_MIMETYPE = "application/vnd.bundle.glue+json"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PNG_DPI = 150

# Characters the report's text fonts lack (or set badly) written as math; the rest of Unicode passes through.
_TEXT_AS_MATH = {
    "±": r"\pm",
    "×": r"\times",
    "÷": r"\div",
    "≥": r"\geq",
    "≤": r"\leq",
    "≈": r"\approx",
    "≠": r"\neq",
    "→": r"\rightarrow",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow",
    "∞": r"\infty",
    "−": "-",
    "·": r"\cdot",
    "√": r"\surd",
    "∑": r"\sum",
    "∈": r"\in",
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "η": r"\eta",
    "θ": r"\theta",
    "λ": r"\lambda",
    "μ": r"\mu",
    "σ": r"\sigma",
    "τ": r"\tau",
    "φ": r"\phi",
    "Δ": r"\Delta",
    "Σ": r"\Sigma",
}
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# Typed as is (a name on a title page): no curly quotes, no -- or --- dashes, no ?` or !` ligatures.
_LITERAL = {"'": r"\textquotesingle{}", "`": r"\textasciigrave{}", "-": "-{}", '"': r"\textquotedbl{}", "<": "<{}", ">": ">{}"}


def latex_escape(text: Any, literal: bool = False) -> str:
    """``text`` as LaTeX text that prints every character as written (no command, brace, math or
    comment can get through).  ``literal=True`` also keeps quotes and dashes as typed (names)."""
    out = []
    for char in str(text):
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif literal and char in _LITERAL:
            out.append(_LITERAL[char])
        elif char in _TEXT_AS_MATH:
            out.append(rf"\ensuremath{{{_TEXT_AS_MATH[char]}}}")
        elif char in "\n\r\t":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _math_spans(text: str) -> list[tuple[bool, str]]:
    """Split ``text`` into (is_math, piece) at ``$...$`` pairs, with pandoc's rule for what a
    pair is: the opening ``$`` is followed by a non-space, the closing one follows a non-space
    and is not followed by a digit; ``\\$`` is a dollar sign.  A lone ``$`` is a dollar sign."""
    pieces: list[tuple[bool, str]] = []
    plain, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] == "$":
            plain.append("$")
            i += 2
            continue
        if char == "$" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != "$":
            j = i + 1
            while j < len(text):
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "$" and not text[j - 1].isspace() and not (j + 1 < len(text) and text[j + 1].isdigit()):
                    break
                j += 1
            if j < len(text):
                if plain:
                    pieces.append((False, "".join(plain)))
                    plain = []
                pieces.append((True, text[i : j + 1]))
                i = j + 1
                continue
        plain.append(char)
        i += 1
    if plain:
        pieces.append((False, "".join(plain)))
    return pieces


def latex_cell(text: Any) -> str:
    """A table cell as LaTeX: ``$...$`` stays math, everything else is escaped text."""
    return "".join(piece if is_math else latex_escape(piece) for is_math, piece in _math_spans(str(text)))


def fmt(value: Any) -> str:
    """A table cell as text: floats with at most 4 significant digits, everything else as str()."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def _check(kind: str, text: str, pattern: re.Pattern) -> None:
    if not isinstance(text, str) or not pattern.fullmatch(text):
        raise ValueError(f"{kind} {text!r} is not valid; fix: use letters, digits and _ (keys may also use - and .)")


def _emit(data: dict[str, Any], metadata: dict[str, Any], summary: str) -> None:
    """One display_data output in Jupyter (or under papermill); a one-line summary elsewhere."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if InteractiveShell.initialized():
        display(data, raw=True, metadata=metadata)
    else:  # a plain Python process (a script, a test): nothing can show a figure, say what it was
        print(summary)


def glue(name: str, value: Any) -> None:
    """Make ``value`` (converted with str()) available to this notebook's markdown as ``{{name}}``."""
    _check("glue name", name, NAME_PATTERN)
    text = str(value)
    _emit({GLUE_MIMETYPE: {name: text}, "text/plain": f"{name} = {text}"}, {}, f"{name} = {text}")


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    return width, height


def figure(fig, key: str, caption: str, raster: bool = False) -> None:
    """Show a matplotlib figure (or the figure of an Axes) with a caption and close it.  Vector (PDF) for the report and
    PNG for Jupyter; ``raster=True`` (image grids, heavy scatters) sends the PNG alone, which
    the report prints at its natural size, never enlarged."""
    import matplotlib.pyplot as plt

    _check("figure key", key, KEY_PATTERN)
    if not hasattr(fig, "savefig") and hasattr(fig, "get_figure"):  # an Axes (what lib.plots.curves returns)
        fig = fig.get_figure()
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
        png = buffer.getvalue()
        data: dict[str, Any] = {"image/png": base64.b64encode(png).decode("ascii")}
        bundle: dict[str, Any] = {"kind": "figure", "key": key, "caption": str(caption)}
        if raster:
            width, height = _png_size(png)
            bundle.update({"raster": True, "width_in": round(width / PNG_DPI, 4), "height_in": round(height / PNG_DPI, 4)})
        else:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
            data["application/pdf"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        _emit(data, {"bundle": bundle}, f"[figure {key}] {caption}")
    finally:
        plt.close(fig)


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str, align: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", r"\|").replace("\n", " ")

    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [f"**{cell(caption)}**", "", "| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join(rule[a] for a in align) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _latex_table(headers: Sequence[str], rows: Sequence[Sequence[str]], key: str, caption: str, align: str) -> str:
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_cell(caption)}}}",
        rf"\label{{tab:{key}}}",
        r"\begin{adjustbox}{max width=\linewidth}",  # a wide table shrinks to the text width, never overflows
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(latex_cell(h) for h in headers) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_cell(v) for v in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}", r"\end{table}"]
    return "\n".join(lines)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], key: str, caption: str, align: str | None = None) -> None:
    """Show a captioned table (Markdown in Jupyter, a LaTeX float in the report).  Floats keep
    at most 4 significant digits (``fmt``); ``align`` is one of l, r, c per column (default:
    numbers right, text left); ``$...$`` in a cell is math."""
    _check("table key", key, KEY_PATTERN)
    headers = [str(h) for h in headers]
    if any(len(row) != len(headers) for row in rows):
        raise ValueError(f"table {key!r}: every row needs {len(headers)} cells (one per header)")
    if align is None:
        numeric = [bool(rows) and all(isinstance(row[i], numbers.Real) for row in rows) for i in range(len(headers))]
        align = "".join("r" if n else "l" for n in numeric)
    align = "".join(align)
    if len(align) != len(headers) or set(align) - set("lrc"):
        raise ValueError(f"table {key!r}: align {align!r} needs one of l, r, c per column ({len(headers)})")
    cells = [[fmt(v) for v in row] for row in rows]
    data = {
        "text/markdown": _markdown_table(headers, cells, str(caption), align),
        "text/latex": _latex_table(headers, cells, key, str(caption), align),
    }
    _emit(data, {"bundle": {"kind": "table", "key": key, "caption": str(caption)}}, f"[table {key}] {caption}")
