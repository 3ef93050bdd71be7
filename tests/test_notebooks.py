"""Committed notebooks: no outputs, a tagged parameters cell matching the spec, a pinned kernel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from lib import build, params, paths

NOTEBOOKS = sorted(paths.NOTEBOOK_DIR.glob("*/*.ipynb"))


def notebook_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path} has outputs in cells {dirty}; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_parameters_cell_matches_spec(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path}: expected exactly one cell tagged 'parameters'"
    names = [t.id for node in ast.parse(tagged[0].source).body for t in node.targets]  # simple assignments only
    assert len(names) == len(set(names)), f"{path}: the parameters cell sets a name twice"
    settings = params.settings_for(notebook_id(path))
    assert settings is not None, f"{path}: its assignment package declares no settings class for it"
    expected = [*params.COMMON, *settings.parameter_names()]
    assert sorted(names) == sorted(expected), f"{path}: parameters cell and {settings.__name__} disagree"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_parameters_default_to_the_profile(path):
    """Every parameter is None in the committed cell (the profile decides), and the cell
    resolves to valid settings as it stands."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body for t in node.targets}
    settings = params.settings_for(notebook_id(path))
    assert all(values[name] is None for name in settings.parameter_names()), f"{path}: {values}"
    assert settings.resolve(notebook_id(path), values).profile == values["profile"] == "full"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_kernel_is_pinned_and_title_present(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == build.KERNEL_NAME
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def lists_glued_to_a_paragraph(markdown: str) -> list[str]:
    """List items that directly follow a paragraph line.  Jupyter renders them as a list,
    but pandoc (which makes the PDF) runs them into the paragraph as "- item - item";
    a blank line before the list fixes it.  Lines inside $$ display math are skipped."""
    item = re.compile(r"\s{0,3}([-*+]|\d+[.)])\s")
    glued, in_math, previous = [], False, ""
    for line in markdown.split("\n"):
        if not in_math and item.match(line) and previous.strip() and not item.match(previous) and not previous.startswith("  "):
            glued.append(line)
        in_math ^= line.count("$$") % 2 == 1
        previous = line
    return glued


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_markdown_lists_render_in_the_pdf(path):
    nb = nbformat.read(path, as_version=4)
    glued = {i: lists_glued_to_a_paragraph(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"}
    glued = {i: lines[0][:40] for i, lines in glued.items() if lines}
    assert not glued, f"{path}: put a blank line before the list in cells {glued}"


def test_glued_lists_are_detected():
    assert lists_glued_to_a_paragraph("Schemes:\n1. frozen\n2. trained") == ["1. frozen"]
    assert lists_glued_to_a_paragraph("Schemes:\n\n- a\n- b\n  continued") == []
    assert lists_glued_to_a_paragraph("$$\na\n+ b\n$$") == []


def test_every_built_notebook_exists():
    for notebook in build.all_notebook_ids():
        assert (paths.NOTEBOOK_DIR / f"{notebook}.ipynb").is_file(), notebook


def test_outputs_are_detected(tmp_path):
    """The check above can fail: a notebook with an output is reported."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("stream", text="1")])])
    target = tmp_path / "dirty.ipynb"
    nbformat.write(nb, target)
    with pytest.raises(AssertionError, match="has outputs"):
        test_committed_without_outputs(target)


# A count that a profile or parameter can set to 1, written as "{n} epochs" in code: the quick
# and smoke PDFs then read "1 epochs".  lib.plots.count picks the singular or plural.
COUNTED_NOUN = re.compile(r"\{[^{}]*\} (epoch|draw|seed|step)s\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_counts_use_the_right_plural(path):
    nb = nbformat.read(path, as_version=4)
    found = {i: COUNTED_NOUN.findall(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    found = {i: nouns for i, nouns in found.items() if nouns}
    assert not found, f"{path}: cells {found} print a count before a plural noun; fix: plots.count(n, 'epoch')"


def test_count_reads_singular_and_plural():
    from lib.plots import count

    assert [count(1, "epoch"), count(4, "epoch"), count(0, "draw"), count(10000, "image")] == [
        "1 epoch",
        "4 epochs",
        "0 draws",
        "10,000 images",
    ]
    assert COUNTED_NOUN.search('f"after {cfg.num_epochs} epochs"') and not COUNTED_NOUN.search('f"after {n} images"')


# The practical notebooks of every assignment are drivers: settings, one call per
# question or problem, glue, figures.  Models, loops and analysis live in lib/<assignment>
# (the theory notebooks hold their own checks, cpsc663_ex2's bonus notebook its own small one).
MAX_DRIVER_LINES = 80
DEFINITION = re.compile(r"(async\s+)?(def|class)\s")
DRIVER_NOTEBOOKS = {
    "nn4i_ex2": ("q1_autoencoding", "q2_interpolation", "q3_decorrelation", "q4_transfer"),
    "cpsc663_ex2": ("p4_cnn", "p5_autoencoders", "p6_conv_autoencoders"),
    "idl_ex3": ("p1_transfer", "p2_latent_gan", "p3_interpolation", "p4_conditional_gan"),
}
DRIVERS = [paths.NOTEBOOK_DIR / assignment / f"{name}.ipynb" for assignment, names in DRIVER_NOTEBOOKS.items() for name in names]


def driver_size(nb) -> tuple[int, list[str]]:
    """(code lines that are neither blank nor comments, lines that define a function or class)."""
    lines = [line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    return len(code), [line for line in code if DEFINITION.match(line)]


def test_there_are_drivers():
    assert all(path in NOTEBOOKS for path in DRIVERS)
    for assignment in DRIVER_NOTEBOOKS:  # every practical notebook: all but the theory (and bonus) ones
        practical = [p.stem for p in NOTEBOOKS if p.parent.name == assignment and not re.match(r"\d\d_", p.stem)]
        assert practical == list(DRIVER_NOTEBOOKS[assignment]), assignment


@pytest.mark.parametrize("path", DRIVERS, ids=notebook_id)
def test_practical_notebooks_are_short_drivers(path):
    lines, definitions = driver_size(nbformat.read(path, as_version=4))
    package = f"lib/{path.parent.name}"
    assert lines <= MAX_DRIVER_LINES, f"{path}: {lines} code lines (at most {MAX_DRIVER_LINES}); move code into {package}"
    assert not definitions, f"{path} defines {definitions}; fix: move them into {package}"


def test_driver_size_counts_code_not_comments_and_finds_definitions():
    code = "# a comment\n\nx = 1\n    # indented comment\ndef f():\n    return 1\nclass A:\n    pass\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_markdown_cell("def not code")])
    assert driver_size(nb) == (5, ["def f():", "class A:"])
    long = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("\n".join(f"x{i} = {i}" for i in range(81)))])
    assert driver_size(long)[0] == 81 > MAX_DRIVER_LINES
