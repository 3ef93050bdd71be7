"""Training precision: bfloat16 autocast where the hardware computes it natively, else float32.

``BUNDLE_PRECISION`` chooses it for every model the build trains:

* ``auto`` (default): bfloat16 on a CPU whose flags list ``avx512_bf16`` or ``amx_bf16``
  and on a CUDA GPU that supports it, float16 with a gradient scaler on older CUDA GPUs,
  float32 everywhere else (Apple MPS, CPUs without native bfloat16);
* ``float32``: float32 everywhere (the reference, and the way to rule precision out).

Only the training steps run under autocast: the weights stay float32 (the optimizer updates
float32 master weights), and every measurement a report prints (:func:`lib.train.predict`,
scores, features) is computed in float32 from those weights.  The precision a model was
trained in is part of its cache key (see :mod:`lib.cache`), so switching it never reuses a
model trained the other way.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import torch

SETTINGS = ("auto", "float32")
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def setting() -> str:
    """The ``BUNDLE_PRECISION`` setting, checked (one-line error naming the fix)."""
    value = os.environ.get("BUNDLE_PRECISION", "auto").strip() or "auto"
    if value not in SETTINGS:
        raise ValueError(
            f"BUNDLE_PRECISION={value!r} is not a precision setting; fix: export BUNDLE_PRECISION=auto "
            "(bfloat16 where the hardware has it) or BUNDLE_PRECISION=float32"
        )
    return value


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (x86 ``avx512_bf16`` or AMX); read from
    ``/proc/cpuinfo`` (elsewhere: False, so the CPU trains in float32)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            flags = set(line.split(":", 1)[1].split())
            return bool({"avx512_bf16", "amx_bf16"} & flags)
    return False


def training_precision(device: torch.device | str) -> str:
    """``"bfloat16"``, ``"float16"`` or ``"float32"``: what models trained on ``device`` use."""
    device = torch.device(device)
    if setting() == "float32":
        return "float32"
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bfloat16"
    return "float32"


# The precision of the training running in this process (set by lib.cache around a model's
# training, so the loops in lib.train need no extra argument); float32 outside it.
_ACTIVE = {"precision": "float32"}


@contextlib.contextmanager
def training(precision: str):
    """Train in ``precision`` inside the block (the loops read it through :func:`autocast`)."""
    previous = _ACTIVE["precision"]
    _ACTIVE["precision"] = precision
    try:
        yield
    finally:
        _ACTIVE["precision"] = previous


def use(device: torch.device | str) -> str:
    """Train in the hardware's precision (:func:`training_precision`) for the rest of this
    process: a notebook's own short trainings (few-label heads) then run like the cached
    models.  Returns the precision."""
    _ACTIVE["precision"] = training_precision(device)
    return _ACTIVE["precision"]


def active() -> str:
    return _ACTIVE["precision"]


def autocast_dtype() -> torch.dtype | None:
    """The dtype of the active training precision for ``torch.autocast`` (None: float32)."""
    return _DTYPES.get(_ACTIVE["precision"])


def autocast(device: torch.device | str):
    """The autocast context of the active training precision on ``device`` (a no-op in float32)."""
    device = torch.device(device)
    dtype = _DTYPES.get(_ACTIVE["precision"])
    if dtype is None or device.type not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class GradientStep:
    """``backward`` + ``optimizer.step`` for one loss, with a gradient scaler when training
    in float16 (its small range underflows gradients; bfloat16 and float32 need none)."""

    def __init__(self):
        self.scaler = torch.amp.GradScaler("cuda") if _ACTIVE["precision"] == "float16" else None

    def __call__(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()


def describe(device: torch.device | str = "auto") -> str:
    """One line: the training precision on ``device`` and why (for logs and reports)."""
    from lib.utils import pick_device

    device = pick_device(str(device))
    chosen = training_precision(device)
    if setting() == "float32":
        return "float32, as BUNDLE_PRECISION=float32 asks"
    if chosen == "float32":
        return f"float32: this {device.type.upper()} has no native bfloat16"
    where = "this CPU computes bfloat16 natively" if device.type == "cpu" else f"on {torch.cuda.get_device_name(device)}"
    return f"{chosen} autocast ({where}), float32 weights"
