"""The noise-aware rule (R1-R4) of this record, applied to two folders of exported validation robustness runs.

    python assets/experiments/video03-hold-cpu/judge_r2.py runs/val_eval/2.3.0 runs/val_eval/video03hold

V1-V4 (`../video-frames-cpu-long/judge.py`) compare point estimates on 60 pictures per class and set; the paired
intervals of the earlier candidates (`paired_intervals.json`, `scripts.compare_runs` on two folders) are about
+-0.015 wide at the conditions V2 held to -0.005, and V3's per-set check counted one of inswapper's 5 validation fakes.
R1-R4 keep what V1-V4 guard and ask only what 60 pictures can tell.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from benchmarks.robustness import TWO_CLASS
from scripts.compare_operating_points import load_runs, operating_points, recall_table, scores
from scripts.compare_runs import compare_conditions

_spec = importlib.util.spec_from_file_location("judge_v", Path(__file__).parents[1] / "video-frames-cpu-long" / "judge.py")
judge_v = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(judge_v)

GAIN, GAIN_FLOOR = 0.02, 0.0  # R1: point estimate and interval's lower end at each codec condition
LOSS_POINT, LOSS_FLOOR = -0.01, -0.02  # R2: at every other condition
RECALL_SLACK = 0.02  # R3: mean recall over all cells at each matched point
MIN_FAKES = 20  # R3: a set's own plain recall is checked only when it holds this many fakes (3 of 60 = 0.05)
SHARE_SLACK = {"threshold": 0.01, "likely manipulated": 0.005}  # R4: own-calibration shares of real group faces


def judge(ref_dir: Path, cand_dir: Path, n_boot: int = 1000) -> dict:
    ref, cand = load_runs(ref_dir), load_runs(cand_dir)
    paired = compare_conditions(ref, cand, n_boot=n_boot, seed=0)  # the runs as loaded above, not read again
    paired = {c: paired[c] for c in judge_v.CODEC + judge_v.OTHERS}
    out = {"paired_mean_auc": {c: {k: round(v[k], 4) for k in ("auc_a", "auc_b", "difference", "low", "high")}
                               for c, v in paired.items()}}
    out["R1"] = all(paired[c]["difference"] >= GAIN and paired[c]["low"] > GAIN_FLOOR for c in judge_v.CODEC)
    out["R2"] = all(paired[c]["difference"] >= LOSS_POINT and paired[c]["low"] >= LOSS_FLOOR for c in judge_v.OTHERS)
    table = recall_table({"ref": ref, "cand": cand}, judge_v.REALS, operating_points(ref, judge_v.REALS))
    checked = [s for s in TWO_CLASS if len(scores(ref[f"{s}@plain"], 1)) >= MIN_FAKES]
    r3, out["matched"] = True, {}
    for point in judge_v.POINTS:
        r, c = table[f"{point} | ref"], table[f"{point} | cand"]
        drops = {s: round(c["recall"][f"{s}@plain"] - r["recall"][f"{s}@plain"], 4) for s in checked}
        out["matched"][point] = {"mean_recall": [round(r["mean_recall"], 4), round(c["mean_recall"], 4)],
                                 "plain_recall_change": drops}
        r3 &= c["mean_recall"] >= r["mean_recall"] - RECALL_SLACK and min(drops.values()) >= -0.05
    out["R3"], out["R3_sets_checked"] = bool(r3), checked
    shares = {"ref": operating_points(ref, judge_v.REALS), "cand": operating_points(cand, judge_v.REALS)}
    out["group_reals"] = shares
    out["R4"] = all(shares["cand"][p] <= shares["ref"][p] + SHARE_SLACK[p] for p in judge_v.POINTS)
    out["passes"] = out["R1"] and out["R2"] and out["R3"] and out["R4"]
    return out


if __name__ == "__main__":
    print(json.dumps(judge(Path(sys.argv[1]), Path(sys.argv[2])), indent=1))
