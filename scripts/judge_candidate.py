"""Is a retrained model a shipping candidate? The project's noise-aware rule (R1-R4) on validation robustness runs.

    python -m scripts.judge_candidate score MODEL_DIR --out runs/val_eval/NAME   # the runs the rule reads (~15 min, 2 cores)
    python -m scripts.judge_candidate judge REF_DIR CAND_DIR [--json] [--rule 1]  # e.g. REF_DIR = runs/val_eval/2.3.0

`score` runs `benchmarks.robustness` on the validation split: the 7 sets under the 9 conditions (60 pictures per
class and set) and the real-only group scenes (400 pictures), exported into one folder. `judge` reads two such
folders, the shipped model's and the candidate's, and applies the rule that every candidate since session 16 was
judged by (written in `assets/experiments/video03-hold-cpu/`, where `judge_r2.py` is its first form):

- R1, what the run was for: at each aim condition (default the two H.264 ones) the mean AUC over the sets rises by
  at least 0.02, and the paired bootstrap interval of that rise lies above 0.
- R2, nothing else worse: at every other condition the mean AUC falls at most 0.01 and the interval's lower end is
  at least -0.02 (60 pictures per class tell differences of about +-0.015, `scripts.compare_runs`).
- R3, ranking, not calibration: at the cuts where the candidate's real faces in group scenes are called fake as
  often as the reference's are at its own "likely manipulated" cut and threshold (`scripts.compare_operating_points`),
  the mean recall of fakes over all cells falls at most 0.02, and no set with at least 20 validation fakes loses more
  than 0.05 of its plain recall.
- R4, its own calibration: the share of real group-scene faces at or above the candidate's threshold rises at most
  0.01, at or above its "likely manipulated" cut at most 0.005.

Rule 1 (sessions 16-17; `--rule 1`, and `video_reals` beside it) reads real faces only in still group scenes.
Rule 2 (from session 18, the default; `assets/experiments/full-bank-hold-cpu/README.md`, "Rule 2") keeps R1 and R2
and reads R3 and R4 on both places a journalist's real faces get called fake, weighted equally: still group scenes
(half) and the real faces of H.264 video frames (CRF 23 and CRF 40, a quarter each):

- R3: at cuts matched to the reference's shares of each population's real faces, the weighted change of the mean
  recall of fakes is at least -0.02 at both points, no population's change is below -0.10, and no checked set's
  weighted plain-recall change is below -0.05.
- R4: at the candidate's own calibration, the weighted rise of real faces' shares is at most 0.01 (threshold) and
  0.005 (likely manipulated), no population's share rises more than 0.03 / 0.01, and real group faces called likely
  manipulated stay at or below 2 % (issue 14's target).

A pass makes a candidate, not a shipped model: the shipping pipeline (`scripts/train_2_3.sh`, step 3) and the test
gate of `assets/experiments/video-frames-cpu-long/` decide.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.robustness import CONDITIONS, ONE_CLASS, TWO_CLASS
from scripts.compare_operating_points import load_runs, operating_points, recall_table, scores
from scripts.compare_runs import compare_conditions

CODEC = ("h264_crf23", "h264_crf40")
REALS = "real_groups@group"  # the exported run of real-only group scenes whose faces set the matched cuts
POOLED = "video_reals@pooled"  # video_reals' pooled real faces of one codec condition, read like REALS
POINTS = ("likely manipulated", "threshold")
GAIN, GAIN_FLOOR = 0.02, 0.0  # R1: point estimate and interval's lower end at each aim condition
LOSS_POINT, LOSS_FLOOR = -0.01, -0.02  # R2: at every other condition
RECALL_SLACK, SET_RECALL_DROP = 0.02, 0.05  # R3: mean recall over all cells; a set's own plain recall
MIN_FAKES = 20  # R3: a set's own plain recall is checked only when it holds this many fakes (3 of 60 = 0.05)
SHARE_SLACK = {"threshold": 0.01, "likely manipulated": 0.005}  # R4: own-calibration shares of real group faces
# Rule 2: where real faces are read, and how much each place weighs (still photos and video count equally)
POPULATIONS = {"still": 0.5, "h264_crf23": 0.25, "h264_crf40": 0.25}
POPULATION_RECALL_FLOOR = -0.10  # R3: no population's matched recall may be traded away for another's
POPULATION_SHARE_RISE = {"threshold": 0.03, "likely manipulated": 0.01}  # R4: nor its real faces' shares
STILL_LIKELY_CAP = 0.02  # R4: issue 14's target, real group faces called fake at most 2 %
VAL_LIMIT, GROUP_LIMIT = 60, 400  # pictures per class and set; real-only group scenes


def judge(ref: dict[str, dict], cand: dict[str, dict], aims: tuple[str, ...] = CODEC, n_boot: int = 1000,
          rule: int = 2) -> dict:
    """R1-R4 of `rule` for two models' loaded exports (`compare_operating_points.load_runs`); "passes" when all hold."""
    if REALS not in ref or REALS not in cand:
        raise ValueError(f"both folders need the real-only group scenes ('{REALS}'): score them with `score`")
    others = tuple(c for c in CONDITIONS if c not in aims)
    paired = compare_conditions(ref, cand, n_boot=n_boot, seed=0)
    missing = [c for c in (*aims, *others) if c not in paired]
    if missing:
        raise ValueError(f"no condition {missing} scored by both models")
    paired = {c: paired[c] for c in (*aims, *others)}
    out = {"paired_mean_auc": {c: {k: round(v[k], 4) for k in ("auc_a", "auc_b", "difference", "low", "high")}
                               for c, v in paired.items()}}
    out["aims"] = list(aims)  # none: the run aimed at something these runs do not hold; R1 holds, R2 reads all
    out["R1"] = all(paired[c]["difference"] >= GAIN and paired[c]["low"] > GAIN_FLOOR for c in aims)
    out["R2"] = all(paired[c]["difference"] >= LOSS_POINT and paired[c]["low"] >= LOSS_FLOOR for c in others)
    if rule == 2:
        out = {"rule": 2, **out, **both_populations(ref, cand)}
    else:
        holds, out["matched"], checked = matched_recall(ref, cand)
        out["R3"], out["R3_sets_checked"] = holds, checked
        shares = {"ref": operating_points(ref, REALS), "cand": operating_points(cand, REALS)}
        out["group_reals"] = shares
        out["R4"] = all(shares["cand"][p] <= shares["ref"][p] + SHARE_SLACK[p] for p in POINTS)
    out["passes"] = out["R1"] and out["R2"] and out["R3"] and out["R4"]
    return out


