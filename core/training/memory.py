"""Keep a long-lived server's memory small (glibc only; a no-op elsewhere).

Runs train in worker processes, which return all their memory when they exit. The server itself
still evaluates checkpoints and builds models for the Results, Equivariance, Filters and Spectral
pages in its script threads, and glibc gives each thread its own malloc arena that keeps freed
memory. ``limit_malloc_arenas(n)`` caps them at ``n`` (``mallopt(M_ARENA_MAX)``, like the environment
variable ``MALLOC_ARENA_MAX``), so those threads share arenas instead of each holding its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _ = libc.mallopt  # glibc has it; musl and macOS do not (AttributeError)
        return libc
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``n`` for arenas created from now on; True if it took effect."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, int(n)) == 1)
