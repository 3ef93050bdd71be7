"""lib.report's outputs, the clean merge (numbering, placeholders, what is dropped), and the
title page, captions and CJK support of the PDF template."""

from __future__ import annotations

import re
import shutil
import subprocess

import matplotlib
import nbformat
import pytest

from lib import build, paths, report

matplotlib.use("Agg")

NASTY_NAME = "Zoë O'Brien & Sons 50% #1 \\textbf{x} {}~^_$"
CJK_NAME = "李雷"
# Latin punctuation xeCJK would set as CJK punctuation unless told otherwise.
LATIN_PROSE = "The model’s “best” run — 3…5 · done – it's 'quoted', A-B --- C."

# One notebook's code: a training log, a repr, glued values, two figures (vector, raster) and a table.
CODE = r"""
import matplotlib.pyplot as plt
import numpy as np
from lib import report

print("epoch 1/1 loss 0.123 (training log)")
report.glue("test_mse", "0.0114 ± 0.0002")
report.glue("runs", 3)
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot([1, 2, 3], [3, 1, 2])
report.figure(fig, key="NB-curves", caption="Curves of NB: 50% of $x_1$ & more")
fig, ax = plt.subplots(figsize=(2, 2))
ax.imshow(np.random.default_rng(0).random((28, 28)), cmap="gray")
report.figure(fig, key="NB-grid", caption="Grid of NB", raster=True)
report.table(
    ["model", "MSE ± std", "n"],
    [["a_b | c", 0.0123456, 3], ["$x^2$ ≥ 1 → ok #", 1234.5678, 4]],
    key="NB-summary",
    caption="Summary of NB × & 100%",
)
{"a": "repr of a dict"}
"""


def executed_notebook(tag: str, prose: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(prose), nbformat.v4.new_code_cell(CODE.replace("NB", tag))],
        metadata={"kernelspec": {"name": build.KERNEL_NAME, "language": "python", "display_name": "Python (mnist-bundle)"}},
    )
    from nbclient import NotebookClient

    NotebookClient(nb, kernel_name=build.KERNEL_NAME, timeout=120, resources={"metadata": {"path": str(paths.ROOT)}}).execute()
    return nb


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    """The code above, executed once by the project's kernel (about 3 s)."""
    return executed_notebook("a", "# A")


def with_prose(nb: nbformat.NotebookNode, tag: str, prose: str) -> nbformat.NotebookNode:
    """A copy of the executed notebook with its figure/table keys renamed to ``tag`` and new prose."""
    text = nbformat.writes(nb).replace("a-curves", f"{tag}-curves").replace("a-grid", f"{tag}-grid")
    text = text.replace("a-summary", f"{tag}-summary").replace("of a", f"of {tag}")
    copy = nbformat.reads(text, as_version=4)
    copy.cells[0].source = prose
    return copy


@pytest.fixture
def assignment(tmp_path, monkeypatch):
    """Install executed notebooks as assignment 'tst' in a temporary report folder; returns a function
    (notebooks: {name: notebook}, clean=True, student name) -> the merged notebook."""
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(tmp_path / "report"))

    def make(notebooks: dict[str, nbformat.NotebookNode], clean: bool = True, name: str = "Jane Doe"):
        (paths.report_dir() / "tst").mkdir(parents=True, exist_ok=True)
        for notebook_name, nb in notebooks.items():
            nbformat.write(nb, paths.report_dir() / "tst" / f"{notebook_name}.ipynb")
        spec = build.Assignment("Test & 100% Title", "A subtitle", tuple(notebooks), clean_pdf=clean)
        monkeypatch.setitem(build.ASSIGNMENTS, "tst", spec)
        monkeypatch.setattr(build, "load_student", lambda: {"name": name})
        return build.merge("tst", "smoke")

    return make


def outputs(cell) -> list[tuple[str, list[str]]]:
    return [(o.output_type, sorted(o.get("data", {}))) for o in cell.get("outputs", [])]


# --- lib.report ------------------------------------------------------------------------


