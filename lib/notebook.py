"""The one setup line of a notebook: validated settings, the device, threads, plots."""

from __future__ import annotations

from typing import Any

import torch

from lib import plots, precision  # noqa: F401 - plots sets the figure style
from lib.settings import NotebookSettings
from lib.utils import configure_threads, pick_device


def setup(settings: type[NotebookSettings], where: str, namespace: dict[str, Any]) -> tuple[Any, torch.device]:
    """The notebook's settings (from its parameters cell, checked) and its device."""
    cfg = settings.resolve(where, namespace)
    configure_threads()
    device = pick_device(cfg.device)
    precision.use(device)  # the notebook's own trainings in the precision of the cached models
    return cfg, device
