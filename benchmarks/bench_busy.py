"""Speed next to a busy process: bench_explain idle, then again while one other process keeps a core busy.

    python -m benchmarks.bench_busy                      the project's thread policy (detector/threads.py)
    python -m benchmarks.bench_busy --compare            also OpenMP's default wait policy and 1 torch thread
    python -m benchmarks.bench_busy --env DFX_THREADS=1  any other setting, as KEY=VALUE (repeatable)

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

TARGET = 2.0
# Name -> environment changes for --compare. "" for OMP_WAIT_POLICY means OpenMP's own default (detector/threads.py).
POLICIES = {
    "project policy": {},
    "OpenMP default wait policy": {"OMP_WAIT_POLICY": ""},
    "1 torch thread, OpenMP default": {"OMP_WAIT_POLICY": "", "DFX_THREADS": "1"},
    "1 torch thread, passive": {"DFX_THREADS": "1"},
}


def explain_in_child(env_changes: dict[str, str]) -> dict:
    """Run `python -m benchmarks.bench_explain --json` with these environment changes; its parsed JSON."""
    env = {**os.environ, **env_changes}
    for key in ("OMP_WAIT_POLICY", "DFX_THREADS"):  # what the caller did not set comes from detector/threads.py
        if key not in env_changes:
            env.pop(key, None)
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_explain", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
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


def idle_and_busy(env_changes: dict[str, str]) -> dict:
    idle = explain_in_child(env_changes)
    busy = with_busy_core(lambda: explain_in_child(env_changes))
    print(f"{env_changes or 'project policy'}: forward {idle['forward']['median_s'] * 1000:.1f} -> "
          f"{busy['forward']['median_s'] * 1000:.1f} ms, four maps {idle['four_maps_s']:.2f} -> {busy['four_maps_s']:.2f} s",
          file=sys.stderr, flush=True)
    return {
        "env": env_changes, "idle": idle, "busy": busy,
        "forward_ratio": busy["forward"]["median_s"] / idle["forward"]["median_s"],
        "four_maps_ratio": busy["four_maps_s"] / idle["four_maps_s"],
    }


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
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    runs = {"project policy": {}} if not args.env else {" ".join(args.env): parse_env(args.env)}
    if args.compare:
        runs = POLICIES
    results = {name: idle_and_busy(env) for name, env in runs.items()}
    rows = []
    for name, r in results.items():
        idle, busy = r["idle"], r["busy"]
        threads = busy["machine"]["torch_threads"]
        rows.append((f"{name} ({threads} threads): forward ms idle / busy",
                     f"{idle['forward']['median_s'] * 1000:.1f} / {busy['forward']['median_s'] * 1000:.1f}",
                     f"{r['forward_ratio']:.2f}x (target <= {TARGET:g}x)"))
        rows.append((f"{name}: four maps s idle / busy", f"{idle['four_maps_s']:.2f} / {busy['four_maps_s']:.2f}",
                     f"{r['four_maps_ratio']:.2f}x (target <= {TARGET:g}x)"))
    return report("busy", rows, {"target_ratio": TARGET, "runs": results})


if __name__ == "__main__":
    main()
