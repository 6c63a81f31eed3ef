"""How fast the trainer's sample stream runs in one data worker, with neighbour pictures decoded lazily
(`detector.training.reframed.LazyPictures`) and, for comparison, decoded up front as before.

    python -m benchmarks.bench_training_stream [--samples 300] [--rounds 3] [--size 288] [--framings group=0.25]

A GPU arm is data-bound (7 workers an arm on a 16-core machine: 230-350 samples/s at 288 px in session 12),
so a worker's samples per second sets how much a lent GPU's minutes can train. Rounds alternate the two
modes on the same seeds (the samples are identical: tests/test_reframed_training.py); one worker, one
thread, as each DataLoader worker runs. Needs ../shared/data and cache/sources (detector.training.sources).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, machine
from detector.training.sources import sources_problem


def samples_per_second(stream, count: int, seed: int) -> float:
    import numpy as np

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(count):
        stream.sample(rng)
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=ROOT / "cache" / "sources")
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=288)
    parser.add_argument("--framings", nargs="*", default=[], metavar="FRAMING=WEIGHT")
    parser.add_argument("--out", type=Path, default=RESULTS / "training_stream.json")
    args = parser.parse_args(argv)
    problem = sources_problem(args.sources, args.root)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import cv2
    import torch

    from detector.training import reframed
    from detector.training.compose import framing_weights, parse_shares

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    framings = framing_weights(parse_shares(args.framings))
    stream = reframed.ReframedStream(reframed.SourceBank(args.sources, args.root, "train"), reframed.DEFAULT_STREAMS, args.size, 0.3, 0, framings)
    lazy_class = reframed.LazyPictures

    def eager(load, indices):
        return [load(i) for i in indices]

    rates: dict[str, list[float]] = {"lazy": [], "eager": []}
    samples_per_second(stream, 20, seed=999)  # warm the page cache and imports
    for round_ in range(args.rounds):
        for mode in ("eager", "lazy") if round_ % 2 else ("lazy", "eager"):
            reframed.LazyPictures = lazy_class if mode == "lazy" else eager
            rates[mode].append(round(samples_per_second(stream, args.samples, seed=round_), 1))
    reframed.LazyPictures = lazy_class
    ratios = [round(a / b, 3) for a, b in zip(rates["lazy"], rates["eager"])]
    result = {"what": "samples/s of one trainer data worker (ReframedStream.sample), neighbours decoded lazily vs up front",
              "size": args.size, "framings": framings, "samples_per_round": args.samples, "rates": rates,
              "lazy_over_eager_per_round": ratios, "machine": machine()}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("rates", "lazy_over_eager_per_round")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