def both_populations(ref: dict[str, dict], cand: dict[str, dict]) -> dict:
    """Rule 2's R3 and R4: the readings of rule 1, taken on still group scenes and on H.264 frames, then weighted."""
    checked = checked_sets(ref)
    read = {"still": readings(ref, cand, REALS, checked)}
    for condition in CODEC:
        keys = codec_keys(ref, cand, condition)
        if not keys:
            raise ValueError(f"rule 2 reads the real faces of '{condition}': neither folder scored them (try --rule 1)")
        read[condition] = readings(with_pooled_reals(ref, keys), with_pooled_reals(cand, keys), POOLED, checked)
    weighted, r3, r4 = {}, True, True
    for point in POINTS:
        recall = {p: r["mean_recall"][point][1] - r["mean_recall"][point][0] for p, r in read.items()}
        rise = {p: r["shares"]["cand"][point] - r["shares"]["ref"][point] for p, r in read.items()}
        sets = {s: weigh({p: r["plain_recall_change"][point][s] for p, r in read.items()}) for s in checked}
        weighted[point] = {"recall_change": round(weigh(recall), 4), "share_rise": round(weigh(rise), 4),
                           "plain_recall_change": {s: round(v, 4) for s, v in sets.items()}}
        r3 &= weigh(recall) >= -RECALL_SLACK and min(recall.values()) >= POPULATION_RECALL_FLOOR \
            and min(sets.values(), default=0.0) >= -SET_RECALL_DROP
        r4 &= weigh(rise) <= SHARE_SLACK[point] and max(rise.values()) <= POPULATION_SHARE_RISE[point]
    r4 &= read["still"]["shares"]["cand"]["likely manipulated"] <= STILL_LIKELY_CAP
    return {"R3": bool(r3), "R4": bool(r4), "R3_sets_checked": checked, "weighted": weighted,
            "populations": {p: rounded(r) for p, r in read.items()}}


def weigh(by_population: dict[str, float]) -> float:
    return sum(POPULATIONS[p] * v for p, v in by_population.items())


def checked_sets(ref: dict[str, dict]) -> list[str]:
    """The two-class sets with enough validation fakes for their own plain recall to be checked."""
    return [s for s in TWO_CLASS if f"{s}@plain" in ref and len(scores(ref[f"{s}@plain"], 1)) >= MIN_FAKES]