def test_glue_figure_table_emit_the_documented_outputs(executed):
    outs = executed.cells[1].outputs
    assert [o.output_type for o in outs] == [
        "stream",
        "display_data",
        "display_data",
        "display_data",
        "display_data",
        "display_data",
        "execute_result",
    ]
    assert outs[1].data == {report.GLUE_MIMETYPE: {"test_mse": "0.0114 ± 0.0002"}, "text/plain": "test_mse = 0.0114 ± 0.0002"}
    assert outs[2].data[report.GLUE_MIMETYPE] == {"runs": "3"}

    vector, raster, table = outs[3], outs[4], outs[5]
    assert sorted(vector.data) == ["application/pdf", "image/png"]
    assert vector.metadata["bundle"] == {"kind": "figure", "key": "a-curves", "caption": "Curves of a: 50% of $x_1$ & more"}
    import base64

    assert base64.b64decode(vector.data["application/pdf"]).startswith(b"%PDF")
    assert base64.b64decode(vector.data["image/png"]).startswith(b"\x89PNG")
    assert sorted(raster.data) == ["image/png"]
    assert raster.metadata["bundle"]["raster"] is True and 1.5 < raster.metadata["bundle"]["width_in"] < 2.5

    assert table.metadata["bundle"] == {"kind": "table", "key": "a-summary", "caption": "Summary of a × & 100%"}
    markdown = table.data["text/markdown"].splitlines()
    assert markdown[0] == "**Summary of a × & 100%**"
    assert markdown[2:] == [
        "| model | MSE ± std | n |",
        "|:---|---:|---:|",
        "| a_b \\| c | 0.01235 | 3 |",
        "| $x^2$ ≥ 1 → ok # | 1235 | 4 |",
    ]
    latex = table.data["text/latex"]
    assert latex.index(r"\caption{") < latex.index(r"\begin{tabular}{lrr}")  # caption above the table
    assert r"\begin{table}[htbp]" in latex and r"\centering" in latex and r"\toprule" in latex and r"\bottomrule" in latex
    assert r"\caption{Summary of a \ensuremath{\times} \& 100\%}" in latex and r"\label{tab:a-summary}" in latex
    assert r"a\_b | c & 0.01235 & 3 \\" in latex
    assert r"$x^2$ \ensuremath{\geq} 1 \ensuremath{\rightarrow} ok \# & 1235 & 4 \\" in latex
    assert not any(o.get("data", {}).get("image/png") for o in outs[6:]), "report.figure left its figure open"


def test_outside_ipython_the_calls_print_one_line_and_close_the_figure(capsys):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    report.figure(ax, key="k", caption="A caption")  # an Axes is taken for its figure
    report.glue("x", 1.5)
    report.table(["a"], [[1]], key="t", caption="T")
    assert capsys.readouterr().out.splitlines() == ["[figure k] A caption", "x = 1.5", "[table t] T"]
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="glue name"):
        report.glue("not a name", 1)
    with pytest.raises(ValueError, match="table key"):
        report.table(["a"], [[1]], key="bad key", caption="T")
    with pytest.raises(ValueError, match="2 cells"):
        report.table(["a", "b"], [[1]], key="t", caption="T")


def test_fmt_and_latex_cells():
    import numpy as np

    assert [report.fmt(v) for v in (0.0114372, 12.34567, 98765.4, 3, np.float32(0.5), np.int64(7), True, "0.123456")] == [
        "0.01144",
        "12.35",
        "9.877e+04",
        "3",
        "0.5",
        "7",
        "True",
        "0.123456",
    ]
    assert report.latex_cell("50% & $5 or #_~^\\") == r"50\% \& \$5 or \#\_\textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert report.latex_cell("$a_1$ and $b$ cost \\$3") == r"$a_1$ and $b$ cost \$3"
    assert report.latex_cell("$5 and $10") == r"\$5 and \$10"  # not math: a closing $ follows a space
    assert report.latex_escape("O'Brien -- x", literal=True) == r"O\textquotesingle{}Brien -{}-{} x"


# --- merge -----------------------------------------------------------------------------


