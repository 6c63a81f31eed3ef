"""detector.memory: freed heap back to the OS, and fewer malloc arenas (glibc only)."""

import subprocess
import sys
import textwrap

import pytest

from detector import memory

# Eight threads allocate and free 1 MB blocks at once; malloc_info then lists one <heap> per arena in use.
COUNT_ARENAS = textwrap.dedent("""
    import ctypes, ctypes.util, os, sys, tempfile, threading
    from detector.memory import limit_malloc_arenas
    print("capped" if limit_malloc_arenas(int(sys.argv[1])) else "not capped")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    barrier = threading.Barrier(8)
    def work():
        barrier.wait()
        blocks = [bytearray(1 << 20) for _ in range(4)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]; [t.join() for t in threads]
    path = tempfile.mktemp()
    handle = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(handle)); libc.fclose(ctypes.c_void_p(handle))
    print(open(path).read().count("<heap nr="))
    os.unlink(path)
""")


def arenas_used(cap: int, env: dict) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", COUNT_ARENAS, str(cap)], capture_output=True, text=True, check=True, env=env,
                         cwd=memory.__file__.rsplit("/detector/", 1)[0]).stdout.split("\n")
    return out[0], int(out[1])


@pytest.mark.skipif(memory._libc_function("mallopt") is None or not sys.platform.startswith("linux"), reason="needs glibc's mallopt")
def test_arena_cap_limits_the_arenas_threads_get_unless_the_environment_sets_it(monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    note, capped = arenas_used(1, env)
    assert note == "capped" and capped == 1
    note, free = arenas_used(0, {**env, "MALLOC_ARENA_MAX": "3"})  # the environment wins: no cap set here
    assert note == "not capped" and 1 < free <= 3
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert memory.limit_malloc_arenas() is False


# A reference cycle holding a finaliser: "freed" is printed when a collection frees it. Automatic
# collection is off, so only release_free_memory can free it.
CYCLE_FREED = textwrap.dedent("""
    import gc, weakref
    from detector.memory import freeze_long_lived, release_free_memory
    gc.disable()
    class Node: pass
    def cycle(tag):
        node = Node(); node.self = node
        weakref.finalize(node, print, "freed", tag)
    cycle("before freezing"); release_free_memory(); print("released once")
    print("frozen", freeze_long_lived() > 0)
    cycle("after freezing"); release_free_memory(); print("released twice")
""")


def test_release_collects_dead_cycles_once_long_lived_objects_are_frozen():
    """Without frozen objects a full collection is expensive in the app (~310 ms), so release_free_memory
    leaves cycles alone; after freeze_long_lived it collects them (the app's RSS no longer creeps)."""
    out = subprocess.run([sys.executable, "-c", CYCLE_FREED], capture_output=True, text=True, check=True,
                         cwd=memory.__file__.rsplit("/detector/", 1)[0]).stdout.split("\n")
    # freeze_long_lived collects first (the earlier cycle goes then), and release collects the later one.
    assert out[:5] == ["released once", "freed before freezing", "frozen True", "freed after freezing", "released twice"]