def readings(ref: dict[str, dict], cand: dict[str, dict], reals_key: str, checked: list[str]) -> dict:
    """At cuts matched to the reference's own shares of `reals_key`'s real faces: both models' shares at their own
    calibration, the mean recall of fakes over all cells, and each checked set's change of plain recall."""
    shares = {"ref": operating_points(ref, reals_key), "cand": operating_points(cand, reals_key)}
    table = recall_table({"ref": ref, "cand": cand}, reals_key, shares["ref"])
    out = {"shares": shares, "mean_recall": {}, "plain_recall_change": {}}
    for point in POINTS:
        r, c = table[f"{point} | ref"], table[f"{point} | cand"]
        out["mean_recall"][point] = [r["mean_recall"], c["mean_recall"]]
        out["plain_recall_change"][point] = {s: c["recall"][f"{s}@plain"] - r["recall"][f"{s}@plain"] for s in checked}
    return out


def rounded(value):
    """The readings as printed: floats to 4 places, everything else as is."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


def matched_recall(ref: dict[str, dict], cand: dict[str, dict]) -> tuple[bool, dict, list[str]]:
    """Rule 1's R3: recall of fakes at the cuts matched to the reference's shares of real group-scene faces."""
    checked = checked_sets(ref)
    read, holds, matched = readings(ref, cand, REALS, checked), True, {}
    for point in POINTS:
        (r, c), drops = read["mean_recall"][point], {s: round(v, 4) for s, v in read["plain_recall_change"][point].items()}
        matched[point] = {"mean_recall": [round(r, 4), round(c, 4)], "plain_recall_change": drops}
        holds &= c >= r - RECALL_SLACK and min(drops.values(), default=0.0) >= -SET_RECALL_DROP
    return bool(holds), matched, checked


def video_reals(ref: dict[str, dict], cand: dict[str, dict], conditions: tuple[str, ...] = CODEC) -> dict:
    """Reported beside the rule, not part of it: the same readings as R3 and R4 with the real faces of video frames.

    R3 and R4 match cuts on real faces in still group scenes. A journalist's real *videos* are the other place real
    faces get called fake: 2.3.0 calls 16 % of the validation real faces in CRF 23 frames likely manipulated.
    Here the cut is matched on the two-class sets' real faces under each codec condition (pooled), and each model's
    own shares of them at its threshold and its likely-manipulated cut are given."""
    out, order = {}, ("threshold", "likely manipulated")
    for condition in conditions:
        keys = codec_keys(ref, cand, condition)
        if not keys:
            continue
        read = readings(with_pooled_reals(ref, keys), with_pooled_reals(cand, keys), POOLED, [])
        out[condition] = {"real_shares": {n: {p: round(r[p], 4) for p in order} for n, r in read["shares"].items()},
                          "matched_mean_recall": {p: [round(v, 4) for v in read["mean_recall"][p]] for p in order},
                          "reals": int(sum(len(scores(ref[k], 0)) for k in keys))}
    return out


def codec_keys(ref: dict[str, dict], cand: dict[str, dict], condition: str) -> list[str]:
    """The two-class sets' runs under `condition` that both models scored (their real faces are pooled)."""
    return [f"{s}@{condition}" for s in TWO_CLASS if f"{s}@{condition}" in ref and f"{s}@{condition}" in cand]


def with_pooled_reals(runs: dict[str, dict], keys: list[str]) -> dict[str, dict]:
    """The loaded exports plus one run of the real faces of `keys` pooled, so that `operating_points` and
    `recall_table` read them as they read the real group scenes (every run of a model carries its cuts)."""
    first = runs[keys[0]]
    pooled = {"threshold": first["threshold"], "info": first["info"],
              "scores": [s for k in keys for s in runs[k]["scores"] if s["label"] == 0]}
    return {**runs, POOLED: pooled}


def score(model: Path, out: Path, data: Path | None, db: Path | None) -> int:
    """The validation runs the rule reads, exported into `out` (the same seeded pictures for every model)."""
    from benchmarks import robustness

    common = ["--split", "val", "--model", str(model), "--export-dir", str(out)]
    common += ["--data", str(data)] if data else []
    common += ["--db", str(db)] if db else []
    status = robustness.main([*common, "--sets", *TWO_CLASS, *ONE_CLASS, "--limit", str(VAL_LIMIT)])
    return status or robustness.main([*common, "--sets", "real_groups", "--limit", str(GROUP_LIMIT)])


