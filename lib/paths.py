"""Every location the bundle reads or writes, in one place.

Environment variables override the defaults so tests and CI can build into
temporary folders without touching a student's cache or reports:
``BUNDLE_DATA_DIR``, ``BUNDLE_CACHE_DIR``, ``BUNDLE_REPORT_DIR`` (and ``BUNDLE_STAGING_DIR``,
set by the build while a notebook runs).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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


def output_dir() -> Path:
    """Where a notebook writes its metrics and exported models.  While ``lib.build`` executes
    a notebook this is a staging folder (``BUNDLE_STAGING_DIR``) whose files move into the
    report folder only when the notebook succeeds, so a failed run replaces nothing;
    otherwise it is the report folder."""
    return _env_path("BUNDLE_STAGING_DIR", report_dir())


def metrics_path(assignment: str, notebook: str) -> Path:
    return output_dir() / assignment / "metrics" / f"{notebook}.json"


def exported_models_dir(assignment: str) -> Path:
    """Trained models a course asks to hand in (``mnist_ae.pt`` ...), written by the notebooks."""
    return output_dir() / assignment / "models"


# The folders the bundle writes to, by the environment variable that moves each one.
WRITTEN_DIRS = {"BUNDLE_DATA_DIR": data_dir, "BUNDLE_CACHE_DIR": cache_dir, "BUNDLE_REPORT_DIR": report_dir}


def check_written_dirs() -> None:
    """Fail early, in one line, when a folder the bundle writes to is a file."""
    for variable, folder in WRITTEN_DIRS.items():
        path = folder()
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(
                f"{path} ({variable} or its default) is a file, not a folder; fix: point {variable} at a folder"
            )


_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the process's umask, restored at once


def atomic_write(target: Path, write: Callable[[Path], object]) -> Path:
    """Write ``target`` through ``write(temporary_path)`` and rename it into place, so a
    reader (or a crash half-way) never sees a partial file.  The one way files are written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the mode a plain open() would
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
