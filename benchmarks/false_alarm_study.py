"""Where do real faces get called fake? False alarms and fakes caught by head turn and by face size.

Two questions a rule for "can't tell" would have to answer first (issue 14's real group photos):
- `score` runs the robustness suite's pictures (same seeded items, conditions and group scenes) through the app's
  path and keeps every record with the scored face's head turn (`detector.faces.head_turn`, a yaw proxy from the
  five landmarks), its size and, with `--checked`, its final verdict; `report` bins them by |turn|.
- `sizes` scores each picture's face crop as it is and shrunk so the face is 200 ... 64 px (measure_abstain's
  `scaled_input`, the size sweep's resampling), and `report` prints false alarms and fakes caught at each size.

    python -m benchmarks.false_alarm_study score --split val --sets real_groups --limit 0 --checked --out runs/fa/val_groups.jsonl
    python -m benchmarks.false_alarm_study sizes --split val --out runs/fa/val_sizes.jsonl
    python -m benchmarks.false_alarm_study report runs/fa/val_groups.jsonl runs/fa/val_sizes.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.robustness import CONDITIONS, ONE_CLASS, TWO_CLASS, score_groups, score_pictures, test_items

TURN_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, float("inf"))
FACE_SIZES = (200, 160, 128, 112, 96, 80, 64)  # px, the box's longest side (the size limit's measure)
SIZE_SETS = (*TWO_CLASS, "real_faces_300w_portraits", "sd21_faces", "sfhq_t2i_tiles")
# A face size fails when shrinking real faces to it calls significantly more of them fake (one-sided sign test).
FALSE_ALARM_ALPHA = 0.05


def score(args) -> int:
    from detector.inference import Detector
    from detector.stability import AbstainRules

    detector = Detector(args.model)
    rules = AbstainRules.for_checkpoint(detector.checkpoint) if args.checked else None
    threshold, fake_cut = detector.config.threshold, detector.config.band()[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for set_name in args.sets:
            items = test_items(args.data, set_name, args.limit, args.split)
            for condition in ["group"] if set_name == "real_groups" else args.conditions:
                if condition == "group":
                    records = score_groups(detector, items, set_name, args.data, rules=rules)
                else:
                    records = score_pictures(detector, items, condition, args.data, rules=rules)
                for record in records:
                    out.write(json.dumps({**record, "set": set_name, "condition": condition, "split": args.split,
                                          "threshold": threshold, "fake_cut": fake_cut}) + "\n")
                print(f"{set_name} @ {condition}: {len(records)} records", file=sys.stderr, flush=True)
    return 0


def size_sweep(detector, data: Path, split: str, sets, per_class: int, skip: int = 0) -> list[dict]:
    """Each sampled picture's first detected face as found and shrunk to every FACE_SIZES size (never enlarged),
    scored in one call: a record per face with its P(fake) by size (`by_size`) and the model's two cuts."""
    from PIL import Image

    from detector.stability import face_size
    from scripts.measure_abstain import sample, scaled_input

    size, threshold, fake_cut = detector.config.input_size, detector.config.threshold, detector.config.band()[1]
    records = []
    for set_name in sets:
        for path, label in sample(data, set_name, split, per_class, skip=skip):
            image = Image.open(path).convert("RGB")
            faces = detector.face_finder.find(image)
            if not faces or faces[0].fallback:
                continue
            region, px = image.crop(faces[0].crop_box), face_size(faces[0])
            inputs = [region.resize((size, size), Image.BICUBIC, reducing_gap=3.0)]
            inputs += [scaled_input(region, min(1.0, target / px), size) for target in FACE_SIZES]
            probs = detector.p_fake_from_logits(detector.classify(inputs))
            records.append({"set": set_name, "file": path.name, "condition": "sizes", "split": split, "label": label, "face_px": round(px, 1),
                            "threshold": threshold, "fake_cut": fake_cut,
                            "by_size": {"native": float(probs[0]), **{str(t): float(p) for t, p in zip(FACE_SIZES, probs[1:])}}})
        print(f"{set_name}: done", file=sys.stderr, flush=True)
    return records


def sizes(args) -> int:
    from detector.inference import Detector

    records = size_sweep(Detector(args.model), args.data, args.split, args.sets, args.per_class)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return 0


def sign_test_p(worse: int, better: int) -> float:
    """One-sided sign test on paired faces: the chance of at least `worse` of the `worse + better` discordant faces
    going the worse way if both ways were equally likely (1.0 when none differ)."""
    from scipy.stats import binomtest

    return float(binomtest(worse, worse + better, 0.5, alternative="greater").pvalue) if worse + better else 1.0


