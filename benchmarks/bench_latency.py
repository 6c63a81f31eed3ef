"""Verdict latency for a 1080p photo with one face (warm), vs one bare forward pass.

    python -m benchmarks.bench_latency          target: <= 250 ms on a 2-core laptop CPU
    python -m benchmarks.bench_latency --model A --model B [--rounds 10]

With `--model` (repeatable) every model is timed in the same run, rounds interleaved so the
machine's noise falls on all of them alike: the plain verdict (`analyze`) and the checked one the
pages run (`analyze_checked`, with the stability check). Use it when a candidate changes the input
size or the backbone.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from benchmarks.common import interleaved, photo_1080p, report, timed


def shipped() -> dict:
    from detector.inference import Detector

    detector = Detector()
    photo = photo_1080p()
    result = detector.analyze(photo)
    assert len(result.faces) == 1
    crop = result.faces[0].crop
    pixels = detector.to_tensor([crop])

    def forward():
        with torch.inference_mode():
            detector.model(pixels)

    def detect_only():
        detector.face_finder.find(photo)

    verdict = timed(lambda: detector.analyze(photo), repeat=10)
    bare = timed(forward, repeat=20)
    detect = timed(detect_only, repeat=10)
    ratio = verdict["median_s"] / bare["median_s"]
    rows = [
        ("verdict 1080p, 1 face (ms)", f"{verdict['median_s'] * 1000:.0f}", "target <= 250 ms"),
        ("  of which face detection (ms)", f"{detect['median_s'] * 1000:.0f}", ""),
        ("bare forward pass (ms)", f"{bare['median_s'] * 1000:.1f}", ""),
        ("verdict / forward", f"{ratio:.1f}x", ""),
    ]
    return report("latency", rows, {"verdict": verdict, "forward": bare, "detection": detect, "ratio_verdict_to_forward": ratio})


def compare(models: list[Path], rounds: int) -> dict:
    """Plain and checked verdict medians per model, rounds interleaved across the models."""
    from detector.inference import Detector
    from detector.stability import analyze_checked

    photo = photo_1080p()
    detectors = {str(m): Detector(m) for m in models}
    calls = {}
    for name, d in detectors.items():
        calls[f"{name} analyze"] = lambda d=d: d.analyze(photo)
        calls[f"{name} analyze_checked"] = lambda d=d: analyze_checked(d, photo)
    for fn in calls.values():
        fn()  # warm-up: the ONNX export and the first pass
    times = interleaved(calls, rounds)
    medians = {key: statistics.median(t) for key, t in times.items()}
    rows = [(key, f"{medians[key] * 1000:.0f} ms", "target <= 250 ms") for key in calls]
    for name, d in detectors.items():
        rows.append((f"{name} input px", str(d.config.input_size), ""))
    return report("latency_models", rows, {"rounds": rounds, "median_s": medians, "times_s": times})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=[], help="checkpoint folder; repeat to compare")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    return compare(args.model, args.rounds) if args.model else shipped()


if __name__ == "__main__":
    main()
