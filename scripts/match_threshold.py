"""Move a model's threshold to where its real faces are flagged no more often than a reference model's.

    python -m scripts.match_threshold MODEL_DIR --reals CAND_EXPORTS --reference REF_EXPORTS
        [--population real_groups@group] [--write]

A weight mix or retrained model can rank faces better than the shipped one and still flag more real faces at its own
Youden threshold, which is fitted on single-face validation crops and never sees a group photo. This reads two
folders of validation exports (`scripts.judge_candidate score`): the reference's share of real faces of
`--population` at or above its own threshold, and the candidate's scores of the same faces. The new threshold is the
lowest cut that at most that share of the candidate's faces reach (`compare_operating_points.matched_cut`, the cut
the candidate rule's R3 reads). `--write` stores it in MODEL_DIR/config.json with its evidence under
training.calibration.threshold_matched (the Youden record beside it stays), keeps weights, temperature and uncertain
band, and clears `fake_margin` (chosen around the old threshold: run `scripts.set_fake_margin` again). Validation
exports only: never test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from detector.checkpoint import CONFIG_FILE
from detector.config import ModelConfig
from scripts.compare_operating_points import load_runs, matched_cut, scores

POPULATION = "real_groups@group"


def matched_threshold(reference: dict, candidate: dict) -> dict:
    """The candidate's cut matched to the reference's share of real faces at the reference's threshold, and the
    evidence: both shares, both thresholds and how many faces each share counts."""
    ref_reals, cand_reals = (scores(run, 0) for run in (reference, candidate))
    ref_reals, cand_reals = ref_reals[np.isfinite(ref_reals)], cand_reals[np.isfinite(cand_reals)]
    if not len(ref_reals) or not len(cand_reals):
        raise ValueError("both exports need real faces that were found")
    share = float((ref_reals >= reference["threshold"]).mean())
    cut = matched_cut(cand_reals, share)
    return {"value": cut, "reference_share": round(share, 4), "reference_threshold": reference["threshold"],
            "share_at_value": round(float((cand_reals >= cut).mean()), 4),
            "share_at_old_threshold": round(float((cand_reals >= candidate["threshold"]).mean()), 4),
            "old_threshold": candidate["threshold"], "faces": {"reference": len(ref_reals), "candidate": len(cand_reals)}}


def population_run(folder: Path, population: str) -> dict:
    runs = load_runs(folder)
    if population not in runs:
        raise ValueError(f"{folder} holds no export of '{population}' (score it with scripts.judge_candidate score)")
    run = runs[population]
    if run["info"].get("split") == "test":
        raise ValueError(f"{folder}: '{population}' is a test export; a threshold is fitted on validation only")
    return run


def write_threshold(folder: Path, config: ModelConfig, evidence: dict, population: str, reference: Path) -> None:
    calibration = config.training.get("calibration", {})
    config.threshold = evidence["value"]
    config.fake_margin = None  # chosen around the old threshold: scripts.set_fake_margin must choose it again
    method = (f"scripts.match_threshold: the lowest cut that at most {evidence['reference_share']:.4f} of the validation "
              f"real faces of {population} reach, the share the reference ({reference}) flags at its own threshold")
    config.training = {**config.training, "calibration": {**calibration, "threshold_matched": {**evidence, "method": method}}}
    config.validate()
    (folder / CONFIG_FILE).write_text(config.to_json() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the candidate's model folder (config.json is rewritten with --write)")
    parser.add_argument("--reals", type=Path, required=True, help="the candidate's validation exports")
    parser.add_argument("--reference", type=Path, required=True, help="the reference model's validation exports")
    parser.add_argument("--population", default=POPULATION, help="'<set>@<condition>' whose real faces are matched")
    parser.add_argument("--write", action="store_true", help="store the threshold in config.json, clear fake_margin")
    args = parser.parse_args(argv)
    try:
        config = ModelConfig.load(args.model / CONFIG_FILE)
        candidate = population_run(args.reals, args.population)
        reference = population_run(args.reference, args.population)
        if candidate["model_version"] != config.version:
            raise ValueError(f"{args.reals} holds exports of version {candidate['model_version']}, "
                             f"{args.model} is {config.version}")
        evidence = matched_threshold(reference, candidate)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"reference flags {evidence['reference_share']:.1%} of {evidence['faces']['reference']} real faces at "
          f"{evidence['reference_threshold']:.4f}; candidate: {evidence['share_at_old_threshold']:.1%} at "
          f"{evidence['old_threshold']:.4f}, {evidence['share_at_value']:.1%} at {evidence['value']:.4f}")
    if args.write:
        write_threshold(args.model, config, evidence, args.population, args.reference)
        print(f"wrote threshold {evidence['value']:.4f} to {args.model / CONFIG_FILE}; fake_margin was cleared: "
              "run scripts.set_fake_margin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