def min_face_px_by_false_alarms(records: list[dict], alpha: float = FALSE_ALARM_ALPHA) -> tuple[int | None, dict]:
    """The smallest sweep size from which on every larger one leaves real faces' false alarms where they are.

    At each size, the real faces called fake (P(fake) >= threshold) there but not as found are paired against the
    reverse (a one-sided sign test on the same faces); a size fails when more are newly called fake with p < alpha.
    Returns (that size, or None when even the largest fails; the evidence per size). Faces between it and the next
    smaller size were not measured, so they count as too small."""
    reals = [r for r in records if r["label"] == 0]
    as_found = [r["by_size"]["native"] >= r["threshold"] for r in reals]
    evidence, chosen = {}, None
    for target in FACE_SIZES:  # largest first
        key = str(target)
        flagged = [(r["by_size"][key] >= r["threshold"], found) for r, found in zip(reals, as_found)]
        newly, cleared = sum(a and not b for a, b in flagged), sum(b and not a for a, b in flagged)
        p = sign_test_p(newly, cleared)
        evidence[key] = {"newly_called_fake": newly, "no_longer_called_fake": cleared, "p": round(float(p), 5),
                         "share_at_threshold": round(float(np.mean([a for a, _ in flagged])), 4) if flagged else None}
        if p < alpha:
            break
        chosen = target
    native = round(float(np.mean(as_found)), 4) if reals else None
    return chosen, {"alpha": alpha, "reals": len(reals), "share_at_threshold_as_found": native, "by_size": evidence}


def paired_reals(records: list[dict], shipped: list[dict]) -> list[tuple[dict, dict]]:
    """The real faces of two sweeps of the same sample, paired (same order, set, face size and, where recorded, file);
    ValueError when the sweeps did not score the same faces."""
    ours, theirs = ([r for r in rs if r["label"] == 0] for rs in (records, shipped))
    same = len(ours) == len(theirs) and all(
        a["set"] == b["set"] and a["face_px"] == b["face_px"] and a.get("file") == b.get("file") for a, b in zip(ours, theirs))
    if not same:
        raise ValueError("the two size sweeps did not score the same real faces: sweep both models on the same sample")
    return list(zip(ours, theirs))


def min_face_px_against_shipped(records: list[dict], shipped: list[dict], alpha: float = FALSE_ALARM_ALPHA) -> tuple[int | None, dict]:
    """The smallest sweep size from which on every larger one a candidate flags no more of the same real faces than
    the shipped model, at the threshold and at the likely-manipulated cut (each model at its own).

    Why not `min_face_px_by_false_alarms`: it compares a model with itself as found, so a candidate whose threshold
    was moved to flag fewer faces as found is measured against that lower floor. A model that would replace the
    shipped one is read against the false alarms users get today. At each size and cut, the faces only the candidate
    flags are paired against those only the shipped model flags (one-sided sign test); a size fails when either cut
    gives p < alpha. Returns (that size, or None when even the largest fails; the evidence per size)."""
    pairs = paired_reals(records, shipped)
    evidence, chosen = {}, None
    for target in FACE_SIZES:  # largest first
        key, fails = str(target), False
        evidence[key] = {}
        for cut in ("threshold", "fake_cut"):
            flagged = [(ours["by_size"][key] >= ours[cut], theirs["by_size"][key] >= theirs[cut]) for ours, theirs in pairs]
            only_ours, only_theirs = sum(a and not b for a, b in flagged), sum(b and not a for a, b in flagged)
            p = sign_test_p(only_ours, only_theirs)
            evidence[key][cut] = {"only_candidate": only_ours, "only_shipped": only_theirs, "p": round(float(p), 5),
                                  "candidate_share": round(float(np.mean([a for a, _ in flagged])), 4) if flagged else None,
                                  "shipped_share": round(float(np.mean([b for _, b in flagged])), 4) if flagged else None}
            fails = fails or p < alpha
        if fails:
            break
        chosen = target
    return chosen, {"alpha": alpha, "reals": len(pairs), "by_size": evidence}


def size_table(records: list[dict]) -> list[dict]:
    """Per face size (as found, then shrunk): real faces at or above the threshold and the fake cut, fakes at or
    above the fake cut, and those real faces' sets (where the false alarms come from)."""
    rows = []
    for key in ("native", *map(str, FACE_SIZES)):
        reals = [r for r in records if r["label"] == 0]
        fakes = [r for r in records if r["label"] == 1]
        at_cut = [r for r in reals if r["by_size"][key] >= r["fake_cut"]]
        rows.append({
            "size": key, "reals": len(reals),
            "reals_at_threshold": sum(r["by_size"][key] >= r["threshold"] for r in reals),
            "reals_at_fake_cut": len(at_cut),
            "fakes": len(fakes), "fakes_at_fake_cut": sum(r["by_size"][key] >= r["fake_cut"] for r in fakes),
            "false_alarms_by_set": {name: sum(r["set"] == name for r in at_cut) for name in sorted({r["set"] for r in at_cut})},
        })
    return rows


