"""The noise-aware rule (R1-R4) of this record, applied to two folders of exported validation robustness runs.

    python assets/experiments/video03-hold-cpu/judge_r2.py runs/val_eval/2.3.0 runs/val_eval/video03hold

V1-V4 (`../video-frames-cpu-long/judge.py`) compare point estimates on 60 pictures per class and set; the paired
intervals of the earlier candidates (`paired_intervals.json`, `scripts.compare_runs` on two folders) are about
+-0.015 wide at the conditions V2 held to -0.005, and V3's per-set check counted one of inswapper's 5 validation fakes.
R1-R4 keep what V1-V4 guard and ask only what 60 pictures can tell.

Since session 17 the rule lives in the project as `python -m scripts.judge_candidate judge` (same thresholds; its
`--json` output is byte for byte this script's on the stored folders); this file calls it, so the records' commands
still run (rule 1: session 18 added rule 2 as the command's default).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scripts.compare_operating_points import load_runs
from scripts.judge_candidate import judge

if __name__ == "__main__":
    print(json.dumps(judge(load_runs(Path(sys.argv[1])), load_runs(Path(sys.argv[2])), rule=1), indent=1))