def test_clean_merge_keeps_figures_and_tables_numbers_them_and_fills_placeholders(executed, assignment):
    first = with_prose(executed, "a", "# A\n\nMSE {{test_mse}} over {{ runs }} runs; Figures {{fig:a-curves}}, {{fig:a-grid}}.")
    second = with_prose(
        executed,
        "b",
        "# B\n\n$\\mathrm{MSE} = {{test_mse}}$ (B's own), Figure {{fig:b-grid}}, Table {{tab:b-summary}}, {{tab:a-summary}}",
    )
    merged = assignment({"first": first, "second": second})
    code = [cell for cell in merged.cells if cell.cell_type == "code"]
    kept = [
        ("display_data", ["application/pdf", "image/png"]),
        ("display_data", ["image/png"]),
        ("display_data", ["text/latex", "text/markdown"]),
    ]
    assert [outputs(cell) for cell in code] == [kept, kept]  # no log, no glue, no repr
    prose = [cell.source for cell in merged.cells if cell.cell_type == "markdown"]
    assert prose[0] == "# A\n\nMSE 0.0114 ± 0.0002 over 3 runs; Figures 1, 2."
    assert prose[1] == "# B\n\n$\\mathrm{MSE} = 0.0114 ± 0.0002$ (B's own), Figure 4, Table 2, 1"
    assert prose[2].startswith("# Provenance") and "Every number, figure and table in this document" in prose[2]
    assert [c.source for c in merged.cells if c.cell_type == "raw"] == ["\\FloatBarrier\n\\bigskip", "\\FloatBarrier\n\\appendix"]
    assert "title" in merged.metadata and "build_lines" not in merged.metadata


def test_glue_is_per_notebook_and_bad_placeholders_stop_the_build(executed, assignment):
    silent = nbformat.from_dict(nbformat.reads(nbformat.writes(executed), as_version=4))
    silent.cells[1].outputs = [o for o in silent.cells[1].outputs if report.GLUE_MIMETYPE not in o.get("data", {})]
    silent = with_prose(silent, "s", "# S\n\n{{test_mse}}")
    with pytest.raises(build.BuildError) as info:
        assignment({"first": with_prose(executed, "a", "# A"), "second": silent})
    message = str(info.value)
    assert "\n" not in message and "second.ipynb" in message and "{{test_mse}}" in message and "fix: call report.glue" in message

    cases = {
        "{{fig:nope}}": "names no figure (keys: a-curves, a-grid); fix",
        "{{tab:nope}}": "names no table (keys: a-summary); fix",
        "{{not a name}}": "unknown placeholder {{not a name}}; fix",
    }
    for placeholder, expected in cases.items():
        with pytest.raises(build.BuildError) as info:
            assignment({"first": with_prose(executed, "a", f"# A {placeholder}")})
        assert expected in str(info.value) and "first.ipynb" in str(info.value) and "\n" not in str(info.value)

    with pytest.raises(build.BuildError, match=r"figure key 'a-curves' is used twice \(first and second\); fix"):
        assignment({"first": with_prose(executed, "a", "# A"), "second": with_prose(executed, "a", "# A again")})


def test_clean_merge_warns_about_figures_without_a_caption(executed, assignment, capsys):
    bare = with_prose(executed, "a", "# A")
    del bare.cells[1].outputs[3].metadata["bundle"]  # as plt.show() would show it
    merged = assignment({"first": bare})
    assert len(merged.cells[1].outputs) == 3
    assert "first shows 1 figure(s) without a number or caption" in capsys.readouterr().out


def test_merge_of_an_assignment_that_is_not_clean_keeps_outputs_and_prose(executed, assignment):
    merged = assignment({"first": with_prose(executed, "a", "# A {{test_mse}}")}, clean=False)
    assert len(merged.cells[1].outputs) == len(executed.cells[1].outputs)
    assert merged.cells[0].source == "# A {{test_mse}}"
    assert merged.cells[-1].source.startswith("# Provenance") and merged.cells[-2].source.endswith("\\appendix")


# --- the PDF ---------------------------------------------------------------------------

needs_tex = pytest.mark.skipif(
    shutil.which("xelatex") is None or shutil.which("pdftotext") is None, reason="xelatex or pdftotext missing"
)


