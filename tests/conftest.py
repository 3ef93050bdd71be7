"""Test set-up: every test works in temporary data/cache/report folders and offline;
MNIST comes from ``MNIST_DIR`` (CI: ../shared/data/mnist), never from the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_source() -> Path:
    source = Path(os.environ.get("MNIST_DIR", SHARED_MNIST))
    if not (source / "t10k-labels-idx1-ubyte.gz").exists() and not (source / "t10k-labels-idx1-ubyte").exists():
        pytest.fail(f"MNIST files not found in {source}; fix: export MNIST_DIR=/path/to/mnist (the four IDX files)")
    return source


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
