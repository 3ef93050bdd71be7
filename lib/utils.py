"""Seeding, device choice and thread settings shared by every notebook."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators; return a torch generator
    seeded the same way for code that wants an explicit one (batch order, label draws)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)  # absent in some builds
    return mps is not None and mps.is_available()


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then CPU; a named device must be present."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda":
        present = torch.cuda.is_available() and (chosen.index or 0) < torch.cuda.device_count()
    else:
        present = chosen.type != "mps" or _mps_available()
    if not present:
        raise RuntimeError(f'device "{device}" is not available on this machine; fix: device="auto" (or "cpu")')
    return chosen


def configure_threads() -> int:
    """Use every core for intra-op parallelism (torch defaults can under-use small machines).

    ``BUNDLE_THREADS`` overrides the count, e.g. ``1`` when two jobs share the machine
    (two jobs each using every core run several times slower than one after the other).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    setting = os.environ.get("BUNDLE_THREADS", "").strip()
    if setting and not setting.isdigit():
        raise ValueError(f"BUNDLE_THREADS={setting!r} is not a whole number; fix: export BUNDLE_THREADS=1 (or unset it)")
    cores = max(1, int(setting or cores or 1))
    torch.set_num_threads(cores)
    return cores
