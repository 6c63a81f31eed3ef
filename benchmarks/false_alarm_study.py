"""Does a turned head change what the model says? Real-face false alarms and fakes caught by head turn.

`score` runs the robustness suite's pictures (same seeded items, conditions and group scenes) through the app's
path and keeps every record with the scored face's head turn (`detector.faces.head_turn`, a yaw proxy from the
five landmarks), its size and, with `--checked`, its final verdict; `report` bins them by |turn|:

    python -m benchmarks.pose_study score --split val --sets real_groups --limit 0 --checked --out runs/pose/val_groups.jsonl
    python -m benchmarks.pose_study report runs/pose/val_*.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.robustness import CONDITIONS, ONE_CLASS, TWO_CLASS, score_groups, score_pictures, test_items

TURN_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, float("inf"))
MIN_GROUP_FACE_PX = 80  # issue 14's false-alarm target counts real faces of at least this size in group scenes


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
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['set']} @ {r['condition']} ({r['split']})", []).append(r)
    if args.pooled:
        groups = {"all": records}
    out = {}
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
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+", type=Path)
    r.add_argument("--pooled", action="store_true", help="one table over all records")
    r.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.command == "score" and not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    return score(args) if args.command == "score" else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
