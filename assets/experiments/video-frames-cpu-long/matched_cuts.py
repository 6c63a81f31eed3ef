"""The plain cells at cuts matched to the first model's real group-scene faces, and each model's own shares.

    python assets/experiments/video-frames-cpu-long/matched_cuts.py runs/val_eval/2.3.0 runs/val_eval/control_cpu ...

Wrote `matched_cuts_diag.txt` here and in `../hold-reals-cpu/` (folder names as under runs/val_eval/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchmarks.robustness import ONE_CLASS, TWO_CLASS
from scripts.compare_operating_points import load_runs, operating_points, recall_table, scores

REALS = "real_groups@group"


def source(path: str) -> str:
    return path.split(":", 1)[1].split("/", 1)[0]  # "scene0:dfdc/val/real/x.jpg" -> "dfdc"


def main(folders: list[Path]) -> None:
    models = {f.name: load_runs(f) for f in folders}
    plain = {name: {k: v for k, v in runs.items() if k.endswith("@plain") or k == REALS} for name, runs in models.items()}
    first = plain[folders[0].name]
    for key, row in recall_table(plain, REALS, operating_points(first, REALS)).items():
        print(key, "mean", round(row["mean_recall"], 3), {c.split("@")[0][:8]: round(v, 3) for c, v in row["recall"].items()})
    for name, runs in models.items():
        run = runs[REALS]
        found = [s for s in run["scores"] if s["score"] is not None]
        reals = scores(run, 0)
        reals = reals[np.isfinite(reals)]
        dfdc = np.array([s["score"] for s in found if source(s["path"]) == "dfdc"])
        auc = np.mean([runs[f"{s}@plain"]["metrics"]["auc"] for s in (*TWO_CLASS, *ONE_CLASS)])
        threshold = run["threshold"]
        print(f"{name} thr {threshold:.3f} reals>=thr {(reals >= threshold).mean():.3f} dfdc reals>=thr "
              f"{(dfdc >= threshold).mean():.3f} median {np.median(dfdc):.3f} plain mean AUC {auc:.4f}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
