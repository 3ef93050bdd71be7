"""Committed notebooks: no outputs, a tagged parameters cell matching the spec, a pinned kernel."""

from __future__ import annotations

import ast
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
    spec = params.spec_for(notebook_id(path))
    assert sorted(names) == sorted([*params.COMMON, *spec]), f"{path}: parameters cell and lib/params.py SPECS disagree"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_kernel_is_pinned_and_title_present(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == build.KERNEL_NAME
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


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
