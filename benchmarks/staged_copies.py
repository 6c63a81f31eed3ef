"""A staged stability check: which copies to score first, and does stopping there change any verdict? No model run.

    python -m benchmarks.staged_copies [--model assets/models/dfx-lite0]

Issue 16's cost: scoring all 11 changed copies of a face is what makes the check slow. The staged check
(detector.stability.check_faces with AbstainRules.first_stage) scores a first stage of copies for every face and
the others only for a face whose verdict one of the first already flips (AbstainRules.rest_needed): a face
none of whose first copies flips stops there. This re-judges the per-face records `scripts.measure_abstain faces`
stored (benchmarks/results/abstain_faces_{val,test}.json: every picture and its screenshot copy with P(fake) under
each of the 11 changes) with the engine's own rule, for first stages of 1 to 11 copies.

Chosen on VALIDATION records only:
- the order: greedily, the copy that flips the most validation faces no earlier copy flips (faces that get a
  verdict without the check, i.e. those whose verdict the copies can change; ties: the most flips in all, then
  PERTURBATIONS order);
- the size: the smallest first stage that flips every such validation face any of the 11 copies flips (so on
  validation no face that a copy disagrees with stops early; a stricter rule than "no verdict changed").
Reported for both splits and every size: final verdicts that differ from the full check (adoption rule: at most 1
per split), faces that need the second pass, copies scored per face, and given / accuracy of those given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import RESULTS, report
from detector import display
from detector.stability import PERTURBATIONS, AbstainRules, judge
from scripts.measure_abstain import selective

GIVEN = (display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND)


def face_verdict(face: dict, copies: dict[str, float], rules: AbstainRules, threshold: float) -> tuple[str, list[str]]:
    """(verdict, flipped copies) of one stored face judged on `copies`."""
    verdict, _, flipped = judge(face["p_fake"], face["label"], copies, face["face_px"], face["sharpness"], face["face_prob"],
                                face["fallback"], threshold, rules)
    return verdict, flipped


def staged_copies(face: dict, first: tuple[str, ...], rules: AbstainRules, threshold: float) -> dict[str, float]:
    """The copies the staged check scores for a stored face: the first stage, and all 11 when rest_needed."""
    found = {name: face["copies"][name] for name in PERTURBATIONS if name in first}
    if len(found) < len(PERTURBATIONS) and rules.rest_needed(*face_verdict(face, found, rules, threshold)):
        return dict(face["copies"])
    return found


def open_faces(records: list[dict], rules: AbstainRules, threshold: float) -> list[set[str]]:
    """For each face that gets a verdict without the check and is flipped by at least one copy: the copies that flip it."""
    out = []
    for r in records:
        face = r["face"]
        if face is None or face_verdict(face, {}, rules, threshold)[0] not in GIVEN:
            continue
        flipped = set(face_verdict(face, face["copies"], rules, threshold)[1])
        if flipped:
            out.append(flipped)
    return out


def flip_order(records: list[dict], rules: AbstainRules, threshold: float) -> list[str]:
    """All 11 copies, the one that flips the most not-yet-flipped faces first (greedy cover of open_faces)."""
    faces = open_faces(records, rules, threshold)
    left, order = list(faces), []
    while len(order) < len(PERTURBATIONS):
        rest = [n for n in PERTURBATIONS if n not in order]
        best = max(rest, key=lambda n: (sum(n in f for f in left), sum(n in f for f in faces), -PERTURBATIONS.index(n)))
        order.append(best)
        left = [f for f in left if best not in f]
    return order


def missed(records: list[dict], first: tuple[str, ...], rules: AbstainRules, threshold: float) -> dict:
    """Open faces none of whose flipping copies is in the first stage: how many, and the most flips among them."""
    gone = [f for f in open_faces(records, rules, threshold) if not f & set(first)]
    return {"faces": len(gone), "most_flips": max((len(f) for f in gone), default=0)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)  # None: no verdict given at all


def judge_split(records: list[dict], first: tuple[str, ...], rules: AbstainRules, threshold: float) -> dict:
    """The staged check against the full one on one split's stored records."""
    faces = [r for r in records if r["face"] is not None]
    staged = [{**r, "face": {**r["face"], "copies": staged_copies(r["face"], first, rules, threshold)}} for r in faces]
    changes = [{"file": a["file"], "kind": a["kind"], "label": a["label"], "full": fa, "staged": fs}
               for a, b in zip(faces, staged)
               if (fa := face_verdict(a["face"], a["face"]["copies"], rules, threshold)[0]) != (fs := face_verdict(b["face"], b["face"]["copies"], rules, threshold)[0])]
    scored = [len(r["face"]["copies"]) for r in staged]
    result = selective([r for r in records if r["face"] is None] + staged, rules, threshold)
    return {"n": len(records), "faces": len(faces), "verdicts_changed": len(changes), "changes": changes,
            "second_pass": sum(n == len(PERTURBATIONS) and len(first) < n for n in scored),
            "mean_copies_scored": round(sum(scored) / max(len(scored), 1), 2),
            "missed_open_faces": missed(records, first, rules, threshold),
            "coverage": round(result["coverage"], 4), "accuracy_given": _rounded(result["accuracy_given"])}


