"""Which settings class describes a notebook, and the check the build runs before any
kernel starts (papermill passes values through unvalidated and only warns about unknown
names).

Every assignment package (``lib/<assignment>/__init__.py``) declares ``SETTINGS``, one
:class:`lib.settings.NotebookSettings` subclass per notebook; its fields are the
notebook's parameters, with types, ranges and per-profile values.  Profiles: ``full``
(report quality, the default), ``quick`` (a draft in minutes), ``smoke`` (seconds per
notebook, what the tests run).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

PROFILES = ("full", "quick", "smoke")
COMMON = ("profile", "device")  # parameters every notebook has


class ParameterError(ValueError):
    """A notebook parameter is unknown, ill-typed or out of range."""


def settings_for(notebook_id: str):
    """The settings class of notebook ``<assignment>/<name>``, or None when its assignment
    package declares none for it (a notebook with no parameters besides the common two)."""
    assignment, _, name = notebook_id.partition("/")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", assignment):
        return None
    try:
        package = importlib.import_module(f"lib.{assignment}")
    except ModuleNotFoundError:
        return None
    return getattr(package, "SETTINGS", {}).get(name)


def check_common(where: str, profile: Any, device: Any) -> None:
    if profile not in PROFILES:
        raise ParameterError(
            f"{where}: parameter 'profile' = {profile!r} is not one of {list(PROFILES)}; fix: profile=\"quick\" for a draft"
        )
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", device):
        raise ParameterError(
            f"{where}: parameter 'device' = {device!r} is not a device this bundle runs on; "
            'fix: device="auto" (GPU when present, else CPU), "cpu", "cuda", "cuda:1" or "mps"'
        )


def check_overrides(notebook_id: str, overrides: dict[str, Any]) -> None:
    """Reject unknown names and wrong values before a notebook is started."""
    settings = settings_for(notebook_id)
    if settings is not None:
        settings.check(notebook_id, overrides)
        return
    unknown = sorted(set(overrides) - set(COMMON))
    if unknown:
        raise ParameterError(f"{notebook_id}: unknown parameter '{unknown[0]}'; fix: use one of {', '.join(COMMON)}")
    check_common(notebook_id, overrides.get("profile", "full"), overrides.get("device", "auto"))
