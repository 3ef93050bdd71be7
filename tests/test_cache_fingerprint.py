"""The cache key covers every function a training path runs: editing the logic of any of them
invalidates the entry, editing a docstring or a comment does not.

One tiny nn4i_ex2 auto-encoder is trained under ``sys.settrace``; every ``lib`` function it
calls must lie in a module that :func:`lib.cache.training_modules` fingerprints.  Edits are
made to copies in ``tmp_path`` (``lib.cache._module_file`` is pointed at them): no tracked
file is touched.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import sys
from pathlib import Path

import pytest
import torch

from lib import cache, data, paths
from lib.nn4i_ex2 import models as nn4i_models

ROOT_MODULE = "lib.nn4i_ex2.models"  # where autoencoder()'s build function lives
KIND = "nn4i_conv_autoencoder"


@functools.cache
def module_name(filename: str) -> str | None:
    """``.../lib/a/b.py`` -> ``lib.a.b`` (``__init__.py`` -> the package); None outside lib/."""
    path = Path(filename).resolve()
    try:
        relative = path.relative_to(paths.ROOT)
    except ValueError:
        return None
    if relative.parts[0] != "lib" or path.suffix != ".py":
        return None
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tiny_recipe() -> nn4i_models.AERecipe:
    return dataclasses.replace(nn4i_models.recipe("smoke"), train_size=64, test_size=64)


@pytest.fixture(scope="module")
def traced_training(tmp_path_factory):
    """Train the tiny recipe once (empty cache, MNIST read afresh) while recording every
    Python function called: ({(module, first line, name)}, the environment it ran in)."""
    from tests.conftest import mnist_source

    env = {
        "MNIST_DIR": str(mnist_source()),
        "BUNDLE_DATA_DIR": str(tmp_path_factory.mktemp("fingerprint-data")),
        "BUNDLE_CACHE_DIR": str(tmp_path_factory.mktemp("fingerprint-cache")),
        "BUNDLE_OFFLINE": "1",
    }
    called: set[tuple[str, int, str]] = set()

    def trace(frame, event, _arg):  # called at every Python function entry; no line tracing
        if event == "call":
            name = module_name(frame.f_code.co_filename)
            if name is not None:
                called.add((name, frame.f_code.co_firstlineno, frame.f_code.co_name))

    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        data.load_split.cache_clear()  # so that loading and verifying MNIST is traced too
        before = cache.stats()["trained"]
        previous = sys.gettrace()
        sys.settrace(trace)  # settrace, not setprofile: no callback per C call (10x faster here)
        try:
            nn4i_models.autoencoder(tiny_recipe(), torch.device("cpu"))
        finally:
            sys.settrace(previous)
            data.load_split.cache_clear()
        assert cache.stats()["trained"] == before + 1, "the tiny model was loaded, not trained: nothing was traced"
    return called, env


def test_every_lib_module_a_training_path_calls_is_fingerprinted(traced_training):
    called, _ = traced_training
    modules = {module for module, _, _ in called}
    assert {"lib.train", "lib.data", "lib.nn4i_ex2.models"} <= modules  # the trace saw the training
    fingerprinted = set(cache.training_modules(ROOT_MODULE))
    missed = sorted(modules - fingerprinted - {"lib.cache", "lib.paths"})
    assert not missed, f"training calls code in {missed}, which the cache key does not cover"


def test_module_names_of_files():
    assert module_name(str(paths.LIB_DIR / "train.py")) == "lib.train"
    assert module_name(str(paths.LIB_DIR / "nn4i_ex2" / "__init__.py")) == "lib.nn4i_ex2"
    assert module_name(torch.__file__) is None


def key_with(monkeypatch, folder: Path, edited: dict[str, str]) -> str:
    """The tiny recipe's cache key if the modules in ``edited`` had that source (copies written to ``folder``)."""
    original = cache._module_file
    replacement = {}
    for name, source in edited.items():
        replacement[name] = folder / f"{name}.py"
        replacement[name].write_text(source)
    with monkeypatch.context() as mp:
        mp.setattr(cache, "_module_file", lambda name: replacement.get(name) or original(name))
        return cache.cache_key(KIND, dataclasses.asdict(tiny_recipe()), cache.training_modules(ROOT_MODULE))


def function_nodes(source: str) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function of ``source`` by the first line of its code object (decorators included)."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[first_line(node)] = node
    return found


def first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)
    )