CHOICE_RULE = "smallest first stage (in the validation order) that flips every validation face any copy flips"


def choose_first_stage(val: dict, test: dict | None, rules: AbstainRules) -> tuple[list[str], dict]:
    """(the first stage, evidence: the validation order, the sweep over 1-11 copies first on validation and test,
    whether the adoption rule holds). `rules` are the model's without a first stage; `val`/`test` the stored
    `measure_abstain faces` results. The choice reads validation records only."""
    threshold = val["threshold"]
    order = flip_order(val["records"], rules, threshold)
    splits = [("val", val)] + ([("test", test)] if test is not None else [])
    sweep = [{"copies_first": k, "first_stage": order[:k],
              **{name: judge_split(data["records"], tuple(order[:k]), rules, threshold) for name, data in splits}}
             for k in range(1, len(PERTURBATIONS) + 1)]
    chosen = next(s for s in sweep if s["val"]["missed_open_faces"]["faces"] == 0)
    adopted = all(chosen[name]["verdicts_changed"] <= 1 for name, _ in splits)
    return chosen["first_stage"], {"order_on_validation": order, "rule": CHOICE_RULE, "copies_first": chosen["copies_first"],
                                   "adopted": adopted, "sweep": sweep}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("assets/models/dfx-lite0"))
    args = parser.parse_args(argv)
    rules = AbstainRules.for_checkpoint(args.model)
    rules.first_stage = None  # measure against the full check, whatever the model folder says
    val, test = (json.loads((RESULTS / f"abstain_faces_{s}.json").read_text()) for s in ("val", "test"))
    for data in (val, test):
        assert data["model"] == rules.model, f"records of {data['model']}, rules of {rules.model}"
    threshold = val["threshold"]
    first, evidence = choose_first_stage(val, test, rules)
    sweep, adopted = evidence["sweep"], evidence["adopted"]
    chosen = sweep[len(first) - 1]
    full = {name: selective(data["records"], rules, threshold) for name, data in (("val", val), ("test", test))}
    rows = [(f"first {s['copies_first']}", f"val {s['val']['verdicts_changed']}/{s['val']['n']}, test {s['test']['verdicts_changed']}/{s['test']['n']} changed",
             f"second pass val {s['val']['second_pass']}, test {s['test']['second_pass']} faces; missed open val faces "
             f"{s['val']['missed_open_faces']['faces']}; copies/face {s['test']['mean_copies_scored']}; + " + (s["first_stage"][-1]))
            for s in sweep]
    rows.append(("chosen on validation", f"{chosen['copies_first']} copies first", ", ".join(chosen["first_stage"])))
    rows.append(("adoption rule (at most 1 changed verdict per split)", "met" if adopted else "NOT met",
                 f"val {chosen['val']['verdicts_changed']}, test {chosen['test']['verdicts_changed']}"))
    return report("staged_copies", rows, {
        "model": rules.model, "tolerance": rules.max_disagree, "threshold": threshold, "order_on_validation": evidence["order_on_validation"],
        "chosen": {"rule": CHOICE_RULE, "first_stage": first, "copies_first": len(first), "adopted": adopted},
        "full_check": {name: {"coverage": round(v["coverage"], 4), "accuracy_given": _rounded(v["accuracy_given"])} for name, v in full.items()},
        "sweep": sweep,
    })


if __name__ == "__main__":
    main()
