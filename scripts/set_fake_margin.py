"""Choose how sure the model must be before a face is called "likely manipulated", from real group scenes.

    python -m scripts.set_fake_margin assets/models/dfx-lite0 [--data ../shared/data] [--limit 400]
        [--layouts 1] [--budget 0.02] [--confidence 0.9] [--compare 0.8 0.9 0.95] [--mix val|test-pool]
        [--test-groups] [--test-runs RUN.json ...] [--records FILE] [--write]

The uncertain band around the threshold is chosen for accuracy on validation crops
(`detector.training.calibrate`); it is symmetric. Real faces inside group photos score higher than
real portraits, and journalists meet group photos: with 2.1.0's band (±0.13) 9.6 % of 395 real
faces in composed test group scenes were called likely manipulated. This script composes the
*validation* real pictures of every set into group scenes exactly as the robustness suite composes
the test ones (`benchmarks.robustness`, condition `group`; only faces of at least 80 px count, as
issue 14's target says), scores them through the app's path, and sets `fake_margin`: the smallest
grid distance above the threshold (never narrower than the uncertain band) for which

- plain rule (no `--confidence`): at most `--budget` of those real faces reach it;
- `--confidence C`: the one-sided Clopper-Pearson upper bound, at confidence C, on the share of real
  faces that reach it is at most `--budget`. A rule that meets the budget only on the validation
  sample misses it on another sample about half the time; the bound makes that C-sure instead.

`--layouts K` composes every validation picture into K differently seeded scenes (other group mates,
scale, place, background). That averages out the layout noise, but not the picture noise: the same
face K times is not K faces. So the unit of evidence is the distinct picture: each picture's rate is
the share of its layouts in which it is called likely manipulated, the estimate is the mean over
pictures, and the bound is Clopper-Pearson at n = distinct pictures with the (fractional) count
n x estimate. A per-picture share in [0, 1] varies no more than a coin with the same mean (its
variance is at most p(1-p)), so this claims no more evidence than n independent pictures would give.

`--mix test-pool` weighs each source set's validation pictures to that set's share of the real pictures
the test group scenes are drawn from (files counted, never scored). The validation pool is 84 % DFDC, the
test pool 74 %, and real FFHQ faces in groups are called fake far more often than DFDC's, so the plain
validation mix underestimates the rate the test scenes measure. The weighted estimate is the weighted
mean over pictures, and its bound is Clopper-Pearson at Kish's effective sample size (Korn and Graubard
1998): uneven weights claim fewer pictures than there are.

Faces between the threshold and the margin become "can't tell"; the lower edge of the band is
unchanged. The script prints one table: every rule (plain and each `--compare` confidence) with its
margin, validation rate and bound, the rate on the test real group scenes (`--test-groups`: scored,
never used to choose) and what it costs on the stored full test runs (share of fakes still called
likely manipulated; default: this model's `assets/runs/<name>_<version>_*_test.json`).
`--records FILE` keeps the scored scenes (the slow part) for the next call with the same model and settings.
`--write` stores the chosen rule's margin and its evidence in the checkpoint's config.json.
Exit codes: 0 done, 2 bad input, 3 no grid margin meets the budget under the chosen rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import beta

from benchmarks.robustness import GROUP_MIN_FACE, share_at_or_above
from detector.config import ModelConfig
from detector.display import format_share

REAL_GROUPS = "real_groups"
ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = 3


def upper_bound(hits: float, n: float, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen as `hits` out of `n` (both may be fractional: an
    averaged count, or Korn and Graubard's effective sample size of a weighted sample)."""
    if n <= 0 or hits >= n:
        return 1.0
    return float(beta.ppf(confidence, hits + 1, n - hits))


