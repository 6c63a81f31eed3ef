"""Is model B better than model A on the same test images? Paired bootstrap of the AUC difference.

    python -m scripts.compare_runs RUN_A.json RUN_B.json [--boot 2000] [--json]
    python -m scripts.compare_runs FOLDER_A FOLDER_B [--boot 1000] [--json]

RUN_A/RUN_B are run exports (`assets/runs/*.json`, or `python -m detector.evaluation.evaluate ... --export`).
Prints AUC(A), AUC(B), AUC(B) - AUC(A) and its 95 % interval; an interval that holds 0 means these
images cannot tell the two models apart.

With two folders of exported robustness runs (`benchmarks.robustness --export-dir`), it does the same per
condition for the mean AUC over the sets both folders hold with both classes (the number the experiment rules
read), each set resampled on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.evaluation.run_metrics import paired_auc_difference, paired_mean_auc_difference
from detector.evaluation.runs import Run, RunsDatabaseError, read_run_json
from scripts.compare_operating_points import load_runs


def two_class_runs(runs: dict[str, dict]) -> dict[tuple[str, str], Run]:
    """(set, condition) -> run, for the loaded exports (`compare_operating_points.load_runs`) that hold both classes."""
    return {tuple(key.split("@", 1)): Run.from_dict(run) for key, run in runs.items()
            if len({s["label"] for s in run["scores"]}) == 2}


def compare_conditions(a: dict[str, dict], b: dict[str, dict], n_boot: int, seed: int) -> dict[str, dict]:
    """Condition -> the paired mean-AUC difference over the sets both models' loaded exports scored under it."""
    a, b = two_class_runs(a), two_class_runs(b)
    conditions = sorted({c for _, c in a} & {c for _, c in b})
    if not conditions:
        raise ValueError("the two folders share no (set, condition) run with both classes")
    out = {}
    for condition in conditions:
        keys = sorted(k for k in a.keys() & b.keys() if k[1] == condition)
        out[condition] = {"sets_used": [k[0] for k in keys],
                          **paired_mean_auc_difference([(a[k], b[k]) for k in keys], n_boot=n_boot, seed=seed)}
    return out


def compare_folders(folder_a: Path, folder_b: Path, n_boot: int, seed: int) -> dict[str, dict]:
    """compare_conditions on two folders of exported robustness runs."""
    for folder in (folder_a, folder_b):
        if not folder.is_dir():
            raise RunsDatabaseError(f"{folder} is not a folder of exported runs")
    return compare_conditions(load_runs(folder_a), load_runs(folder_b), n_boot, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path, help="a run export, or a folder of exported robustness runs")
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--boot", type=int, default=None, help="bootstrap resamples (default 2000; 1000 for folders)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    try:
        if args.run_a.is_dir() or args.run_b.is_dir():
            return print_folders(compare_folders(args.run_a, args.run_b, args.boot or 1000, args.seed), args)
        a, b = read_run_json(args.run_a), read_run_json(args.run_b)
        result = paired_auc_difference(a, b, n_boot=args.boot or 2000, seed=args.seed)
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


def print_folders(result: dict[str, dict], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"mean AUC over the sets, A = {args.run_a}, B = {args.run_b}")
    for condition, r in result.items():
        print(f"{condition:12s} A {r['auc_a']:.4f}  B {r['auc_b']:.4f}  B - A {r['difference']:+.4f}  "
              f"{r['level']:.0%} interval [{r['low']:+.4f}, {r['high']:+.4f}]  ({r['sets']} sets, {r['n']} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
