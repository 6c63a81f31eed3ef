"""CPU thread policy for every entry point (app, CLIs, benchmarks, tests).

Import this module before torch: OpenMP reads OMP_WAIT_POLICY once, when torch's libgomp loads.
By default OpenMP's worker threads spin for a while after each parallel region waiting for the next one;
when another process holds a core, the spinning thread steals the time slice its sibling needs and
one forward pass went from 12 ms to 385 ms (issue 19). With PASSIVE they sleep instead.
The numbers behind the choice are in README "Speed on a busy machine" (benchmarks/bench_busy.py).

Either knob can be overridden from the environment: OMP_WAIT_POLICY, and DFX_THREADS for torch's
intra-op thread count (0 or unset: one per core, at most 8).
"""

from __future__ import annotations

import os
import sys

# A user who exports OMP_WAIT_POLICY=ACTIVE (e.g. on a dedicated server) keeps it; an explicitly empty
# value means OpenMP's own default (spin a while, then sleep), which benchmarks/bench_busy.py compares.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
elif not os.environ["OMP_WAIT_POLICY"].strip():
    del os.environ["OMP_WAIT_POLICY"]

TORCH_ALREADY_LOADED = "torch" in sys.modules  # then the wait policy above came too late for this process


def available_cores() -> int:
    """Cores this process may run on (taskset, containers), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count() -> int:
    """Torch intra-op threads: DFX_THREADS if set, else all available cores but never more than 8
    (beyond that small convolutions get slower)."""
    try:
        wanted = int(os.environ.get("DFX_THREADS", 0) or 0)
    except ValueError:
        wanted = 0
    return wanted if wanted > 0 else max(1, min(8, available_cores()))


def set_cpu_threads() -> int:
    """Apply thread_count() to torch; returns it."""
    import torch

    threads = thread_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
