"""Cache of trained models, keyed by everything that determines the weights.

The key hashes the model kind, its full configuration (architecture, hyper-parameters,
seed, data subset) and a fingerprint of the ``lib`` source files that define and train
it, so editing the model code invalidates old entries while re-running a notebook
reuses them.  Entries are written atomically (temporary file + rename) and loaded with
``torch.load(weights_only=True)``; a corrupt entry is reported and retrained.  The
entry's configuration is also written next to it as JSON.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lib import paths
from lib import precision as precision_module

_STATS = {"loaded": 0, "trained": 0}
_PRECISIONS: dict[str, set[str]] = {}  # training precision -> labels of the models used in it


def stats() -> dict[str, Any]:
    """How many models this process loaded from / added to the cache, and the labels of the
    models it used by training precision (what a report's provenance appendix states)."""
    return {**_STATS, "precisions": {name: sorted(labels) for name, labels in sorted(_PRECISIONS.items())}}


def _semantic_source(source: str) -> str:
    """``source`` as an AST dump without docstrings: formatting, comments and documentation
    edits do not change it, any change to the logic does."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


# Modules that store and locate entries but compute nothing that ends up in the weights.
_STORAGE_MODULES = {"lib.cache", "lib.paths"}


def _module_file(name: str) -> Path | None:
    """The source file of ``lib`` module ``name`` (``lib.a.b`` -> lib/a/b.py or lib/a/b/__init__.py)."""
    base = paths.ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute_module(name: str, node: ast.ImportFrom) -> str | None:
    """The module a ``from ... import`` in module ``name`` names, relative ones resolved
    (``from .prob4_CNN import x`` in ``lib.a.b`` is ``lib.a.prob4_CNN``)."""
    if node.level == 0:
        return node.module
    package = name.split(".")
    if _module_file(name).name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else [])) or None


def _lib_imports(name: str) -> set[str]:
    """The ``lib`` modules that module ``name`` imports anywhere in its source (also inside
    functions), found from its syntax tree."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(_module_file(name).read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("lib.")}
        elif isinstance(node, ast.ImportFrom):
            module = _absolute_module(name, node)
            if module is None or module.split(".")[0] != "lib":
                continue
            if module != "lib":
                found.add(module)
            for alias in node.names:  # ``from lib import data`` imports the module lib.data
                if _module_file(f"{module}.{alias.name}") is not None:
                    found.add(f"{module}.{alias.name}")
    return {module for module in found if _module_file(module) is not None}


def training_modules(root: str) -> list[str]:
    """Module ``root`` and every ``lib`` module it imports, directly or through others:
    all the code a model built and trained in ``root`` can run (less the cache's storage).
    A ``root`` outside ``lib`` (a notebook cell, a script) has no file to follow: empty."""
    if _module_file(root) is None:
        return []
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen or name in _STORAGE_MODULES:
            continue
        seen.add(name)
        todo += sorted(_lib_imports(name))
    return sorted(seen)


def code_fingerprint(modules: list[str]) -> str:
    """Hash of the semantic source of whole modules, so that a change to the logic of any
    function in them (and only such a change) invalidates the models they produced."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(name.encode())
        digest.update(_semantic_source(_module_file(name).read_text()).encode())
    return digest.hexdigest()[:16]


def cache_key(kind: str, config: dict[str, Any], modules: list[str] = (), precision: str = "float32") -> str:
    """The entry's name: a hash of the kind, the configuration, the code and the training
    precision (a model trained in bfloat16 is never served to a float32 build)."""
    payload = {"kind": kind, "config": config, "code": code_fingerprint(list(modules)), "precision": precision}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def entry_path(kind: str, config: dict[str, Any], modules: list[str] = (), precision: str = "float32") -> Path:
    return paths.cache_dir() / kind / f"{cache_key(kind, config, modules, precision)}.pt"


def resolve_precision(requested: str, device: torch.device) -> str:
    """``"auto"``: the hardware's training precision (:func:`lib.precision.training_precision`);
    ``"float32"``: a model that must stay in float32 whatever the hardware."""
    if requested not in ("auto", "float32"):
        raise ValueError(f"unknown training precision {requested!r}; fix: use 'auto' or 'float32'")
    return precision_module.training_precision(device) if requested == "auto" else "float32"


def _atomic_save(obj: dict[str, Any], target: Path) -> None:
    paths.atomic_write(target, lambda tmp: torch.save(obj, tmp))


def _try_load(path: Path) -> dict[str, Any] | None:
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
        if not (isinstance(entry, dict) and isinstance(entry.get("state_dict"), dict) and isinstance(entry.get("history"), dict)):
            raise ValueError("not a cache entry (needs a state_dict and a history)")
        return entry
    except Exception as err:  # noqa: BLE001 - any unreadable entry is retrained
        print(f"cache: entry {path} is unreadable ({type(err).__name__}: {err}); retraining it", flush=True)
        return None


@contextlib.contextmanager
def _entry_lock(path: Path):
    """Hold an exclusive lock on one entry, so two builds running side by side that need
    the same model train it once: the second waits, then loads the first one's result."""
    try:
        import fcntl
    except ImportError:  # Windows: no locking; at worst a model is trained twice
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ModelTarget:
    """A trained model a notebook needs, declared in its assignment package so that the build
    can train it before the notebook starts (see :mod:`lib.build`).

    ``fetch(device)`` is the cached getter itself (e.g. ``partial(autoencoder, recipe)``): it
    loads the model or trains and stores it.  ``estimate`` is a first guess of its one-core
    training seconds, used for the order and the time left until a build has measured it.
    ``needs``: the models its training loads (e.g. the auto-encoder whose codes a GAN learns)."""

    fetch: Callable[[torch.device], object]
    estimate: float
    needs: tuple[ModelTarget, ...] = ()


class _Planned(Exception):  # noqa: N818 - a signal, not an error: the entry a probe looked for
    def __init__(self, path: Path, label: str):
        super().__init__(label)
        self.path, self.label = path, label


_PLANNING = {"on": False}


def planned_entry(call: Callable[[], object]) -> tuple[Path, str]:
    """The entry ``call()`` loads or trains, and its label, found without loading or training
    anything: inside this probe :func:`load_or_train` stops at once with its entry's path.
    ``call`` must reach its own :func:`load_or_train` before any other (its dependencies are
    loaded inside its ``train``), as every cached getter of the bundle does."""
    _PLANNING["on"] = True
    try:
        call()
    except _Planned as planned:
        return planned.path, planned.label
    finally:
        _PLANNING["on"] = False
    name = getattr(call, "__name__", call)
    raise RuntimeError(f"{name!r} reached no cached model; fix: declare only cached getters as model targets")


def load_or_train(
    kind: str,
    config: dict[str, Any],
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], dict[str, Any]],
    device: torch.device,
    label: str | None = None,
    precision: str = "auto",
) -> tuple[nn.Module, dict[str, Any]]:
    """Return ``(model, history)``: from the cache when an entry for (kind, config, code)
    exists, else ``build()`` + ``train(model)`` and store the result.  The code part of the
    key is the semantic source of the module that defines ``build`` and of every ``lib``
    module it imports (see :func:`training_modules`): nobody keeps a list of it by hand.

    ``precision="auto"`` trains under the hardware's autocast precision (see
    :mod:`lib.precision`), ``"float32"`` keeps this model in float32; the precision used
    is part of the key and is stored in the entry.

    Nothing is written until training has finished, so an interrupted training
    (e.g. KeyboardInterrupt) leaves no entry behind.
    """
    resolved = resolve_precision(precision, device)
    path = entry_path(kind, config, training_modules(build.__module__), resolved)
    if _PLANNING["on"]:
        raise _Planned(path, label or kind)
    with _entry_lock(path):
        return _load_or_train_locked(path, kind, config, build, train, device, label, resolved)


