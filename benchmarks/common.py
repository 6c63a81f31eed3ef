"""Timing helpers and output for the benchmark scripts (JSON + a readable table)."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    import os

    import torch

    from detector.threads import watched_busy_elsewhere

    # torch_threads: this thread's count now (after a Detector's work: what its last forward pass used)
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "busy_elsewhere_cores": watched_busy_elsewhere(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(OpenMP default)"),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "torch": torch.__version__}


def timed(fn, repeat: int = 5, warmup: int = 1) -> dict:
    """Median and spread in seconds of fn() over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": repeat}


def interleaved(calls: dict, rounds: int) -> dict:
    """Seconds of every call per round, the calls taken in turn each round, so the machine's noise falls
    on all of them alike (ratios between them are then worth reading)."""
    times: dict = {key: [] for key in calls}
    for _ in range(rounds):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def report(name: str, rows: list[tuple[str, str, str]], data: dict) -> dict:
    """Print a table (metric, value, target) and the JSON; save the JSON under benchmarks/results/."""
    data = {"benchmark": name, "machine": machine(), **data}
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n== {name}")
    for metric, value, target in rows:
        print(f"{metric:<{width}}{value:>14}   {target}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=float))
    print(json.dumps(data, default=float))
    return data


def sample_face():
    from PIL import Image

    return Image.open(ROOT / "assets" / "samples" / "astronaut.jpg").convert("RGB")


def photo_1080p():
    """A 1920x1080 photo with one face: the astronaut portrait on a wider canvas."""
    from PIL import Image

    canvas = Image.new("RGB", (1920, 1080), (120, 120, 130))
    canvas.paste(sample_face().resize((1080, 1080)), (420, 0))
    return canvas


def moving_face_clip(path, seconds: int, face_side: int, top: int, x_span: int, period: float, fps: int = 25):
    """A 1280x720 mp4 (grey background) of the sample face, `face_side` px square with its top at `top`,
    drifting sideways between x = 200 and 200 + `x_span` (a sine of `period` frames). Returns `path`."""
    import cv2
    import numpy as np

    face = np.asarray(sample_face().resize((face_side, face_side)))[:, :, ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for i in range(seconds * fps):
        frame = np.full((720, 1280, 3), 110, np.uint8)
        x = int(200 + x_span * (0.5 + 0.5 * np.sin(i / period)))
        frame[top:top + face_side, x:x + face_side] = face
        writer.write(frame)
    writer.release()
    return path
