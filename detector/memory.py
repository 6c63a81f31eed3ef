"""Give freed heap memory back to the operating system after heavy work.

PyTorch's CPU allocator uses malloc; after an explanation's large, short-lived activation
buffers are freed, glibc keeps the pages in its arenas, so a long-running app's RSS only
grows. `malloc_trim(0)` returns those free pages (measured by benchmarks/bench_memory_server.py).
A no-op where glibc is not the C library (macOS, Windows, musl).

glibc also gives each new thread that allocates its own arena (up to 8 per core), and freed memory in
one arena is no use to another: the app's script threads, torch's and ONNX Runtime's workers each keep
their own high-water mark. `make run` sets MALLOC_ARENA_MAX=2; `limit_malloc_arenas` does the same from
inside the process, for arenas made after the call, so `streamlit run app.py` behaves alike.

Cyclic garbage: each Streamlit run leaves reference cycles (its element tree, rendered overlays) that
only a full collection frees, and Python runs one rarely in a process holding ~600k long-lived objects
(torch, Streamlit, the model), so the app's RSS crept up between them. Once those objects are frozen
(`freeze_long_lived`, after the model is loaded) a full collection takes ~3 ms instead of ~310 ms, and
`release_free_memory` then runs one before trimming (AppTest, 20 analyses with 2.3.0: peak 1415 ->
1376 MB, after the run 1329 -> 1286 MB; benchmarks/bench_memory.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
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
    """Ask the C allocator to return free memory to the OS; True if it could. After `freeze_long_lived`
    (cheap then) a full garbage collection runs first, so memory held by dead reference cycles goes too."""
    if gc.get_freeze_count():
        gc.collect()
    trim = _libc_malloc_trim()
    return bool(trim(0)) if trim is not None else False


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `count` for threads that allocate from now on, unless MALLOC_ARENA_MAX
    is set (glibc read it at start; the environment wins). True if the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _libc_function("mallopt")
    return bool(mallopt(_M_ARENA_MAX, int(count))) if mallopt is not None else False


def freeze_long_lived() -> int:
    """Collect garbage, then move every object alive now out of the cyclic collector's sight (gc.freeze):
    call it once what lives as long as the process is loaded (the app: after its model). Frozen objects
    are still freed when their reference count drops; a cycle among them is never collected, so call it
    when little is transient. Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
