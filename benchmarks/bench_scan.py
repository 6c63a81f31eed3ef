"""Batch scan throughput and memory: the plain one-process loop vs Ray Data with 1 and 2 actors.

    python -m benchmarks.bench_scan [--n 1000] [--modes loop,ray1,ray2]
    python -m benchmarks.bench_scan --n 10000 --splits train,val,test --sets dfdc --shuffle --modes ray2 \
        --name scan_10k --csv benchmarks/results/scan_10k_rss.csv --max-minutes 13   # the memory run (README)

Images: `n` test images drawn with a fixed seed from every set in ../shared/data (skips without
it). Each mode runs in its own Python process (so one mode's memory never shows up in another's),
through `detector.scan.scan` into a fresh results folder. While it runs, a sampler reads the RSS of
the driver and of every Ray actor from /proc twice a second, with how many files were done, so
flatness over the scan can be read off (--csv streams them to a file every few seconds, so a run
cut short still leaves its record; --max-minutes stops the scan cleanly at a deadline). Throughput is given twice: over the whole call (Ray's
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


def pick_images(n: int, splits: str = "test", seed: int = 0, sets: str = "*", shuffle: bool = False) -> list[str]:
    """n distinct images drawn with a fixed seed; in path order, or shuffled so that a long memory run
    sees the same mix of sets from start to end (in path order the multi-face scenes come last)."""
    import numpy as np

    files = sorted(str(p) for name in sets.split(",") for split in splits.split(",") for p in SHARED.glob(f"{name}/{split}/*/*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < n:
        raise SystemExit(f"only {len(files)} images under {SHARED} ({sets}, {splits})")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(files), n, replace=False)
    return [files[i] for i in (chosen if shuffle else sorted(chosen))]


RSS_PARTS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")  # total = anon (heap: malloc, torch) + file (libraries) + shmem (Ray's object store)


def rss_parts(pid: int | str) -> dict[str, float] | None:
    """A process's RSS and its three parts in MB (/proc/PID/status), or None once it has gone."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in RSS_PARTS:
                    found[key] = int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return found if "VmRSS" in found else None


def rss_mb(pid: int | str) -> float | None:
    parts = rss_parts(pid)
    return parts["VmRSS"] if parts else None


def actor_pids(driver: int | None = None) -> list[int]:
    """Ray names its actor processes after the actor class (ray::MapWorker(MapBatches(ScanWorker))).
    Only this driver's: the embedded Ray's raylet is its child and starts the actors, so another
    scan or test on the same machine (their actors have the same name) is never counted."""
    driver = driver or os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if b"ScanWorker" in handle.read(200) and descends_from(int(entry), driver):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU time of a process so far: how the actors shared the work (each file costs about
    the same, so the split of CPU time is the split of files)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(16):  # actor <- raylet <- driver: a short chain
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])  # field 4, after the command in parentheses
        except (OSError, ValueError, IndexError):
            return False
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