def summary_lines(verdict: dict) -> list[str]:
    lines = [f"{c:12s} {v['auc_a']:.4f} -> {v['auc_b']:.4f}  {v['difference']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}]"
             for c, v in verdict["paired_mean_auc"].items()]
    lines += population_lines(verdict) if verdict.get("rule") == 2 else rule1_lines(verdict)
    lines.append(f"rule {verdict.get('rule', 1)}: " + " ".join(f"{r} {'pass' if verdict[r] else 'FAIL'}" for r in ("R1", "R2", "R3", "R4")))
    lines.append("a shipping candidate" if verdict["passes"] else "not a shipping candidate")
    return lines


def rule1_lines(verdict: dict) -> list[str]:
    lines = [f"matched at {point}: mean recall {m['mean_recall'][0]:.4f} -> {m['mean_recall'][1]:.4f}, "
             f"plain recall change {m['plain_recall_change']}" for point, m in verdict["matched"].items()]
    shares = verdict["group_reals"]
    lines.append("real group faces, own calibration: " + ", ".join(
        f"{p} {shares['ref'][p]:.1%} -> {shares['cand'][p]:.1%}" for p in POINTS))
    return lines


def population_lines(verdict: dict) -> list[str]:
    lines = []
    for name, r in verdict["populations"].items():
        lines.append(f"real faces of {name} (weight {POPULATIONS[name]}): matched-cut mean recall " + ", ".join(
            f"{p} {r['mean_recall'][p][0]:.4f} -> {r['mean_recall'][p][1]:.4f}" for p in POINTS) + "; own shares " + ", ".join(
            f"{p} {r['shares']['ref'][p]:.1%} -> {r['shares']['cand'][p]:.1%}" for p in POINTS))
    for point, w in verdict["weighted"].items():
        lines.append(f"weighted at {point}: recall {w['recall_change']:+.4f}, share {w['share_rise']:+.4f}, "
                     f"plain recall change {w['plain_recall_change']}")
    return lines


def video_lines(beside: dict) -> list[str]:
    lines = ["beside the rule, real faces in video frames:"] if beside else []
    for condition, r in beside.items():
        shares, matched = r["real_shares"], r["matched_mean_recall"]
        lines.append(f"  {condition}: own shares of {r['reals']} reals " + ", ".join(
            f"{p} {shares['ref'][p]:.1%} -> {shares['cand'][p]:.1%}" for p in shares["ref"]) + "; matched-cut mean recall "
            + ", ".join(f"{p} {m[0]:.4f} -> {m[1]:.4f}" for p, m in matched.items()))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scoring = commands.add_parser("score", help="score a model on the validation runs the rule reads")
    scoring.add_argument("model", type=Path, help="checkpoint folder")
    scoring.add_argument("--out", type=Path, required=True, help="folder for the exported runs")
    scoring.add_argument("--data", type=Path, help="the shared face data (default: benchmarks.robustness's)")
    scoring.add_argument("--db", type=Path, help="runs database (default: benchmarks.robustness's)")
    judging = commands.add_parser("judge", help="apply R1-R4 to two folders of exported validation runs")
    judging.add_argument("reference", type=Path, help="the shipped model's exported runs")
    judging.add_argument("candidate", type=Path)
    judging.add_argument("--aim", nargs="*", default=list(CODEC), choices=CONDITIONS,
                         help="the conditions the candidate was trained to improve (R1); default the H.264 ones. "
                              "Given with none (a run aimed at something these runs do not hold), R1 holds and "
                              "every condition is read by R2")
    judging.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of the paired intervals")
    judging.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    judging.add_argument("--rule", type=int, choices=(1, 2), default=2,
                         help="2 (default): real faces of still group scenes and of video frames; 1: still group scenes only")
    args = parser.parse_args(argv)
    if args.command == "score":
        if not (args.model / "config.json").is_file():
            print(f"error: {args.model} is not a checkpoint folder (no config.json)", file=sys.stderr)
            return 2
        return score(args.model, args.out, args.data, args.db)
    try:
        for folder in (args.reference, args.candidate):
            if not folder.is_dir():
                raise ValueError(f"{folder} is not a folder of exported runs")
        ref, cand = load_runs(args.reference), load_runs(args.candidate)
        verdict = judge(ref, cand, tuple(args.aim), args.boot, args.rule)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    beside = video_reals(ref, cand) if args.rule == 1 else {}  # rule 2 reads them itself
    if args.json:
        print(json.dumps({**verdict, "beside_the_rule": {"video_reals": beside}} if beside else verdict, indent=1))
    else:
        print("\n".join([*summary_lines(verdict), *video_lines(beside)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
