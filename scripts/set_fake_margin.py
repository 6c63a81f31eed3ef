"""Choose how sure the model must be before a face is called "likely manipulated", from real group scenes.

    python -m scripts.set_fake_margin assets/models/dfx-lite0 [--data ../shared/data] [--limit 400]
        [--budget 0.02] [--test-runs assets/runs/dfx-lite0_2.1.0_*_test.json] [--write]

The uncertain band around the threshold is chosen for accuracy on validation crops
(`detector.training.calibrate`); it is symmetric. Real faces inside group photos score higher than
real portraits, and journalists meet group photos: with 2.1.0's band (±0.13) 9.6 % of 395 real
faces in composed test group scenes were called likely manipulated. This script composes the
*validation* real pictures of every set into group scenes exactly as the robustness suite composes
the test ones (`benchmarks.robustness`, condition `group`), scores them through the app's path,
and sets `fake_margin`: the smallest distance above the threshold that at most `--budget` of those
real faces reach (never narrower than the uncertain band). Faces between the threshold and that
margin become "can't tell"; the lower edge of the band is unchanged. `--test-runs` reports what the
new margin costs on stored test runs (fakes still called likely manipulated) next to the old band.
`--write` stores the margin and its evidence in the checkpoint's config.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.robustness import share_at_or_above
from detector.config import ModelConfig

REAL_GROUPS = "real_groups"


def cost_on_runs(paths: list[Path], old_cut: float, new_cut: float) -> dict[str, dict]:
    """Per stored run: the share of its fakes and of its reals at or above the old and the new cut."""
    out = {}
    for path in paths:
        run = json.loads(path.read_text())
        rows = [s for s in run["scores"] if s.get("score") is not None]
        by_label = {label: [s["score"] for s in rows if s["label"] == label] for label in (0, 1)}
        out[run["data"]] = {
            "fakes_likely_manipulated": [share_at_or_above(by_label[1], old_cut), share_at_or_above(by_label[1], new_cut)],
            "reals_likely_manipulated": [share_at_or_above(by_label[0], old_cut), share_at_or_above(by_label[0], new_cut)],
            "n_fake": len(by_label[1]), "n_real": len(by_label[0]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="checkpoint folder")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=400, help="validation real pictures (seeded)")
    parser.add_argument("--budget", type=float, default=None, help="share of real faces allowed (default: the config's false_alarm_budget or 2 %%)")
    parser.add_argument("--test-runs", nargs="*", type=Path, default=[], help="stored test runs to report the cost on")
    parser.add_argument("--write", action="store_true", help="store fake_margin and its evidence in config.json")
    args = parser.parse_args(argv)
    if not (args.model / "config.json").is_file():
        print(f"error: {args.model} is not a checkpoint folder (no config.json)", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    from benchmarks import robustness
    from detector.inference import Detector
    from detector.training.calibrate import FALSE_ALARM_BUDGET, false_alarm_margin

    config = ModelConfig.load(args.model / "config.json")
    calibration = config.training.get("calibration", {})
    budget = args.budget if args.budget is not None else calibration.get("false_alarm_budget", FALSE_ALARM_BUDGET)
    items = robustness.test_items(args.data, REAL_GROUPS, args.limit, split="val")
    records = robustness.score_groups(Detector(args.model), items, REAL_GROUPS, args.data)
    scores = np.array([r["score"] for r in records if r["score"] is not None], dtype=np.float64)
    if len(scores) == 0:
        print("error: no face was found in the validation group scenes", file=sys.stderr)
        return 2
    threshold = config.threshold
    margin = false_alarm_margin(np.zeros(len(scores), int), scores, threshold, budget, largest=round(0.99 - threshold, 2))
    margin = max(margin, config.uncertain_margin)
    old_cut, new_cut = config.band()[1], threshold + margin
    evidence = {
        "rule": f"smallest margin above the threshold that at most {budget:.0%} of real faces in validation group scenes reach",
        "budget": budget, "val_group_faces": int(len(scores)), "val_group_pictures": len(items),
        "val_rate_at_uncertain_margin": round(share_at_or_above(scores, threshold + config.uncertain_margin), 4),
        "val_rate_at_fake_margin": round(share_at_or_above(scores, new_cut), 4),
    }
    report = {"fake_margin": margin, **evidence, "test_cost": cost_on_runs(args.test_runs, old_cut, new_cut)}
    print(json.dumps(report, indent=1))
    if args.write:
        config.fake_margin = None if margin == config.uncertain_margin else margin
        config.training = {**config.training, "calibration": {**calibration, "fake_margin": {"value": margin, **evidence}}}
        config.validate()
        (args.model / "config.json").write_text(config.to_json() + "\n", encoding="utf-8")
        print(f"wrote fake_margin {config.fake_margin} to {args.model / 'config.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
