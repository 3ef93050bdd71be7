"""The HTML side of a report, for graders who read in a browser.

- :func:`export_html`: one self-contained page per assignment from the same merged notebook
  as the PDF (so the same content, order and removed pipeline output): figures embedded as
  PNG with their numbered captions, numbered tables, a table of contents, code folded behind
  a toggle, and MathJax inlined from a local copy (no network when the page is viewed);
- :func:`write_index`: ``report/index.html``, linking the reports, the executed notebooks,
  the metrics and the build table.
"""

from __future__ import annotations

import copy
import html
import json
import re
from importlib import resources
from pathlib import Path

import nbformat

from lib import paths

TEMPLATE_NAME = "bundle_html"
# MathJax 3 with every TeX extension in one file (the "full" build never fetches an extension
# at view time), shipped by the PyPI package django-static-mathjax (no dependencies).
MATHJAX_FILE = "static/mathjax/es5/tex-svg-full.js"
HEADING = re.compile(r'<h([1-3]) id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>[^<]*</a>)?</h\1>', re.S)


def mathjax_source() -> str:
    try:
        return (resources.files("mathjax") / MATHJAX_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise RuntimeError(
            f"the local MathJax copy is missing ({err}); fix: make venv (installs django-static-mathjax)"
        ) from None


def _caption_html(kind: str, number: int | None, caption: str) -> str:
    label = f"<b>{kind} {number}:</b> " if number else ""
    return label + html.escape(caption, quote=False)


def _html_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the merged notebook whose figure and table outputs (lib.report) carry their
    number and caption as HTML: a figure becomes <figure><img><figcaption>, a table gets its
    numbered caption above the Markdown table.  Other outputs are left as they are."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            bundle = output.get("metadata", {}).get("bundle")
            data = output.get("data", {})
            if not bundle:
                continue
            if bundle.get("kind") == "figure" and "image/png" in data:
                caption = _caption_html("Figure", bundle.get("number"), bundle.get("caption", ""))
                output["data"] = {
                    "text/html": f'<figure class="bundle-figure"><img alt="Figure {bundle.get("number", "")}" '
                    f'src="data:image/png;base64,{data["image/png"]}"><figcaption>{caption}</figcaption></figure>'
                }
            elif bundle.get("kind") == "table" and "text/markdown" in data:
                _, _, table = str(data["text/markdown"]).partition("\n\n")  # drop the bold caption line
                caption = _caption_html("Table", bundle.get("number"), bundle.get("caption", ""))
                output["data"] = {"text/markdown": f'<p class="bundle-table-caption">{caption}</p>\n\n{table}'}
    return notebook


def _with_contents(page: str) -> str:
    """The page with a table of contents (its level 1-3 headings) after the title."""
    entries = [(int(level), anchor, re.sub(r"<[^>]+>", "", text).strip()) for level, anchor, text in HEADING.findall(page)]
    if not entries:
        return page
    lines, depth = ['<nav class="bundle-toc" id="contents"><b>Contents</b>'], 0
    top = min(level for level, _, _ in entries)
    for level, anchor, text in entries:
        level = level - top + 1
        while depth < level:
            lines.append("<ul>")
            depth += 1
        while depth > level:
            lines.append("</ul>")
            depth -= 1
        lines.append(f'<li><a href="#{anchor}">{text}</a></li>')
    lines += ["</ul>"] * depth + ["</nav>"]
    return page.replace("<main>", "<main>\n" + "\n".join(lines), 1)


def _title_block(notebook: nbformat.NotebookNode) -> str:
    meta = notebook.metadata
    authors = ", ".join(a.get("name", "") for a in meta.get("authors", []))
    parts = [f'<h1 class="bundle-title">{html.escape(str(meta.get("title", "")))}</h1>']
    parts += [f"<p>{html.escape(str(value))}</p>" for value in (meta.get("subtitle"), authors, meta.get("date")) if value]
    return '<header class="bundle-header">' + "".join(parts) + "</header>"


def export_html(notebook: nbformat.NotebookNode, target: Path) -> int:
    """Write ``notebook`` (a merged report) as one self-contained HTML page; returns its size in bytes."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(paths.TEMPLATE_DIR)])
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(_html_outputs(notebook), resources={"bundle_mathjax": mathjax_source()})
    page = _with_contents(body).replace("<main>", "<main>\n" + _title_block(notebook), 1)
    paths.atomic_write(target, lambda staged: Path(staged).write_text(page, encoding="utf-8"))
    return len(page.encode())


def _link(path: Path, text: str) -> str:
    relative = path.relative_to(paths.report_dir()).as_posix()
    return f'<a href="{html.escape(relative)}">{html.escape(text)}</a>'


def write_index(assignments: dict) -> Path:
    """``report/index.html``: per assignment (id -> its spec, with ``title`` and ``notebooks`` in
    report order) its HTML and PDF report, executed notebooks and metrics; then the last build's table."""
    report = paths.report_dir()
    sections = []
    for assignment, spec in assignments.items():
        title, order = spec.title, list(spec.notebooks)
        reports = [_link(report / f"{assignment}.{ext}", label) for ext, label in (("html", "HTML report"), ("pdf", "PDF report"))
                   if (report / f"{assignment}.{ext}").exists()]  # fmt: skip
        notebooks = [_link(report / assignment / f"{n}.ipynb", n) for n in order if (report / assignment / f"{n}.ipynb").exists()]
        metrics = [_link(report / assignment / "metrics" / f"{n}.json", n) for n in order
                   if (report / assignment / "metrics" / f"{n}.json").exists()]  # fmt: skip
        sections.append(
            f"<section><h2>{html.escape(title)} <small>({assignment})</small></h2>"
            f"<p>{' · '.join(reports) or 'not built yet'}</p>"
            f"<p>Executed notebooks: {', '.join(notebooks) or 'none'}</p>"
            f"<p>Metrics: {', '.join(metrics) or 'none'}</p></section>"
        )
    times = report / "build-times.json"
    table = ""
    if times.exists():
        build = json.loads(times.read_text())
        rows = "".join(
            f"<tr><td>{html.escape(run['notebook'])}</td><td>{run['seconds']:.1f}</td><td>{html.escape(run['status'])}</td></tr>"
            for run in build.get("notebooks", [])
        )
        table = (
            f"<section><h2>Last build</h2><p>Profile {html.escape(str(build.get('profile')))}, "
            f"{build.get('total_seconds', 0):.0f} s in all ({_link(times, 'build-times.json')}).</p>"
            f"<table><thead><tr><th>notebook</th><th>seconds</th><th>status</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>MNIST course reports</title>'
        "<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}"
        "td,th{padding:0.1rem 0.8rem;text-align:left}</style></head><body><h1>MNIST course reports</h1>"
        + "".join(sections)
        + table
        + "</body></html>\n"
    )
    target = report / "index.html"
    paths.atomic_write(target, lambda staged: Path(staged).write_text(page, encoding="utf-8"))
    return target