def faces_by_picture(records: list[dict], min_face_px: float = GROUP_MIN_FACE) -> dict[str, np.ndarray]:
    """The scores of each distinct source picture's faces (one per layout it was found in), faces of at least
    `min_face_px` only, keyed by the picture's path ("<set>/<split>/real/<file>"). Records without `face_px`
    (older scorers) are taken as they are."""
    by_picture: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record["score"] is None or record.get("face_px", min_face_px) < min_face_px:
            continue
        by_picture[record["path"].split(":", 1)[-1]].append(record["score"])
    return {path: np.asarray(scores, dtype=np.float64) for path, scores in by_picture.items()}


def per_set(pictures: dict[str, np.ndarray], cut: float) -> dict[str, tuple[int, float]]:
    """Pictures and rate at `cut` per source set: the validation mix (mostly DFDC) is not the test's."""
    sets = sorted({path.split("/")[0] for path in pictures})
    return {s: (len(mine), rate_at(mine, cut)) for s in sets for mine in [[v for k, v in pictures.items() if k.split("/")[0] == s]]}


def rate_at(pictures: list[np.ndarray], cut: float, weights: np.ndarray | None = None) -> float:
    """The (weighted) mean over pictures of the share of their faces at or above `cut`; equal weights by default."""
    if not pictures:
        return 0.0
    return float(np.average([(scores >= cut).mean() for scores in pictures], weights=weights))


def effective_n(n: int, weights: np.ndarray | None) -> float:
    """Kish's effective sample size of weighted pictures, (sum w)^2 / sum w^2: n for equal weights."""
    return float(n if weights is None else weights.sum() ** 2 / (weights**2).sum())


def set_weights(pictures: dict[str, np.ndarray], mix: dict[str, int]) -> np.ndarray:
    """Per-picture weights that give each source set its share of `mix` (post-stratification)."""
    sets = [path.split("/")[0] for path in pictures]
    counts = {name: sets.count(name) for name in set(sets)}
    total = sum(mix.values())
    return np.array([mix.get(name, 0) / total / counts[name] for name in sets])


def rule_holds(pictures: list[np.ndarray], cut: float, budget: float, confidence: float | None, weights: np.ndarray | None = None) -> bool:
    rate = rate_at(pictures, cut, weights)
    if confidence is None:
        return rate <= budget
    n = effective_n(len(pictures), weights)
    return upper_bound(rate * n, n, confidence) <= budget


def choose_margin(pictures: list[np.ndarray], threshold: float, budget: float, confidence: float | None,
                  smallest: float, largest: float, weights: np.ndarray | None = None) -> float | None:
    """The smallest margin on a 0.01 grid in [smallest, largest] that meets the rule; None if none does."""
    steps = range(int(round(smallest * 100)), int(round(largest * 100)) + 1)
    return next((step / 100 for step in steps if rule_holds(pictures, threshold + step / 100, budget, confidence, weights)), None)


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


def default_test_runs(config: ModelConfig) -> list[Path]:
    """The model's stored full-test-split reference runs (scripts.ship_model writes them), if any."""
    return sorted((ROOT / "assets" / "runs").glob(f"{config.name}_{config.version}_*_test.json"))


def rule_name(confidence: float | None) -> str:
    return "plain" if confidence is None else f"bound@{confidence:g}"


def rule_row(rule: float | None, val: list[np.ndarray], test: list[np.ndarray] | None, config: ModelConfig,
             budget: float, runs: list[Path], weights: np.ndarray | None = None) -> dict:
    """One table row: the margin a rule picks and what it gives on validation, test scenes and stored runs."""
    margin = choose_margin(val, config.threshold, budget, rule, config.uncertain_margin, round(0.99 - config.threshold, 2), weights)
    return margin_row(rule_name(rule), rule, margin, val, test, config, runs, weights)


