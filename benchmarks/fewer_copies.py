"""Would fewer changed copies give the same "can't tell" decisions? Read from stored measurements, no model run.

    python -m benchmarks.fewer_copies [--model assets/models/dfx-lite0]

Uses the per-face records `scripts.measure_abstain faces` stored (benchmarks/results/abstain_faces_{val,test}.json:
every picture and its screenshot copy, with P(fake) under each of the 11 changes) and the model's abstain.json
rules. Copies are dropped one at a time, each time the one whose removal changes the fewest final verdicts on
VALIDATION pictures (ties: the higher validation utility); for each step it prints, on validation and on test,
how many final verdicts differ from the full check and the share given a verdict / accuracy of those, with the
measured tolerance kept, and the tolerance the same utility would choose for that set of copies on validation.
Each copy dropped saves about one forward pass (about 8 ms of the check's ~190 ms on the 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from benchmarks.common import RESULTS, report
from detector.stability import PERTURBATIONS, AbstainRules, judge
from scripts.measure_abstain import selective


def verdicts(records: list[dict], rules: AbstainRules, threshold: float, keep: tuple[str, ...]) -> list[str | None]:
    out = []
    for r in records:
        f = r["face"]
        out.append(None if f is None else judge(f["p_fake"], f["label"], {k: f["copies"][k] for k in keep}, f["face_px"],
                                              f["sharpness"], f["face_prob"], f["fallback"], threshold, rules)[0])
    return out


def only(records: list[dict], keep: tuple[str, ...]) -> list[dict]:
    return [r if r["face"] is None else {**r, "face": {**r["face"], "copies": {k: r["face"]["copies"][k] for k in keep}}} for r in records]


def changed(records: list[dict], rules: AbstainRules, threshold: float, keep: tuple[str, ...]) -> int:
    full = verdicts(records, rules, threshold, PERTURBATIONS)
    return sum(a != b for a, b in zip(full, verdicts(records, rules, threshold, keep)))


def best_tolerance(records: list[dict], rules: AbstainRules, threshold: float, keep: tuple[str, ...]) -> int:
    scores = {k: selective(only(records, keep), replace(rules, max_disagree=k), threshold)["utility"] for k in range(len(keep) + 1)}
    return max(scores, key=lambda k: (scores[k], -k))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("assets/models/dfx-lite0"))
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args(argv)
    rules = AbstainRules.for_checkpoint(args.model)
    val, test = (json.loads((RESULTS / f"abstain_faces_{s}.json").read_text()) for s in ("val", "test"))
    for data in (val, test):
        assert data["model"] == rules.model, f"records of {data['model']}, rules of {rules.model}"
    threshold = val["threshold"]
    keep, steps = tuple(PERTURBATIONS), []
    for _ in range(args.steps + 1):
        row = {"copies": len(keep), "kept": list(keep)}
        for name, data in (("val", val["records"]), ("test", test["records"])):
            result = selective(only(data, keep), rules, threshold)
            row[name] = {"verdicts_changed": changed(data, rules, threshold, keep), "n": len(data),
                         "coverage": round(result["coverage"], 4), "accuracy_given": round(result["accuracy_given"], 4)}
        row["val_chosen_tolerance"] = best_tolerance(val["records"], rules, threshold, keep)
        steps.append(row)
        if len(keep) == 1:
            break
        drop = min(keep, key=lambda c: (changed(val["records"], rules, threshold, tuple(k for k in keep if k != c)),
                                        -selective(only(val["records"], tuple(k for k in keep if k != c)), rules, threshold)["utility"]))
        keep = tuple(k for k in keep if k != drop)
    # What the whole check changes (no copies at all): the most any subset could change; when it is small,
    # "nothing changed" says little about which copies matter.
    none = {name: changed(data["records"], rules, threshold, ()) for name, data in (("val", val), ("test", test))}
    rows = [("no copies (check off)", f"val {none['val']}/{len(val['records'])}, test {none['test']}/{len(test['records'])}",
             "changed: all the check decides on these pictures")]
    rows += [(f"{s['copies']} copies", f"val {s['val']['verdicts_changed']}/{s['val']['n']}, test {s['test']['verdicts_changed']}/{s['test']['n']}",
             f"changed; test given {100 * s['test']['coverage']:.1f} %, acc {100 * s['test']['accuracy_given']:.1f} %; "
             f"val-chosen tolerance {s['val_chosen_tolerance']}; dropped so far: "
             + (", ".join(c for c in PERTURBATIONS if c not in s["kept"]) or "none")) for s in steps]
    return report("fewer_copies", rows, {"model": rules.model, "changed_without_copies": none, "tolerance": rules.max_disagree, "min_face_px": rules.min_face_px, "steps": steps})


if __name__ == "__main__":
    main()