def pdf_pages(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


def body_words(pdf) -> list[tuple[str, str, str]]:
    """Every word after the title page and contents with its position."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", "3", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', out)


@pytest.fixture(scope="module")
def pdfs(executed, tmp_path_factory) -> dict[str, object]:
    """The same two-notebook clean assignment built to PDF with each test name (about 4 s each)."""
    folder = tmp_path_factory.mktemp("pdfs")
    first = with_prose(
        executed, "a", f"# A\n\n{LATIN_PROSE}\n\nFigure {{{{fig:a-grid}}}} shows a grid; Table {{{{tab:a-summary}}}}."
    )
    second = with_prose(executed, "b", "# B\n\nFigure {{fig:b-curves}} and Figure {{fig:a-curves}}; Table {{tab:b-summary}}.")
    built = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUNDLE_REPORT_DIR", str(folder / "report"))
        mp.setitem(build.ASSIGNMENTS, "tst", build.Assignment("Test Title", "Sub", ("first", "second"), clean_pdf=True))
        (paths.report_dir() / "tst").mkdir(parents=True)
        nbformat.write(first, paths.report_dir() / "tst" / "first.ipynb")
        nbformat.write(second, paths.report_dir() / "tst" / "second.ipynb")
        for label, name in (("latin", "Jane Doe"), ("nasty", NASTY_NAME), ("cjk", CJK_NAME)):
            mp.setattr(build, "load_student", lambda name=name: {"name": name})
            build.export_pdf(build.merge("tst", "smoke"), folder / f"{label}.pdf")
            built[label] = folder / f"{label}.pdf"
    return built


@needs_tex
@pytest.mark.parametrize(("label", "name"), [("nasty", NASTY_NAME), ("cjk", CJK_NAME)], ids=["nasty", "cjk"])
def test_title_page_prints_the_name_as_written(pdfs, label, name):
    title_page = pdf_pages(pdfs[label])[0]
    assert name in title_page.splitlines(), title_page
    assert "commit" not in title_page and "Every number" not in title_page  # provenance is in the appendix


@needs_tex
def test_pdf_numbers_figures_and_tables_as_the_prose_does(pdfs):
    text = "\n".join(pdf_pages(pdfs["latin"])[2:])
    captions = re.findall(r"(Figure|Table) (\d+): (\w+) of (\w)", text)
    assert captions == [
        ("Figure", "1", "Curves", "a"),
        ("Figure", "2", "Grid", "a"),
        ("Table", "1", "Summary", "a"),
        ("Figure", "3", "Curves", "b"),
        ("Figure", "4", "Grid", "b"),
        ("Table", "2", "Summary", "b"),
    ]
    assert "Figure 2 shows a grid; Table 1." in text and "Figure 3 and Figure 1; Table 2." in text
    for pipeline in ("training log", "test_mse", "repr of a dict", "{{"):
        assert pipeline not in text
    assert "A Provenance" in pdf_pages(pdfs["latin"])[1]  # an appendix, in the contents
    assert text.rindex("Provenance") > text.index("Table 2:")  # after the last float
    assert "Every number, figure and table in this document was computed by the code" in " ".join(text.split())


@needs_tex
def test_cjk_support_leaves_latin_text_as_it_was(pdfs):
    fonts = subprocess.run(["pdffonts", str(pdfs["cjk"])], capture_output=True, text=True).stdout
    assert "CJK" in fonts and "CJK" not in subprocess.run(["pdffonts", str(pdfs["latin"])], capture_output=True, text=True).stdout
    assert body_words(pdfs["cjk"]) == body_words(pdfs["latin"])  # same words at the same places


def test_cjk_without_fonts_is_a_one_line_error_naming_the_package(monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("plain")], metadata={"authors": [{"name": "Jane"}]})
    assert build.cjk_fonts(nb, "x.pdf") is None  # no CJK: xeCJK not loaded, nothing looked up
    nb.metadata["authors"] = [{"name": CJK_NAME}]
    real_which = shutil.which
    monkeypatch.setattr(build.shutil, "which", lambda tool: None if tool == "fc-list" else real_which(tool))
    if real_which("kpsewhich") is None:
        pytest.skip("no TeX: the xeCJK check comes first")
    with pytest.raises(build.BuildError, match="fonts-noto-cjk") as info:
        build.cjk_fonts(nb, "x.pdf")
    assert "\n" not in str(info.value) and "'李'" in str(info.value)