def margin_row(name: str, rule: float | None, margin: float | None, val: list[np.ndarray], test: list[np.ndarray] | None,
               config: ModelConfig, runs: list[Path], weights: np.ndarray | None = None) -> dict:
    """What a margin gives on validation, test scenes and stored runs (None: no margin)."""
    row: dict = {"rule": name, "confidence": rule, "fake_margin": margin}
    if margin is None:
        return row
    cut = config.threshold + margin
    rate, n = rate_at(val, cut, weights), effective_n(len(val), weights)
    row.update(cut=round(cut, 4), val_rate=round(rate, 4),
               val_bound={f"{c:g}": round(upper_bound(rate * n, n, c), 4) for c in (0.8, 0.9, 0.95)})
    if test is not None:
        row["test_rate"] = round(rate_at(test, cut), 4)
        row["test_faces_called_fake"] = round(rate_at(test, cut) * len(test), 2)  # a count: the test is one layout
    row["test_cost"] = cost_on_runs(runs, config.band()[1], cut)
    return row


def table(rows: list[dict], n_val: str, n_test: int | None, old_cut: float) -> str:
    """The rules side by side, as markdown (fakes called likely manipulated per split: old edge -> this rule)."""
    splits = sorted({s for row in rows for s in row.get("test_cost", {})})
    # A one-class run's data names its paired reals too ("sd21_faces/test + reals of ..."): the first word says which.
    head = ["rule", "margin", "cut", f"val rate ({n_val})", "val bound 0.8/0.9/0.95",
            f"test groups ({n_test} pictures)" if n_test is not None else "test groups", *[f"fakes {s.split()[0]}" for s in splits]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if row["fake_margin"] is None:
            lines.append(f"| {row['rule']} | budget not reachable | " + " | ".join("–" for _ in head[2:]) + " |")
            continue
        cost = row["test_cost"]
        cells = [row["rule"] + (" (chosen)" if row.get("chosen") else ""), f"{row['fake_margin']:.2f}", f"{row['cut']:.3f}", format_share(row["val_rate"]),
                 " / ".join(format_share(b) for b in row["val_bound"].values()),
                 format_share(row.get("test_rate")) + (f" ({row['test_faces_called_fake']:g})" if "test_rate" in row else ""),
                 *[f"{cost[s]['fakes_likely_manipulated'][1]:.1%} of {cost[s]['n_fake']}" if s in cost else "–" for s in splits]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n(old edge {old_cut:.3f}; val/test rates: real faces >= {GROUP_MIN_FACE} px called likely manipulated, "\
                              "mean over distinct pictures; bounds: one-sided Clopper-Pearson at n = distinct pictures, "\
                              "or their effective number under --mix test-pool)"


def set_table(val: dict[str, np.ndarray], test: dict[str, np.ndarray], cut: float) -> str:
    """The chosen cut's rate per source set, validation beside test: the pools mix the sets differently."""
    val_sets, test_sets = per_set(val, cut), per_set(test, cut)
    lines = [f"| set (cut {cut:.3f}) | val pictures | val rate | test pictures | test rate |", "|---|---|---|---|---|"]
    for name in sorted({*val_sets, *test_sets}):
        (nv, rv), (nt, rt) = val_sets.get(name, (0, None)), test_sets.get(name, (0, None))
        lines.append(f"| {name} | {nv} | {format_share(rv)} | {nt or '–'} | {format_share(rt) if nt else '–'} |")
    return "\n".join(lines)


def score_scenes(model: Path, data: Path, split: str, limit: int, layouts: int) -> list[dict]:
    """Every layout's group scenes of a split's real pictures, scored through the app's path."""
    from benchmarks import robustness
    from detector.inference import Detector

    detector = Detector(model)
    items = robustness.test_items(data, REAL_GROUPS, limit, split=split)
    records = [r for layout in range(layouts) for r in robustness.score_groups(detector, items, REAL_GROUPS, data, layout)]
    small = sum(r.get("face_px", GROUP_MIN_FACE) < GROUP_MIN_FACE for r in records)
    print(f"{split}: {len(records)} placed real pictures ({len(items)} distinct, {layouts} layout(s)); faces under {GROUP_MIN_FACE} px "
          f"left out: {small}; no face found: {sum(r['score'] is None for r in records)}", file=sys.stderr)
    return records


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="checkpoint folder")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=400, help="validation real pictures (seeded; 0: all of them)")
    parser.add_argument("--layouts", type=int, default=1, help="differently seeded scenes per validation picture")
    parser.add_argument("--budget", type=float, default=None, help="share of real faces allowed (default: the config's false_alarm_budget or 2 %%)")
    parser.add_argument("--confidence", type=float, default=None, help="choose by the Clopper-Pearson upper bound at this confidence (default: plain rate)")
    parser.add_argument("--compare", nargs="*", type=float, default=[0.8, 0.9, 0.95], help="confidences shown beside the chosen rule")
    parser.add_argument("--test-groups", action="store_true", help="also score the test real group scenes (reported, never used to choose)")
    parser.add_argument("--test-runs", nargs="*", type=Path, default=None, help="stored test runs to report the cost on (default: the model's own)")
    parser.add_argument("--mix", choices=("val", "test-pool"), default="val",
                        help="weigh the validation sets as they come (val) or to their shares of the test pool's real pictures (files counted, never scored)")
    parser.add_argument("--records", type=Path, help="JSON of scored scenes: read if it matches (model, limit, layouts), else scored and written")
    parser.add_argument("--write", action="store_true", help="store fake_margin and its evidence in config.json")
    args = parser.parse_args(argv)
    for value in (args.confidence, *args.compare):
        if value is not None and not 0.5 <= value < 1:
            parser.error(f"a confidence must be in [0.5, 1), got {value}")
    if args.layouts < 1:
        parser.error("--layouts must be at least 1")
    return args