def with_statement_added(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """``source`` with one statement added at the top of ``node``'s body (after its docstring);
    None for a function whose body sits on its ``def`` line."""
    body = node.body
    lines = source.splitlines(keepends=True)
    if is_docstring(body[0]) and len(body) == 1:
        at, indent = body[0].end_lineno, body[0].col_offset
    else:
        anchor = body[1] if is_docstring(body[0]) else body[0]
        at, indent = first_line(anchor) - 1, anchor.col_offset
    if at < node.lineno:
        return None
    lines.insert(at, " " * indent + "_fingerprint_probe = 1\n")
    return "".join(lines)


def test_changing_any_function_a_training_path_calls_changes_the_key(traced_training, monkeypatch, tmp_path):
    called, _ = traced_training
    baseline = key_with(monkeypatch, tmp_path, {})
    checked = []
    for module in sorted({m for m, _, _ in called} - {"lib.cache", "lib.paths"}):
        source = cache._module_file(module).read_text()
        nodes = function_nodes(source)
        for _, line, name in sorted(c for c in called if c[0] == module):
            node = nodes.get(line)
            if node is None:  # lambdas, comprehensions, module code: covered by their enclosing function
                continue
            edited = with_statement_added(source, node)
            if edited is None:
                continue
            assert ast.parse(edited)  # still valid Python
            assert key_with(monkeypatch, tmp_path, {module: edited}) != baseline, f"editing {module}.{name} keeps the cache key"
            checked.append(f"{module}.{name}")
    assert "lib.train.fit_reconstruction" in checked and "lib.nn4i_ex2.models.forward" in checked, checked
    assert len(checked) >= 10, checked


def fit_reconstruction_node(source: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == "fit_reconstruction")


def replace_span(source: str, node: ast.AST, text: str) -> str:
    """``source`` with the text of ``node`` (on one line) replaced by ``text``."""
    assert node.lineno == node.end_lineno
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    lines[node.lineno - 1] = line[: node.col_offset] + text + line[node.end_col_offset :]
    return "".join(lines)


def test_a_constant_in_fit_reconstruction_changes_the_key_a_docstring_or_comment_does_not(monkeypatch, tmp_path):
    source = cache._module_file("lib.train").read_text()
    function = fit_reconstruction_node(source)
    baseline = key_with(monkeypatch, tmp_path, {})
    assert key_with(monkeypatch, tmp_path, {"lib.train": source}) == baseline  # the copy itself changes nothing

    number = next(
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Constant) and type(n.value) in (int, float) and n.lineno == n.end_lineno
    )
    changed = replace_span(source, number, repr(number.value + 1))
    assert key_with(monkeypatch, tmp_path, {"lib.train": changed}) != baseline

    docstring = function.body[0].value
    opening = source.splitlines()[docstring.lineno - 1][docstring.col_offset :][:3]
    assert opening in ('"""', "'''"), "fit_reconstruction's docstring is expected to open with triple quotes"
    lines = source.splitlines(keepends=True)
    line = lines[docstring.lineno - 1]
    cut = docstring.col_offset + 3
    lines[docstring.lineno - 1] = line[:cut] + "Reworded documentation. " + line[cut:]
    assert key_with(monkeypatch, tmp_path, {"lib.train": "".join(lines)}) == baseline

    lines = source.splitlines(keepends=True)
    body_line = first_line(function.body[1]) - 1
    indent = " " * function.body[1].col_offset
    lines.insert(body_line, f"{indent}# a comment that changes no logic\n\n")
    lines[function.lineno - 1] = lines[function.lineno - 1].replace("def fit_reconstruction(", "def fit_reconstruction(  ")
    assert key_with(monkeypatch, tmp_path, {"lib.train": "".join(lines)}) == baseline


def test_an_edited_training_function_retrains_the_cached_model(traced_training, monkeypatch, tmp_path):
    """End to end: the traced model loads from the cache; after a logic edit to
    fit_reconstruction (in a copy, read through _module_file) the same recipe is trained again."""
    _, env = traced_training
    for name, value in env.items():  # the traced training's data and cache folders
        monkeypatch.setenv(name, value)
    device = torch.device("cpu")
    before = cache.stats()
    nn4i_models.autoencoder(tiny_recipe(), device)
    assert cache.stats()["loaded"] == before["loaded"] + 1 and cache.stats()["trained"] == before["trained"]

    source = cache._module_file("lib.train").read_text()
    copy = tmp_path / "train_edited.py"
    copy.write_text(with_statement_added(source, fit_reconstruction_node(source)))
    original = cache._module_file
    monkeypatch.setattr(cache, "_module_file", lambda name: copy if name == "lib.train" else original(name))
    nn4i_models.autoencoder(tiny_recipe(), device)
    assert cache.stats()["trained"] == before["trained"] + 1
