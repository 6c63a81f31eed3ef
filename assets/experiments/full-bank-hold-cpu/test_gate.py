"""The test gate of this record (written in `../video-frames-cpu-long/`, unchanged), on two folders of test exports.

    python assets/experiments/full-bank-hold-cpu/test_gate.py REF_TEST_DIR CAND_TEST_DIR

Each folder holds one model's `benchmarks.robustness --export-dir` runs on the test split: the 7 sets x 9 conditions
(`--limit 60`) and the real-only group scenes (`--sets real_groups --limit 400`). The candidate replaces the reference
only if (G1) the mean AUC over the matrix is no more than 0.005 below the reference's, and (G2) its real faces in test
group scenes are called likely manipulated (at or above its threshold + fake_margin) no more often than the
reference's. Session 19 added (G3), pre-registered before the threshold-refitted candidate was scored on test (README,
"A threshold refit"): its real faces in test group scenes reach its threshold at most 0.03 more often than the
reference's reach the reference's, since that threshold was fitted on validation group faces. Beside the gate: the
same shares for the pooled real faces of the two-class sets' H.264 cells. Session 20 added (G4), written before any
next candidate exists: the one face-swap set with a modern swap model is read on its own, since the matrix mean
weighs it as 9 of 63 cells and 2.4.0's loss on it (-0.040 [-0.087, -0.008] on the full split) went unseen: on the
plain inswapper test cell (all 50 pictures at --limit 60) the candidate's paired AUC difference must be at least
-0.02, and its 95 % interval must reach 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from detector.evaluation.run_metrics import paired_auc_difference
from scripts.compare_operating_points import load_runs, operating_points
from scripts.compare_runs import compare_conditions, two_class_runs
from scripts.judge_candidate import CODEC, POOLED, REALS, codec_keys, with_pooled_reals

MATRIX_SLACK = 0.005
THRESHOLD_SLACK = 0.03  # G3: R4's tolerance for one population's share at the threshold
FACE_SWAP_CELL = ("inswapper_faceswap", "plain")
FACE_SWAP_SLACK = 0.02  # G4: the largest point loss on it; the interval must also reach 0


def gate(ref: dict[str, dict], cand: dict[str, dict]) -> dict:
    paired = compare_conditions(ref, cand, n_boot=1000, seed=0)
    matrix = {name: float(np.mean([v[f"auc_{side}"] for v in paired.values()])) for name, side in (("ref", "a"), ("cand", "b"))}
    groups = {"ref": operating_points(ref, REALS), "cand": operating_points(cand, REALS)}
    beside = {}
    for condition in CODEC:
        keys = codec_keys(ref, cand, condition)
        beside[condition] = {n: operating_points(with_pooled_reals(runs, keys), POOLED) for n, runs in (("ref", ref), ("cand", cand))}
    out = {"matrix_mean_auc": matrix, "per_condition": {c: {k: round(v[k], 4) for k in ("auc_a", "auc_b", "difference", "low", "high")}
                                                       for c, v in paired.items()},
           "real_group_faces": groups, "beside_the_gate_codec_reals": beside}
    out["G1"] = matrix["cand"] >= matrix["ref"] - MATRIX_SLACK
    out["G2"] = groups["cand"]["likely manipulated"] <= groups["ref"]["likely manipulated"]
    out["G3"] = groups["cand"]["threshold"] <= groups["ref"]["threshold"] + THRESHOLD_SLACK
    swap = paired_auc_difference(two_class_runs(ref)[FACE_SWAP_CELL], two_class_runs(cand)[FACE_SWAP_CELL], n_boot=2000, seed=0)
    out["face_swap_plain"] = {k: round(swap[k], 4) for k in ("auc_a", "auc_b", "difference", "low", "high")}
    out["G4"] = swap["difference"] >= -FACE_SWAP_SLACK and swap["high"] >= 0
    out["replaces_reference"] = out["G1"] and out["G2"] and out["G3"] and out["G4"]
    return out


if __name__ == "__main__":
    print(json.dumps(gate(load_runs(Path(sys.argv[1])), load_runs(Path(sys.argv[2]))), indent=1))
