"""How lib's processes ask glibc's ``malloc`` to keep freed memory.

By default glibc hands a freed block of over 128 KiB back to the kernel and maps it afresh on
the next request, so every training step page-faults on its own activations: about 2,500
minor faults a step for the nn4i_ex2 auto-encoder in bfloat16, 4,000 in float32.  With the
mmap threshold at glibc's 64-bit ceiling (32 MiB) and the trim threshold at 1 GiB the faults
disappear and training steps ran 1.2x faster (measured here in float32 and in bfloat16, one
process alone and two side by side).  Neither setting does anything on its own: a trim
threshold alone even fixes the mmap threshold at 128 KiB and made steps slower.

The names are environment variables that glibc reads when a process starts, so they must be
set before the process exists: the build sets them in its own environment before it starts
any model worker or notebook kernel, and ``make bench`` restarts itself with them.  A value
the user set wins.  Other C libraries ignore the names.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def keep_freed_memory(environ: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Add :data:`ALLOCATOR_ENV` to ``environ`` where a name is not set; returns ``environ``."""
    for name, value in ALLOCATOR_ENV.items():
        environ.setdefault(name, value)
    return environ


def configured(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Whether every name of :data:`ALLOCATOR_ENV` is set in ``environ``."""
    return all(name in environ for name in ALLOCATOR_ENV)


def stock_env(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """A copy of ``environ`` without the names of :data:`ALLOCATOR_ENV`: glibc's defaults."""
    return {name: value for name, value in environ.items() if name not in ALLOCATOR_ENV}
