"""Evaluation throughput (images/s) over a shared-data test split, with the app's pipeline.

    python -m benchmarks.bench_eval [--data ../shared/data/stylegan1_ffhq] [--limit 50]
"""

import argparse
import time
from pathlib import Path

from benchmarks.common import ROOT, report


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stylegan1_ffhq")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args(argv)
    if not (args.data / args.split).is_dir():
        print(f"skipped: {args.data / args.split} is not on this machine")
        return None
    from detector.evaluation.evaluate import resolve_items, score_images, subsample
    from detector.inference import Detector

    detector = Detector()
    items = subsample(resolve_items(args.data, args.split), args.limit)
    start = time.perf_counter()
    records = score_images(detector, items)
    seconds = time.perf_counter() - start
    rate = len(records) / seconds
    rows = [("images", str(len(records)), f"{args.data.name}/{args.split}"), ("images/s", f"{rate:.1f}", "")]
    return report("eval_throughput", rows, {"images": len(records), "seconds": seconds, "images_per_s": rate})


if __name__ == "__main__":
    main()
