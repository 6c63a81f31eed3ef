"""Is model B better than model A on the same test images? Paired bootstrap of the AUC difference.

    python -m scripts.compare_runs RUN_A.json RUN_B.json [--boot 2000] [--json]

RUN_A/RUN_B are run exports (`assets/runs/*.json`, or `python -m detector.evaluation.evaluate ... --export`).
Prints AUC(A), AUC(B), AUC(B) - AUC(A) and its 95 % interval; an interval that holds 0 means these
images cannot tell the two models apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.evaluation.run_metrics import paired_auc_difference
from detector.evaluation.runs import RunsDatabaseError, read_run_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    try:
        a, b = read_run_json(args.run_a), read_run_json(args.run_b)
        result = paired_auc_difference(a, b, n_boot=args.boot, seed=args.seed)
    except (RunsDatabaseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = {"a": f"{a.model_name} {a.model_version} on {a.data}", "b": f"{b.model_name} {b.model_version} on {b.data}", **result}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['a']}: AUC {result['auc_a']:.4f}\n{result['b']}: AUC {result['auc_b']:.4f}\n"
              f"B - A: {result['difference']:+.4f}, {result['level']:.0%} interval [{result['low']:+.4f}, {result['high']:+.4f}] "
              f"over {result['n']} images both scored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