def write_margin(folder: Path, config: ModelConfig, row: dict, evidence: dict) -> None:
    """Store the chosen margin (none when it equals the symmetric band) and its evidence in config.json."""
    margin = row["fake_margin"]
    calibration = config.training.get("calibration", {})
    config.fake_margin = None if margin == config.uncertain_margin else margin
    config.training = {**config.training, "calibration": {**calibration, "fake_margin": {"value": margin, **evidence}}}
    config.validate()
    (folder / "config.json").write_text(config.to_json() + "\n", encoding="utf-8")
    print(f"wrote fake_margin {config.fake_margin} to {folder / 'config.json'}")


def evidence_of(row: dict, budget: float, val: list[np.ndarray], weights: np.ndarray | None, args: argparse.Namespace,
                config: ModelConfig) -> dict:
    kind = "that at most" if args.confidence is None else f"whose {args.confidence:g} one-sided Clopper-Pearson upper bound says at most"
    mix = "" if weights is None else ", each set weighed to its share of the test pool's real pictures"
    return {
        "rule": f"smallest margin above the threshold {kind} {budget:.0%} of real faces >= {GROUP_MIN_FACE} px in validation group scenes reach{mix}",
        "budget": budget, "confidence": args.confidence, "layouts": args.layouts, "mix": args.mix,
        "val_group_faces": int(sum(len(p) for p in val)), "val_group_pictures": len(val),
        "val_effective_pictures": round(effective_n(len(val), weights), 1),
        "val_rate_at_uncertain_margin": round(rate_at(val, config.threshold + config.uncertain_margin, weights), 4),
        "val_rate_at_fake_margin": row["val_rate"], "val_upper_bound": row["val_bound"],
    }


def scored_scenes(args: argparse.Namespace, config: ModelConfig) -> tuple[list[dict], list[dict] | None]:
    """The validation (and with --test-groups, test) scene records: from --records when it holds this model's
    scenes for these settings, else scored now (and written there). Scoring is the slow part; the rules are not."""
    key = {"model": f"{config.name} {config.version}", "threshold": config.threshold, "limit": args.limit, "layouts": args.layouts}
    if args.records and args.records.is_file():
        stored = json.loads(args.records.read_text())
        if stored["key"] == key and (stored["test"] is not None or not args.test_groups):
            return stored["val"], stored["test"] if args.test_groups else None
    val = score_scenes(args.model, args.data, "val", args.limit, args.layouts)
    test = score_scenes(args.model, args.data, "test", 400, 1) if args.test_groups else None
    if args.records:
        args.records.write_text(json.dumps({"key": key, "val": val, "test": test}, default=float))
    return val, test


