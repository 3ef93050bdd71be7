"""Every location the bundle reads or writes, in one place.

Environment variables override the defaults so tests and CI can build into
temporary folders without touching a student's cache or reports:
``BUNDLE_DATA_DIR``, ``BUNDLE_CACHE_DIR``, ``BUNDLE_REPORT_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
LIB_DIR = ROOT / "lib"
TEMPLATE_DIR = LIB_DIR / "templates"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Folder holding the verified, decompressed MNIST IDX files."""
    return _env_path("BUNDLE_DATA_DIR", ROOT / "data" / "mnist")


def cache_dir() -> Path:
    """Folder of trained-model checkpoints (safe to delete: they are retrained)."""
    return _env_path("BUNDLE_CACHE_DIR", ROOT / "cache")


def report_dir() -> Path:
    """Folder receiving executed notebooks, metrics JSON and the PDFs."""
    return _env_path("BUNDLE_REPORT_DIR", ROOT / "report")


def metrics_path(assignment: str, notebook: str) -> Path:
    return report_dir() / assignment / "metrics" / f"{notebook}.json"


def exported_models_dir(assignment: str) -> Path:
    """Trained models a course asks to hand in (``mnist_ae.pt`` ...), written by the notebooks."""
    return report_dir() / assignment / "models"
