"""Give freed heap memory back to the operating system after heavy work.

PyTorch's CPU allocator uses malloc; after an explanation's large, short-lived activation
buffers are freed, glibc keeps the pages in its arenas, so a long-running app's RSS only
grows. `malloc_trim(0)` returns those free pages (measured by benchmarks/bench_memory_server.py).
A no-op where glibc is not the C library (macOS, Windows, musl).

glibc also gives each new thread that allocates its own arena (up to 8 per core), and freed memory in
one arena is no use to another: the app's script threads, torch's and ONNX Runtime's workers each keep
their own high-water mark. `make run` sets MALLOC_ARENA_MAX=2; `limit_malloc_arenas` does the same from
inside the process, for arenas made after the call, so `streamlit run app.py` behaves alike.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

ARENAS = 2  # as `make run` sets MALLOC_ARENA_MAX
_M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit (glibc's malloc.h)


@functools.cache
def _libc_function(symbol: str):
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), symbol) if name else None
    except (OSError, AttributeError):
        return None


def _libc_malloc_trim():
    return _libc_function("malloc_trim")


def release_free_memory() -> bool:
    """Ask the C allocator to return free memory to the OS; True if it could."""
    trim = _libc_malloc_trim()
    return bool(trim(0)) if trim is not None else False


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `count` for threads that allocate from now on, unless MALLOC_ARENA_MAX
    is set (glibc read it at start; the environment wins). True if the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _libc_function("mallopt")
    return bool(mallopt(_M_ARENA_MAX, int(count))) if mallopt is not None else False