def test_pool_mix(data: Path) -> dict[str, int]:
    """Real pictures per source set in the test pool the robustness suite composes its group scenes from (counted, not scored)."""
    from benchmarks import robustness

    items = robustness.test_items(data, REAL_GROUPS, 0, split="test")
    sets = [Path(path).relative_to(data).parts[0] for path, _ in items]
    return {name: sets.count(name) for name in set(sets)}


def mix_weights(args: argparse.Namespace, val_pictures: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per-picture weights for --mix test-pool (None for the validation mix); raises ValueError without a test pool."""
    if args.mix != "test-pool":
        return None
    mix = test_pool_mix(args.data)
    weights = set_weights(val_pictures, mix) if mix else None
    if weights is None or not weights.any():
        raise ValueError(f"--mix test-pool: no real test picture of the validation sets under {args.data}")
    return weights


def compare_rules(args: argparse.Namespace, config: ModelConfig, budget: float, val: list[np.ndarray],
                  test: list[np.ndarray] | None, weights: np.ndarray | None) -> tuple[list[dict], dict]:
    """A row per rule (plain and each confidence) after the config's current edge; and the chosen rule's row."""
    runs = default_test_runs(config) if args.test_runs is None else args.test_runs
    rules = [None, *sorted({*args.compare, args.confidence} - {None})]
    rows = [rule_row(rule, val, test, config, budget, runs, weights) for rule in rules]
    chosen = rows[rules.index(args.confidence)]
    chosen["chosen"] = True
    # The config's current upper edge first, measured on the same scenes, so every rule has its baseline.
    current = config.band()[1] - config.threshold
    rows.insert(0, margin_row("current config", None, round(current, 2), val, test, config, runs, weights))
    return rows, chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.model / "config.json").is_file():
        print(f"error: {args.model} is not a checkpoint folder (no config.json)", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    from detector.training.calibrate import FALSE_ALARM_BUDGET

    config = ModelConfig.load(args.model / "config.json")
    budget = args.budget if args.budget is not None else config.training.get("calibration", {}).get("false_alarm_budget", FALSE_ALARM_BUDGET)
    val_records, test_records = scored_scenes(args, config)
    val_pictures = faces_by_picture(val_records)
    # The test scenes are the robustness suite's own (real_groups, --limit 400, layout 0): reported, never used to choose.
    test_pictures = faces_by_picture(test_records) if test_records is not None else {}
    val, test = list(val_pictures.values()), (list(test_pictures.values()) if test_records is not None else None)
    if not val:
        print(f"error: no face of at least {GROUP_MIN_FACE} px was found in the validation group scenes", file=sys.stderr)
        return 2
    try:
        weights = mix_weights(args, val_pictures)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows, chosen = compare_rules(args, config, budget, val, test, weights)
    n_val = f"{len(val)} pictures" + ("" if weights is None else f", test-pool mix: effective {effective_n(len(val), weights):.0f}")
    print(json.dumps({"budget": budget, "layouts": args.layouts, "mix": args.mix, "val_pictures": len(val), "rows": rows}, indent=1))
    print(table(rows, n_val, None if test is None else len(test), config.band()[1]))
    if chosen["fake_margin"] is None:
        print(f"error: no margin up to a cut of 0.99 keeps {rule_name(args.confidence)} of real group faces within {budget:.1%} "
              f"({len(val)} validation pictures); use more pictures (--limit 0), a lower confidence or a larger budget", file=sys.stderr)
        return UNREACHABLE
    print(set_table(val_pictures, test_pictures, chosen["cut"]))
    if args.write:
        write_margin(args.model, config, chosen, evidence_of(chosen, budget, val, weights, args, config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
