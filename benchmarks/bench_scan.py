"""Batch scan throughput and memory: the plain one-process loop vs Ray Data with 1 and 2 actors.

    python -m benchmarks.bench_scan [--n 1000] [--modes loop,ray1,ray2]
    python -m benchmarks.bench_scan --n 10000 --splits train,val,test --modes ray2 --name scan_10k   # memory

Images: `n` test images drawn with a fixed seed from every set in ../shared/data (skips without
it). Each mode runs in its own Python process (so one mode's memory never shows up in another's),
through `detector.scan.scan` into a fresh results folder. While it runs, a sampler reads the RSS of
the driver and of every Ray actor from /proc twice a second, with how many files were done, so
flatness over the scan can be read off. Throughput is given twice: over the whole call (Ray's
start-up and each actor's model load included) and at steady state (first to last finished block).
Results: benchmarks/results/scan.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, report

SHARED = Path(os.environ.get("DFX_SHARED_DATA") or ROOT.parent / "shared" / "data")  # a worktree passes /work/shared/data
MODES = {"loop": ("local", 1), "ray1": ("ray", 1), "ray2": ("ray", 2)}


def pick_images(n: int, splits: str = "test", seed: int = 0) -> list[str]:
    import numpy as np

    files = sorted(str(p) for split in splits.split(",") for p in SHARED.glob(f"*/{split}/*/*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < n:
        raise SystemExit(f"only {len(files)} test images under {SHARED}")
    rng = np.random.default_rng(seed)
    return [files[i] for i in sorted(rng.choice(len(files), n, replace=False))]


def rss_mb(pid: int | str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def actor_pids() -> list[int]:
    """Ray names its actor processes after the actor class (ray::MapWorker(MapBatches(ScanWorker)))."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if b"ScanWorker" in handle.read(200):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done, self.samples, self.stop = 0, [], threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop.wait(0.5):
            workers = {pid: rss_mb(pid) for pid in actor_pids()}
            self.samples.append({"t": round(time.perf_counter() - start, 1), "done": self.done, "driver_mb": rss_mb("self"),
                                 "workers_mb": {str(k): v for k, v in workers.items() if v}})


def one_mode(mode: str, images: list[str]) -> dict:
    from detector.scan import EngineOptions, scan

    engine, actors = MODES[mode]
    sampler = Sampler()
    finished: list[float] = []

    def on_progress(done: int, total: int) -> None:
        sampler.done = done
        finished.append(time.perf_counter())

    sampler.start()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = scan([{"file": f} for f in images], out, EngineOptions(engine=engine, actors=actors, batch_size=8),
                       progress=False, on_progress=on_progress)
        wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    steady_files = summary.files - 8  # files after the first finished block
    steady = steady_files / (finished[-1] - finished[0]) if len(finished) > 1 else None
    return {"mode": mode, "files": summary.files, "faces": summary.faces, "failed": summary.failed,
            "wall_s": wall, "images_per_s": summary.files / wall, "steady_images_per_s": steady,
            "seconds_per_image_steady": 1 / steady if steady else None, "samples": sampler.samples}


def flatness(samples: list[dict], key: str) -> dict:
    """RSS at 25 %, 50 % and 100 % of the run's samples taken after the first file was done."""
    busy = [s for s in samples if s["done"] > 0]
    if not busy:
        return {}
    if key == "driver":
        series = [s["driver_mb"] for s in busy]
    else:
        series = [max(s["workers_mb"].values()) for s in busy if s["workers_mb"]]
    if not series:
        return {}
    pick = lambda q: round(series[min(len(series) - 1, int(q * (len(series) - 1)))], 1)  # noqa: E731
    return {"at_25pct": pick(0.25), "at_50pct": pick(0.5), "at_end": pick(1.0), "max": round(max(series), 1)}


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--modes", default="loop,ray1,ray2")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one mode in this process
    parser.add_argument("--name", default="scan", help="results/<name>.json")
    parser.add_argument("--splits", default="test", help="which splits to draw from (the 10,000-image memory run needs train,val,test)")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is not here", file=sys.stderr)
        return None
    images = pick_images(args.n, args.splits)
    if args.one:
        print("RESULT " + json.dumps(one_mode(args.one, images)))
        return None
    results = {}
    for mode in args.modes.split(","):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MALLOC_ARENA_MAX": "2"}
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_scan", "--n", str(args.n), "--splits", args.splits, "--one", mode],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(line[7:])
        r = results[mode]
        print(f"{mode}: {r['images_per_s']:.2f} img/s overall, {r['steady_images_per_s'] or 0:.2f} steady, {r['wall_s']:.0f} s", flush=True)
    base = results.get("loop")
    rows = []
    for mode, r in results.items():
        ratio = f"x{r['images_per_s'] / base['images_per_s']:.2f} vs loop" if base else ""
        rows.append((f"{mode} images/s (whole call)", f"{r['images_per_s']:.2f}", ratio))
        ratio = f"x{r['steady_images_per_s'] / base['steady_images_per_s']:.2f} vs loop" if base and r["steady_images_per_s"] else ""
        rows.append((f"{mode} images/s (steady)", f"{r['steady_images_per_s'] or 0:.2f}", ratio))
        r["driver_rss_mb"] = flatness(r["samples"], "driver")
        r["worker_rss_mb"] = flatness(r["samples"], "worker")
        rows.append((f"{mode} driver RSS max (MB)", f"{r['driver_rss_mb'].get('max', 0):.0f}", str(r["driver_rss_mb"])))
        if r["worker_rss_mb"]:
            rows.append((f"{mode} actor RSS max (MB)", f"{r['worker_rss_mb']['max']:.0f}", str(r["worker_rss_mb"])))
    RESULTS.mkdir(parents=True, exist_ok=True)
    return report(args.name, rows, {"n": args.n, "splits": args.splits, "results": results})


if __name__ == "__main__":
    main()