def load(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def turn_table(records: list[dict]) -> list[dict]:
    """Per |turn| bin: real faces at or above the threshold and the fake cut (and called likely manipulated after the
    check, when the records have verdicts), fakes at or above the fake cut."""
    rows = []
    scored = [r for r in records if r.get("score") is not None and r.get("turn") is not None]
    for low, high in zip(TURN_BINS, TURN_BINS[1:]):
        part = [r for r in scored if low <= abs(r["turn"]) < high]
        reals = [r for r in part if r["label"] == 0]
        fakes = [r for r in part if r["label"] == 1]
        rows.append({
            "turn": f"{low:g}-{high:g}",
            "reals": len(reals),
            "reals_at_threshold": sum(r["score"] >= r["threshold"] for r in reals),
            "reals_at_fake_cut": sum(r["score"] >= r["fake_cut"] for r in reals),
            "reals_likely_manipulated_checked": sum(r.get("verdict") == "likely_manipulated" for r in reals),
            "fakes": len(fakes),
            "fakes_at_fake_cut": sum(r["score"] >= r["fake_cut"] for r in fakes),
            "real_score_median": float(np.median([r["score"] for r in reals])) if reals else None,
        })
    return rows


def share(row: dict, key: str, total: str) -> str:
    return f"{row[key]} ({100 * row[key] / row[total]:.1f} %)" if row[total] else "-"


def report(args) -> int:
    records = load(args.files)
    swept = [r for r in records if "by_size" in r]
    out: dict = {}
    for split in sorted({r["split"] for r in swept}):
        rows = size_table([r for r in swept if r["split"] == split])
        out[f"sizes ({split})"] = rows
        print(f"\nface size sweep ({split}): {rows[0]['reals']} real and {rows[0]['fakes']} fake faces")
        print("| face px | reals >= threshold | reals >= fake cut | fakes >= fake cut | false alarms at the fake cut by set |")
        print("|---|---|---|---|---|")
        for row in rows:
            sets = ", ".join(f"{k} {v}" for k, v in row["false_alarms_by_set"].items())
            print(f"| {row['size']} | {share(row, 'reals_at_threshold', 'reals')} | {share(row, 'reals_at_fake_cut', 'reals')} | "
                  f"{share(row, 'fakes_at_fake_cut', 'fakes')} | {sets} |")
    records = [r for r in records if "by_size" not in r]
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['set']} @ {r['condition']} ({r['split']})", []).append(r)
    if args.pooled and records:
        groups = {"all": records}
    for name, part in groups.items():
        rows = turn_table(part)
        out[name] = rows
        print(f"\n{name}")
        print("| abs(turn) | reals | >= threshold | >= fake cut | likely manipulated after check | fakes | fakes >= fake cut |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['turn']} | {row['reals']} | {share(row, 'reals_at_threshold', 'reals')} | "
                  f"{share(row, 'reals_at_fake_cut', 'reals')} | {share(row, 'reals_likely_manipulated_checked', 'reals')} | "
                  f"{row['fakes']} | {share(row, 'fakes_at_fake_cut', 'fakes')} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score")
    s.add_argument("--model", type=Path)
    s.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    s.add_argument("--split", default="val", choices=("val", "test"))
    s.add_argument("--sets", nargs="*", default=[*TWO_CLASS, *ONE_CLASS, "real_groups"])
    s.add_argument("--conditions", nargs="*", default=["plain", "group"], choices=CONDITIONS)
    s.add_argument("--limit", type=int, default=150, help="at most N pictures per class and set (seeded; 0: all)")
    s.add_argument("--checked", action="store_true", help="run the stability check and keep each face's final verdict")
    s.add_argument("--out", type=Path, required=True)
    z = sub.add_parser("sizes")
    z.add_argument("--model", type=Path)
    z.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    z.add_argument("--split", default="val", choices=("val", "test"))
    z.add_argument("--sets", nargs="*", default=list(SIZE_SETS))
    z.add_argument("--per-class", type=int, default=120, help="pictures per class and set (seeded, as measure_abstain samples)")
    z.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+", type=Path)
    r.add_argument("--pooled", action="store_true", help="one table over all records")
    r.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.command in ("score", "sizes") and not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    return {"score": score, "sizes": sizes, "report": report}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
