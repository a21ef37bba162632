"""Keep a long-lived server's memory small (glibc only; a no-op elsewhere).

A training run allocates and frees hundreds of MB of tensors. glibc keeps freed memory in per-thread
arenas instead of returning it to the system, so the resident size of a server that has trained a
few models stays near the peak of the largest run. Two standard glibc knobs fix that:

* ``limit_malloc_arenas(n)``: at most ``n`` malloc arenas (``mallopt(M_ARENA_MAX)``, like the
  environment variable ``MALLOC_ARENA_MAX``), so worker threads share arenas instead of each
  holding its own;
* ``release_free_memory()``: ``malloc_trim(0)`` hands freed pages back to the system; the run
  manager calls it when a run ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Optional

M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


@lru_cache(maxsize=1)
def _libc() -> Optional[ctypes.CDLL]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # glibc has both; musl and macOS do not
        return libc
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``n`` for arenas created from now on; True if it took effect."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, int(n)) == 1)


def release_free_memory() -> bool:
    """Return freed heap memory to the system (``malloc_trim(0)``); True if some was released."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0) == 1)
