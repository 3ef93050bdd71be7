"""Test set-up: every test works in temporary data/cache/report folders and offline;
MNIST comes from ``MNIST_DIR`` (CI: ../shared/data/mnist), never from the network.

The session also checks that no test rewrote a tracked file of the checkout (a test must
work on copies): the tracked files' contents and modification times are compared before
and after the run.  The check is skipped outside a git checkout or without git, and with
``BUNDLE_SKIP_TREE_CHECK=1`` (for when you edit files yourself while the tests run).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_source() -> Path:
    source = Path(os.environ.get("MNIST_DIR", SHARED_MNIST))
    if not (source / "t10k-labels-idx1-ubyte.gz").exists() and not (source / "t10k-labels-idx1-ubyte").exists():
        pytest.fail(f"MNIST files not found in {source}; fix: export MNIST_DIR=/path/to/mnist (the four IDX files)")
    return source


def tracked_files_state(root: Path) -> dict[str, tuple[int, str]] | None:
    """Tracked file -> (modification time in ns, SHA-256 of its content); None when ``root``
    is not a git checkout or git is missing.  Reads only (no index refresh, no lock)."""
    git = shutil.which("git")
    if git is None:
        return None
    listed = subprocess.run(
        [git, "--no-optional-locks", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=60, check=False
    )
    if listed.returncode != 0:
        return None
    state = {}
    for name in listed.stdout.decode(errors="surrogateescape").split("\0"):
        path = root / name
        if name and path.is_file():
            state[name] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def rewritten_files(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """Tracked files written (even if restored afterwards), created or deleted in between."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


@pytest.fixture(scope="session", autouse=True)
def tracked_files_stay_untouched():
    if os.environ.get("BUNDLE_SKIP_TREE_CHECK") == "1":
        yield
        return
    before = tracked_files_state(ROOT)
    yield
    if before is None:
        return
    changed = rewritten_files(before, tracked_files_state(ROOT) or {})
    if changed:
        pytest.fail(
            f"the test session rewrote tracked files: {', '.join(changed[:10])}; fix: make the test work on a copy "
            "in tmp_path (if you edited them yourself during the run, rerun or set BUNDLE_SKIP_TREE_CHECK=1)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def bundle_dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bundle")
    return {name: base / name for name in ("data", "cache", "report")}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, bundle_dirs):
    monkeypatch.setenv("BUNDLE_DATA_DIR", str(bundle_dirs["data"]))
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(bundle_dirs["cache"]))
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(bundle_dirs["report"]))
    monkeypatch.setenv("BUNDLE_OFFLINE", "1")


@pytest.fixture
def mnist_dir(monkeypatch) -> Path:
    source = mnist_source()
    monkeypatch.setenv("MNIST_DIR", str(source))
    return source
