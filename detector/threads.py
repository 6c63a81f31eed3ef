"""CPU thread policy for every entry point (app, CLIs, benchmarks, tests).

Import this module before torch: OpenMP reads its wait settings once, when torch's libgomp loads.
OpenMP's worker threads spin after each parallel region, waiting for the next one (by default
300,000 rounds); when another process holds a core, a spinning thread steals the time slice its
sibling needs (issue 19: one forward pass 12 ms -> 385 ms on a loaded machine).

Two settings together, chosen by measurement (README "Speed next to a busy process",
benchmarks/bench_busy.py, idle and busy in one run on a quiet machine):
- Torch's thread count follows the machine: with DFX_THREADS unset, every forward pass of a
  Detector's model (and every analysis) uses one thread per core that other processes leave free,
  measured from /proc/stat twice a second (cpu_threads_now). One thread on the free core never
  waits for a sibling, so next to a busy process a forward pass takes what one thread takes.
- A short spin (GOMP_SPINCOUNT=20000, tens of microseconds) instead of sleeping at once (PASSIVE):
  when the machine is idle and two threads work, the layers of a forward pass follow each other
  faster than a sleeping thread wakes up (12.8 ms vs 23.5 ms a forward pass, measured), and a
  short spin wastes little of a core when the thread count adapts late.

Overrides from the environment: OMP_WAIT_POLICY (kept as exported; an empty value means OpenMP's own
default), GOMP_SPINCOUNT, and DFX_THREADS=N for a fixed intra-op thread count (0 or unset: adapt,
between 1 and one per core, at most 8).
"""

from __future__ import annotations

import os
import sys
import threading
import time

SPIN_COUNT = "20000"

# A user who exports OMP_WAIT_POLICY (PASSIVE on a shared server, ACTIVE on a dedicated one) or
# GOMP_SPINCOUNT keeps it; an explicitly empty OMP_WAIT_POLICY means OpenMP's own default (spin
# 300,000 rounds, then sleep), which benchmarks/bench_busy.py compares.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)  # libgomp ignores it under an explicit policy
elif not os.environ["OMP_WAIT_POLICY"].strip():
    del os.environ["OMP_WAIT_POLICY"]

TORCH_ALREADY_LOADED = "torch" in sys.modules  # then the wait policy above came too late for this process


def available_cores() -> int:
    """Cores this process may run on (taskset, containers), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MAX_THREADS = 8  # beyond this small convolutions get slower


def fixed_threads() -> int | None:
    """DFX_THREADS when set to a positive number, else None (adapt to the machine)."""
    try:
        wanted = int(os.environ.get("DFX_THREADS", 0) or 0)
    except ValueError:
        wanted = 0
    return wanted if wanted > 0 else None


def thread_count() -> int:
    """Torch intra-op threads at most: DFX_THREADS if set, else all available cores but never more than 8."""
    return fixed_threads() or max(1, min(MAX_THREADS, available_cores()))


def threads_for(free_cores: float, most: int) -> int:
    """Threads for this many idle cores: one per free core, rounded, at least 1 and at most `most`."""
    return max(1, min(most, int(free_cores + 0.5)))


class CpuWatch(threading.Thread):
    """Cores that OTHER processes kept busy over the last half second, on the cores we may run on.

    /proc/stat counts every process's CPU time per core; our own (os.times, all our threads) is
    subtracted, so our work never makes us back off. A daemon thread: reading /proc/stat costs
    microseconds, and the answer is ready without a sampling delay when a request comes."""

    INTERVAL_S = 0.5

    def __init__(self) -> None:
        super().__init__(daemon=True, name="dfx-cpu-watch")
        self.cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.tick = os.sysconf("SC_CLK_TCK")
        self.elsewhere = 0.0

    def busy_seconds(self) -> float:
        """CPU seconds spent on our cores by everyone since boot (idle and iowait excluded)."""
        wanted, busy = {f"cpu{c}" for c in self.cores}, 0
        with open("/proc/stat") as handle:
            for line in handle:
                fields = line.split()
                if fields and fields[0] in wanted:
                    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
                    busy += sum(values) - values[3] - values[4]
        return busy / self.tick

    def reading(self) -> tuple[float, float, float]:
        """(wall clock, everyone's CPU seconds on our cores, this process's CPU seconds)."""
        return time.monotonic(), self.busy_seconds(), _own_cpu_seconds()

    @staticmethod
    def elsewhere_between(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
        """Cores kept busy by other processes between two readings."""
        wall = after[0] - before[0]
        if wall <= 0:
            return 0.0
        return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)

    def run(self) -> None:
        last = self.reading()
        while True:
            time.sleep(self.INTERVAL_S)
            now = self.reading()
            self.elsewhere = self.elsewhere_between(last, now)
            last = now


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


_watch: CpuWatch | None = None
_watch_lock = threading.Lock()


def busy_elsewhere() -> float:
    """Cores other processes kept busy lately (0.0 until the watch has run for half a second, and where
    /proc/stat does not exist)."""
    global _watch
    if _watch is None:
        with _watch_lock:
            if _watch is None and os.path.exists("/proc/stat") and hasattr(os, "sched_getaffinity"):
                _watch = CpuWatch()
                _watch.start()
    return _watch.elsewhere if _watch else 0.0


def watched_busy_elsewhere() -> float | None:
    """busy_elsewhere() if the watch is running (something adapted threads in this process), else None."""
    return _watch.elsewhere if _watch else None


def cpu_threads_now() -> int:
    """Torch threads for the next piece of work: DFX_THREADS if set, else the cores left free."""
    fixed = fixed_threads()
    if fixed:
        return fixed
    return threads_for(available_cores() - busy_elsewhere(), thread_count())


def set_cpu_threads() -> int:
    """Apply cpu_threads_now() to torch in the calling thread (torch keeps the count per thread: a
    Streamlit session's script thread sets its own); returns it. Call it before each piece of work."""
    import torch

    threads = cpu_threads_now()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
