"""Headline numbers of an executed notebook, written as JSON so a build can be checked
by a program (``report/<assignment>/metrics/<notebook>.json``)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch

from lib import paths


def _plain(value: Any) -> Any:
    """Convert tensors / NumPy scalars and arrays into JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_metrics(assignment: str, notebook: str, metrics: dict[str, Any]) -> None:
    """Atomically write ``metrics`` for one notebook, with how many models this process
    trained and loaded (the build table shows them).  Returns nothing: as a notebook's last
    line it would otherwise print its path into the build log."""
    from lib import cache

    metrics = {"model_cache": cache.stats(), **metrics}
    target = paths.metrics_path(assignment, notebook)
    text = json.dumps(_plain(metrics), indent=2, sort_keys=True)
    paths.atomic_write(target, lambda tmp: tmp.write_text(text + "\n"))


def read_metrics(assignment: str, notebook: str) -> dict[str, Any]:
    return json.loads(paths.metrics_path(assignment, notebook).read_text())