class Sampler(threading.Thread):
    """RSS of this process (the driver) and of every actor twice a second, with its anonymous, file and
    shared-memory parts; with csv_path, also one CSV line per actor (t, done, driver, actor pid, its RSS
    and parts) every few seconds, flushed at once. An actor that Ray replaces shows up under a new pid."""

    def __init__(self, csv_path: str | None = None, csv_every_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.done, self.samples, self.stop = 0, [], threading.Event()
        self.csv_path, self.csv_every_s = csv_path, csv_every_s

    def run(self) -> None:
        start = time.perf_counter()
        csv = open(self.csv_path, "w", buffering=1) if self.csv_path else None  # noqa: SIM115 - closed below
        if csv:
            csv.write("t_s,files_done,driver_mb,driver_anon_mb,actor_pid,actor_mb,actor_anon_mb,actor_file_mb,actor_shmem_mb\n")
        last_line = -self.csv_every_s
        while not self.stop.wait(0.5):
            workers = {str(pid): rss_parts(pid) for pid in actor_pids()}
            workers = {pid: parts for pid, parts in workers.items() if parts}
            driver = rss_parts("self") or {}
            sample = {"t": round(time.perf_counter() - start, 1), "done": self.done, "driver_mb": driver.get("VmRSS"),
                      "driver_anon_mb": driver.get("RssAnon"),
                      "workers_mb": {pid: parts["VmRSS"] for pid, parts in workers.items()},
                      "workers_parts_mb": {pid: {k: round(v, 1) for k, v in parts.items() if k != "VmRSS"} for pid, parts in workers.items()},
                      "workers_cpu_s": {pid: cpu_seconds(pid) for pid in workers}}
            self.samples.append(sample)
            if csv and sample["t"] - last_line >= self.csv_every_s:
                last_line = sample["t"]
                head = f"{sample['t']},{sample['done']},{sample['driver_mb']:.1f},{driver.get('RssAnon', 0):.1f}"
                for pid, parts in sorted(workers.items()) or [("", {})]:
                    cells = [f"{parts[k]:.1f}" if k in parts else "" for k in RSS_PARTS]
                    csv.write(f"{head},{pid},{','.join(cells)}\n")
        if csv:
            csv.close()


class Deadline(Exception):
    """--max-minutes ran out: the scan stops cleanly (parts written so far stay)."""


def one_mode(mode: str, images: list[str], csv_path: str | None = None, max_minutes: float | None = None,
             batch_size: int = 8) -> dict:
    from detector.scan import EngineOptions, ScanSummary, scan

    engine, actors = MODES[mode]
    sampler = Sampler(csv_path)
    finished: list[float] = []
    stop_at = time.perf_counter() + max_minutes * 60 if max_minutes else None

    def on_progress(done: int, total: int) -> None:
        sampler.done = done
        finished.append(time.perf_counter())
        if stop_at and finished[-1] > stop_at and done < total:
            raise Deadline

    sampler.start()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        try:
            summary = scan([{"file": f} for f in images], out, EngineOptions(engine=engine, actors=actors, batch_size=batch_size),
                           progress=False, on_progress=on_progress)
        except Deadline:
            summary = ScanSummary(files=sampler.done)  # only the files done before the deadline count
        wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    steady_files = summary.files - batch_size  # files after the first finished block
    steady = steady_files / (finished[-1] - finished[0]) if len(finished) > 1 else None
    return {"mode": mode, "files": summary.files, "of": len(images), "faces": summary.faces, "failed": summary.failed,
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
        busy = [s for s in busy if s["workers_mb"]]
        series = [max(s["workers_mb"].values()) for s in busy]
    if not series:
        return {}
    pick = lambda q: round(series[min(len(series) - 1, int(q * (len(series) - 1)))], 1)  # noqa: E731
    return {"at_start": pick(0.0), "at_25pct": pick(0.25), "at_50pct": pick(0.5), "at_end": pick(1.0),
            "max": round(max(series), 1), "mb_per_1000_files": slope(busy, series)}


def slope(samples: list[dict], series: list[float]) -> float | None:
    """Least-squares RSS growth in MB per 1,000 files over the last 90 % of the files (the first 10 %
    are warm-up: the model's first batches, the allocator's arenas); ~0 means flat."""
    import numpy as np

    done = np.array([s["done"] for s in samples], dtype=float)
    keep = done >= 0.1 * done.max()
    if keep.sum() < 3 or np.ptp(done[keep]) == 0:
        return None
    return round(float(np.polyfit(done[keep], np.array(series)[keep], 1)[0]) * 1000, 2)


WARMUP_FILES = 500  # files of the scan after a process's first sample that count as its warm-up
FLAT_MB_PER_1000 = 5.0  # "flat": after warm-up, RSS grows by less than this per 1,000 files the process handled


def fit(done: list[float], mb: list[float]) -> float | None:
    """Least-squares slope in MB per 1,000 files of the scan."""
    import numpy as np

    if len(done) < 3 or max(done) == min(done):
        return None
    return round(float(np.polyfit(np.array(done, dtype=float), np.array(mb, dtype=float), 1)[0]) * 1000, 2)


def lives(samples: list[dict], warmup_files: int = WARMUP_FILES) -> dict:
    """Each process's whole life in the samples: the driver, and every actor pid (a replaced actor is a
    new pid, so restarts are visible). Per life: when it appeared and went, the files of the scan done
    meanwhile, RSS (and the slopes of its anonymous / file / shared-memory parts) once warm (warmup_files after it appeared),
    at its end, min / max, and the slope in MB per 1,000 files of the scan after warm-up. `killed`: Ray
    started another actor after this one went (a restart)."""
    series: dict[str, list[tuple]] = {}
    for s in samples:
        if s.get("driver_mb"):
            series.setdefault("driver", []).append((s["t"], s["done"], s["driver_mb"], s.get("driver_anon_mb"), None, None))
        for pid, mb in s.get("workers_mb", {}).items():
            parts = s.get("workers_parts_mb", {}).get(pid, {})
            series.setdefault(pid, []).append((s["t"], s["done"], mb, parts.get("RssAnon"), parts.get("RssFile"), parts.get("RssShmem")))
    last_done = samples[-1]["done"] if samples else 0
    out = {}
    for name, rows in series.items():
        # The driver's warm-up counts from the first finished file (before it, Ray and the actors start).
        first_done = rows[0][1] if name != "driver" else next((r[1] for r in rows if r[1] > 0), 0)
        warm = [r for r in rows if r[1] >= first_done + warmup_files]
        life = {"first_t": rows[0][0], "last_t": rows[-1][0], "files_from": rows[0][1], "files_to": rows[-1][1],
                "killed": False,
                "samples": len(rows), "warm_samples": len(warm)}
        cpu = [s.get("workers_cpu_s", {}).get(name) for s in samples if name in s.get("workers_cpu_s", {})]
        if cpu and cpu[-1] is not None:
            life["cpu_s"] = round(cpu[-1], 1)
        if len(warm) >= 3 and warm[-1][1] > warm[0][1]:
            done = [r[1] for r in warm]
            life.update({
                "warm_from_files": warm[0][1], "warm_files": warm[-1][1] - warm[0][1],
                "rss_warm_mb": round(warm[0][2], 1), "rss_end_mb": round(warm[-1][2], 1),
                "rss_min_mb": round(min(r[2] for r in warm), 1), "rss_max_mb": round(max(r[2] for r in warm), 1),
                "mb_per_1000_files": fit(done, [r[2] for r in warm]),
            })
            for column, part in ((3, "anon"), (4, "file"), (5, "shmem")):
                values = [r[column] for r in warm]
                life[f"{part}_mb_per_1000_files"] = fit(done, values) if None not in values else None
        out[name] = life
    actors = {name: life for name, life in out.items() if name != "driver"}
    for life in actors.values():  # killed: Ray started another actor after this one went (at the end they all go)
        life["killed"] = any(other["first_t"] > life["last_t"] for other in actors.values())
    total_cpu = sum(life.get("cpu_s", 0) for life in actors.values())
    if total_cpu and not any(life["killed"] for life in actors.values()):
        # No restarts: an actor's share of the CPU time is about its share of the files, so its slope per
        # 1,000 of ITS OWN files is the slope per 1,000 files of the scan divided by that share.
        for life in actors.values():
            share = life.get("cpu_s", 0) / total_cpu
            life["share_of_files_est"] = round(share, 3)
            if life.get("mb_per_1000_files") is not None and share:
                life["mb_per_1000_own_files_est"] = round(life["mb_per_1000_files"] / share, 2)
    # Judged per 1,000 files the process handled itself where that is known (stricter than per file of the
    # scan: with N actors the latter is N times smaller); a life too short to show a trend is listed, not judged.
    judged = [life.get("mb_per_1000_own_files_est", life["mb_per_1000_files"]) for life in out.values()
              if life.get("mb_per_1000_files") is not None and life["warm_files"] >= 2000]
    return {"warmup_files": warmup_files, "flat_below_mb_per_1000": FLAT_MB_PER_1000, "scan_files_done": last_done,
            "flat": bool(judged) and all(v < FLAT_MB_PER_1000 for v in judged), "processes": out}


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--modes", default="loop,ray1,ray2")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one mode in this process
    parser.add_argument("--name", default="scan", help="results/<name>.json")
    parser.add_argument("--splits", default="test", help="which splits to draw from (the 10,000-image memory run needs train,val,test)")
    parser.add_argument("--sets", default="*", help="comma-separated data set folders (default: all)")
    parser.add_argument("--shuffle", action="store_true", help="scan in random order (same mix of sets all along)")
    parser.add_argument("--csv", help="stream RSS samples to this CSV (the last mode's)")
    parser.add_argument("--max-minutes", type=float, help="stop each scan cleanly after this long")
    parser.add_argument("--batch-size", type=int, default=8, help="files per map_batches call (one Ray task)")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is not here", file=sys.stderr)
        return None
    images = pick_images(args.n, args.splits, sets=args.sets, shuffle=args.shuffle)
    if args.one:
        print("RESULT " + json.dumps(one_mode(args.one, images, args.csv, args.max_minutes, args.batch_size)))
        return None
    results = {}
    for mode in args.modes.split(","):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MALLOC_ARENA_MAX": "2"}
        passed = ["--sets", args.sets] + (["--shuffle"] if args.shuffle else []) + (["--csv", args.csv] if args.csv else [])
        passed += ["--max-minutes", str(args.max_minutes)] if args.max_minutes else []
        passed += ["--batch-size", str(args.batch_size)]
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_scan", "--n", str(args.n), "--splits", args.splits,
                               "--one", mode, *passed], cwd=ROOT, env=env, capture_output=True, text=True)
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
        r["lives"] = lives(r["samples"])
        for name, life in r["lives"]["processes"].items():
            if "mb_per_1000_files" in life:
                rows.append((f"{mode} {name} MB/1000 files", f"{life['mb_per_1000_files']}",
                             f"files {life['warm_from_files']}->{life['files_to']}, RSS {life['rss_warm_mb']}->{life['rss_end_mb']}, "
                             f"anon {life['anon_mb_per_1000_files']}, file {life['file_mb_per_1000_files']}, killed {life['killed']}"))
        rows.append((f"{mode} driver RSS max (MB)", f"{r['driver_rss_mb'].get('max', 0):.0f}", str(r["driver_rss_mb"])))
        if r["worker_rss_mb"]:
            rows.append((f"{mode} actor RSS max (MB)", f"{r['worker_rss_mb']['max']:.0f}", str(r["worker_rss_mb"])))
    RESULTS.mkdir(parents=True, exist_ok=True)
    return report(args.name, rows, {"n": args.n, "splits": args.splits, "results": results})


if __name__ == "__main__":
    main()
