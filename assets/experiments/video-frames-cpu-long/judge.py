"""Apply this record's validation rule (V1-V4) to two folders of exported robustness runs.

    python assets/experiments/video-frames-cpu-long/judge.py runs/val_eval/2.3.0 runs/val_eval/candidate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.compare_operating_points import load_runs, operating_points, recall_table

SETS = ("dfdc", "stylegan1_ffhq", "stylegan2_unsplash", "inswapper_faceswap", "sd21_faces", "sfhq_t2i_tiles", "t2i_people_scenes")
TWO_CLASS = SETS[:4]
CODEC = ("h264_crf23", "h264_crf40")
OTHERS = ("plain", "jpeg60", "half", "up175", "canvas", "post", "group")
REALS = "real_groups@group"


def mean_auc(runs: dict, condition: str) -> float:
    return float(np.mean([runs[f"{s}@{condition}"]["metrics"]["auc"] for s in SETS]))


def group_shares(runs: dict) -> dict[str, float]:
    run = runs[REALS]
    reals = np.array([s["score"] for s in run["scores"] if s["score"] is not None])
    return {"threshold": float((reals >= run["threshold"]).mean()), "likely": float((reals >= run["info"]["fake_cut"]).mean())}


def judge(ref: dict, cand: dict) -> dict:
    out = {"mean_auc": {c: [round(mean_auc(ref, c), 4), round(mean_auc(cand, c), 4)] for c in (*OTHERS, *CODEC)}}
    out["V1"] = all(mean_auc(cand, c) >= mean_auc(ref, c) + 0.02 for c in CODEC)
    out["V2"] = all(mean_auc(cand, c) >= mean_auc(ref, c) - 0.005 for c in OTHERS)
    table = recall_table({"ref": ref, "cand": cand}, REALS, operating_points(ref, REALS))
    v3 = True
    out["matched"] = {}
    for point in ("likely manipulated", "threshold"):
        r, c = table[f"{point} | ref"], table[f"{point} | cand"]
        drops = {s: round(c["recall"][f"{s}@plain"] - r["recall"][f"{s}@plain"], 4) for s in TWO_CLASS}
        out["matched"][point] = {"mean_recall": [round(r["mean_recall"], 4), round(c["mean_recall"], 4)], "plain_recall_change": drops}
        v3 &= c["mean_recall"] >= r["mean_recall"] and min(drops.values()) >= -0.05
    out["V3"] = bool(v3)
    shares = {"ref": group_shares(ref), "cand": group_shares(cand)}
    out["group_reals"] = shares
    out["V4"] = all(shares["cand"][k] <= shares["ref"][k] + 0.005 for k in ("threshold", "likely"))
    out["passes"] = out["V1"] and out["V2"] and out["V3"] and out["V4"]
    return out


if __name__ == "__main__":
    print(json.dumps(judge(load_runs(Path(sys.argv[1])), load_runs(Path(sys.argv[2]))), indent=1))
