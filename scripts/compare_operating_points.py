"""Which model catches more fakes when both call real faces in group photos fake equally often?

    python -m scripts.compare_operating_points REF_DIR CANDIDATE_DIR [...] [--reals real_groups] [--json]

Each DIR holds one model's exported robustness runs (`benchmarks.robustness --split val --export-dir DIR`,
the two-class sets under their conditions and `--sets real_groups`). Comparing candidates at each one's own
calibrated cut mixes two things: how well a model ranks faces and where its calibration put the cut (a head
refit moved a threshold from 0.572 to 0.527 and doubled the real faces called fake; assets/experiments/
head-refit-2.3/). Here the cut of every model is moved until its real faces in group scenes reach it as
often as the reference's do at the reference's own cuts ("likely manipulated": threshold + fake_margin; and
the threshold), and each model's share of fakes at or above that cut is reported per set and condition.
Ranks decide, calibration does not. A face that was not found counts as a fake missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def load_runs(folder: Path) -> dict[str, dict]:
    """'<set>@<condition>' -> the exported run, for every run JSON in the folder."""
    runs = {}
    for path in sorted(folder.glob("*.json")):
        run = json.loads(path.read_text())
        info = run.get("info", {})
        if "set" in info and "condition" in info:
            runs[f"{info['set']}@{info['condition']}"] = run
    return runs


def scores(run: dict, label: int) -> np.ndarray:
    """P(fake) of the run's items with this label; a face not found scores -inf (never reaches a cut)."""
    return np.array([s["score"] if s["score"] is not None else -np.inf for s in run["scores"] if s["label"] == label], dtype=np.float64)


def matched_cut(reals: np.ndarray, share: float) -> float:
    """The lowest cut that at most `share` of these real faces reach (score >= cut)."""
    ordered = np.sort(reals[np.isfinite(reals)])[::-1]  # faces not found are not counted, as the suite counts them
    allowed = int(np.floor(share * len(ordered) + 1e-9))  # how many may reach it
    if allowed >= len(ordered):
        return float(ordered[-1]) if len(ordered) else 0.0
    return float(np.nextafter(ordered[allowed], np.inf))  # just above the first real face that may not reach it


def operating_points(reference: dict[str, dict], reals_key: str) -> dict[str, float]:
    """The reference's shares of real group-scene faces at its 'likely manipulated' cut and at its threshold."""
    run = reference[reals_key]
    reals = scores(run, 0)
    reals = reals[np.isfinite(reals)]
    cut = run["info"].get("fake_cut", run["threshold"])
    return {"likely manipulated": float((reals >= cut).mean()), "threshold": float((reals >= run["threshold"]).mean())}


def recall_table(models: dict[str, dict[str, dict]], reals_key: str, shares: dict[str, float]) -> dict:
    """For every model and operating point: its matched cut, its real-face share there and the fakes' recall per cell."""
    cells = sorted(set.intersection(*(set(runs) for runs in models.values())) - {reals_key})
    cells = [c for c in cells if all(len(scores(runs[c], 1)) for runs in models.values())]
    table = {}
    for point, share in shares.items():
        for name, runs in models.items():
            reals = scores(runs[reals_key], 0)
            cut = matched_cut(reals, share)
            recall = {c: float((scores(runs[c], 1) >= cut).mean()) for c in cells}
            table[f"{point} | {name}"] = {"share_target": share, "cut": cut, "reals_share": float((reals[np.isfinite(reals)] >= cut).mean()),
                                          "mean_recall": float(np.mean(list(recall.values()))) if recall else None, "recall": recall}
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="the reference model's exported robustness runs")
    parser.add_argument("candidates", type=Path, nargs="+")
    parser.add_argument("--reals", default="real_groups", help="the real-only set whose group-scene faces set the cut")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reals_key = f"{args.reals}@group"
    models = {}
    for folder in (args.reference, *args.candidates):
        runs = load_runs(folder) if folder.is_dir() else {}
        if reals_key not in runs:
            print(f"error: no '{args.reals}' group-scene run exported in {folder}", file=sys.stderr)
            return 2
        models[str(folder)] = runs
    table = recall_table(models, reals_key, operating_points(models[str(args.reference)], reals_key))
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    for key, row in table.items():
        print(f"{key}: cut {row['cut']:.4f}, real group faces at or above {row['reals_share']:.2%} "
              f"(target {row['share_target']:.2%}), mean recall of fakes {row['mean_recall']:.4f} over {len(row['recall'])} cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
