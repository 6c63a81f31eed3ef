"""Apply this record's validation rule (V1-V4) to two folders of exported robustness runs.

    python assets/experiments/video-frames-cpu-long/judge.py runs/val_eval/2.3.0 runs/val_eval/candidate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.robustness import CONDITIONS, ONE_CLASS, TWO_CLASS
from scripts.compare_operating_points import load_runs, operating_points, recall_table

SETS = (*TWO_CLASS, *ONE_CLASS)
CODEC = ("h264_crf23", "h264_crf40")
OTHERS = tuple(c for c in CONDITIONS if c not in CODEC)
REALS = "real_groups@group"
POINTS = ("likely manipulated", "threshold")


def mean_auc(runs: dict, condition: str) -> float:
    return float(np.mean([runs[f"{s}@{condition}"]["metrics"]["auc"] for s in SETS]))


def judge(ref: dict, cand: dict) -> dict:
    means = {c: (mean_auc(ref, c), mean_auc(cand, c)) for c in CONDITIONS}
    out = {"mean_auc": {c: [round(r, 4), round(n, 4)] for c, (r, n) in means.items()}}
    out["V1"] = all(means[c][1] >= means[c][0] + 0.02 for c in CODEC)
    out["V2"] = all(means[c][1] >= means[c][0] - 0.005 for c in OTHERS)
    table = recall_table({"ref": ref, "cand": cand}, REALS, operating_points(ref, REALS))
    v3 = True
    out["matched"] = {}
    for point in POINTS:
        r, c = table[f"{point} | ref"], table[f"{point} | cand"]
        drops = {s: round(c["recall"][f"{s}@plain"] - r["recall"][f"{s}@plain"], 4) for s in TWO_CLASS}
        out["matched"][point] = {"mean_recall": [round(r["mean_recall"], 4), round(c["mean_recall"], 4)], "plain_recall_change": drops}
        v3 &= c["mean_recall"] >= r["mean_recall"] and min(drops.values()) >= -0.05
    out["V3"] = bool(v3)
    # Each model's own shares of real group-scene faces at its threshold and at its likely-manipulated cut.
    shares = {"ref": operating_points(ref, REALS), "cand": operating_points(cand, REALS)}
    out["group_reals"] = shares
    out["V4"] = all(shares["cand"][p] <= shares["ref"][p] + 0.005 for p in POINTS)
    out["passes"] = out["V1"] and out["V2"] and out["V3"] and out["V4"]
    return out


if __name__ == "__main__":
    print(json.dumps(judge(load_runs(Path(sys.argv[1])), load_runs(Path(sys.argv[2]))), indent=1))
