"""Speed next to a busy process: bench_explain idle, then again while one other process keeps a core busy.

    python -m benchmarks.bench_busy                      the project's thread policy (detector/threads.py)
    python -m benchmarks.bench_busy --compare            also fixed thread counts and OpenMP's default wait policy
    python -m benchmarks.bench_busy --env DFX_THREADS=1  any other setting, as KEY=VALUE (repeatable)
    python -m benchmarks.bench_busy --compare --only "project policy" --only "1 torch thread, passive"
                                                         a subset of the --compare settings (a shorter run)

Target: the busy/idle ratio of one forward pass and of all four maps <= 2x. Each measurement runs in a
fresh child process, because the OpenMP wait policy is read once, when torch loads. The busy process is
`python -c "while True: pass"`, started here and ended here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common import ROOT, report
from detector.threads import available_cores

TARGET = 2.0
ALL_CORES = str(available_cores())
# Name -> environment changes for --compare. "" for OMP_WAIT_POLICY means OpenMP's own default, and an
# unset DFX_THREADS means threads adapted to the free cores (detector/threads.py).
POLICIES = {
    "project policy": {},  # threads = free cores, short spin (GOMP_SPINCOUNT=20000)
    "adaptive threads, passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "adaptive threads, OpenMP default wait": {"OMP_WAIT_POLICY": ""},  # spins ~300,000 rounds, then sleeps
    "all cores, passive": {"OMP_WAIT_POLICY": "PASSIVE", "DFX_THREADS": ALL_CORES},  # shipped before adaptive threads
    "1 torch thread, passive": {"OMP_WAIT_POLICY": "PASSIVE", "DFX_THREADS": "1"},
    "all cores, OpenMP default": {"OMP_WAIT_POLICY": "", "DFX_THREADS": ALL_CORES},  # before issue 19
    "1 torch thread, OpenMP default": {"OMP_WAIT_POLICY": "", "DFX_THREADS": "1"},
}


def explain_in_child(env_changes: dict[str, str], timeout_s: float) -> dict | None:
    """Run `python -m benchmarks.bench_explain --json` with these environment changes; its parsed JSON,
    or None when it ran past timeout_s (OpenMP's spinning default once took > 600 s next to a busy core)."""
    env = {**os.environ, **env_changes}
    for key in ("OMP_WAIT_POLICY", "DFX_THREADS", "GOMP_SPINCOUNT"):  # what the caller did not set comes from detector/threads.py
        if key not in env_changes:
            env.pop(key, None)
    try:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_explain", "--json"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True, timeout=timeout_s).stdout
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.strip().splitlines()[-1])


def with_busy_core(fn):
    """Call fn() while a child process spins on one core."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)  # let the scheduler see it as a CPU hog first
        return fn()
    finally:
        busy.kill()
        busy.wait()


def idle_and_busy(env_changes: dict[str, str], timeout_s: float) -> dict:
    """One setting measured idle, then next to the busy process; ratios are None if a half timed out."""
    idle = explain_in_child(env_changes, timeout_s)
    busy = with_busy_core(lambda: explain_in_child(env_changes, timeout_s)) if idle else None
    result = {"env": env_changes, "idle": idle, "busy": busy, "forward_ratio": None, "four_maps_ratio": None}
    if idle and busy:
        result["forward_ratio"] = busy["forward"]["median_s"] / idle["forward"]["median_s"]
        result["four_maps_ratio"] = busy["four_maps_s"] / idle["four_maps_s"]
    print(f"{env_changes or 'project policy'}: {summary(result)}", file=sys.stderr, flush=True)
    return result


def summary(result: dict) -> str:
    idle, busy = result["idle"], result["busy"]
    if not (idle and busy):
        return f"{'busy' if idle else 'idle'} half did not finish in time"
    return (f"forward {idle['forward']['median_s'] * 1000:.1f} -> {busy['forward']['median_s'] * 1000:.1f} ms, "
            f"four maps {idle['four_maps_s']:.2f} -> {busy['four_maps_s']:.2f} s")


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also measure the alternatives in POLICIES")
    parser.add_argument("--only", action="append", default=[], choices=list(POLICIES), metavar="NAME",
                        help="with --compare: measure only these settings (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per measurement before giving up")
    args = parser.parse_args(argv)
    runs = {"project policy": {}} if not args.env else {" ".join(args.env): parse_env(args.env)}
    if args.compare:
        runs = {name: env for name, env in POLICIES.items() if not args.only or name in args.only}
    results = {name: idle_and_busy(env, args.timeout) for name, env in runs.items()}
    return report("busy", table(results), {"target_ratio": TARGET, "runs": results})


def table(results: dict[str, dict]) -> list[tuple[str, str, str]]:
    rows = []
    for name, r in results.items():
        idle, busy = r["idle"], r["busy"]
        if not (idle and busy):
            rows.append((name, summary(r), f"target <= {TARGET:g}x: not met"))
            continue
        threads = f"{idle['machine']['torch_threads']} / {busy['machine']['torch_threads']}"
        rows.append((f"{name} ({threads} threads): forward ms idle / busy",
                     f"{idle['forward']['median_s'] * 1000:.1f} / {busy['forward']['median_s'] * 1000:.1f}",
                     f"{r['forward_ratio']:.2f}x (target <= {TARGET:g}x)"))
        rows.append((f"{name}: four maps s idle / busy", f"{idle['four_maps_s']:.2f} / {busy['four_maps_s']:.2f}",
                     f"{r['four_maps_ratio']:.2f}x (target <= {TARGET:g}x)"))
    return rows


if __name__ == "__main__":
    main()
