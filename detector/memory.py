"""Give freed heap memory back to the operating system after heavy work.

PyTorch's CPU allocator uses malloc; after an explanation's large, short-lived activation
buffers are freed, glibc keeps the pages in its arenas, so a long-running app's RSS only
grows. `malloc_trim(0)` returns those free pages (measured by benchmarks/bench_memory_server.py).
A no-op where glibc is not the C library (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc_malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Ask the C allocator to return free memory to the OS; True if it could."""
    trim = _libc_malloc_trim()
    return bool(trim(0)) if trim is not None else False