def _load_or_train_locked(path, kind, config, build, train, device, label, precision):
    model = build()
    if path.exists():
        entry = _try_load(path)
        if entry is not None:
            try:
                model.load_state_dict(entry["state_dict"])
            except RuntimeError as err:
                print(f"cache: entry {path} does not fit the model ({err}); retraining it", flush=True)
            else:
                _STATS["loaded"] += 1
                _PRECISIONS.setdefault(precision, set()).add(label or kind)
                print(f"cache: loaded {label or kind} ({path.stem[:8]})", flush=True)
                return model.to(device), entry["history"]
    start = time.perf_counter()
    with precision_module.training(precision):
        history = train(model.to(device))
    _STATS["trained"] += 1
    _PRECISIONS.setdefault(precision, set()).add(label or kind)
    seconds = time.perf_counter() - start
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_save({"state_dict": state, "history": history, "config": config, "kind": kind, "precision": precision}, path)
    record = {"kind": kind, "config": config, "key": path.stem, "precision": precision, "label": label or kind}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True))
    print(f"cache: trained {label or kind} in {precision} in {seconds:.1f} s, stored as {path.stem[:8]}", flush=True)
    return model, history


def export_state_dict(model: nn.Module, target: Path) -> Path:
    """Write ``model``'s weights (a plain state dict, loadable with ``weights_only=True``)
    atomically to ``target``, e.g. a model file a course asks students to hand in."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return paths.atomic_write(target, lambda tmp: torch.save(state, tmp))
