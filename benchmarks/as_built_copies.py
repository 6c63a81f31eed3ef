"""Do copies built while others are scored change anything the check computes? (issue 16's cost, session 13)

    python -m benchmarks.as_built_copies [--model assets/models/dfx-lite0] [--data ../shared/data] [--split val test]

Re-runs the pictures whose per-face records `scripts.measure_abstain faces` stored (benchmarks/results/
abstain_faces_{val,test}.json: each picture and its screenshot copy) through `analyze_checked` twice, as the app runs
it (the scoring cores build the check's copies while they score others: Detector.scores_as_built) and with the copies
built before scoring (session 12's check), and compares every face: its logit, every copy's P(fake), the copies
scored and the final verdict, each for exact equality. Also the most suspicious face's verdict against the stored
record judged by the shipped staged rule (as benchmarks.reused_copies does).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import report
from benchmarks.reused_copies import picture, rerun_stored
from benchmarks.staged_copies import face_verdict, staged_copies
from detector.stability import AbstainRules, analyze_checked


def faces_of(detector, image, rules: AbstainRules, as_built: bool) -> list[tuple]:
    """(logit, P(fake), copies' P(fake), verdict) of every face, with the copies built while scored or first."""
    if not as_built:
        detector.scores_as_built = lambda: False
    try:
        checked = analyze_checked(detector, image, rules)
    finally:
        detector.__dict__.pop("scores_as_built", None)
    return [(f.logit, f.p_fake, c.p_fake_by_change, c.verdict) for f, c in zip(checked.result.faces, checked.checks)]


def study_split(stored: dict, data: Path, detector, rules: AbstainRules) -> dict:
    threshold, first = stored["threshold"], rules.stages()[0]
    pictures = faces = differing = verdicts_changed = vs_stored = 0
    max_logit_gap = max_copy_gap = 0.0
    for record in stored["records"]:
        if record["face"] is None:
            continue
        image = picture(record, stored["split"], data)
        now, before = faces_of(detector, image, rules, True), faces_of(detector, image, rules, False)
        pictures, faces = pictures + 1, faces + len(now)
        differing += now != before
        for (logit, _, copies, verdict), (logit_b, _, copies_b, verdict_b) in zip(now, before):
            max_logit_gap = max(max_logit_gap, abs(logit - logit_b))
            if list(copies) == list(copies_b):
                max_copy_gap = max([max_copy_gap, *(abs(copies[k] - copies_b[k]) for k in copies)])
            else:
                max_copy_gap = float("inf")  # different copies scored
            verdicts_changed += verdict != verdict_b
        if now:
            worst = max(now, key=lambda face: face[1])
            vs_stored += worst[3] != face_verdict(record["face"], staged_copies(record["face"], first, rules, threshold), rules, threshold)[0]
    return {"pictures": pictures, "faces": faces, "pictures_differing": differing, "max_logit_gap": max_logit_gap,
            "max_copy_p_fake_gap": max_copy_gap, "verdicts_changed": verdicts_changed, "verdicts_changed_vs_stored": vs_stored}


def main(argv: list[str] | None = None) -> dict:
    detector, result, splits = rerun_stored(argv, __doc__.splitlines()[0], study_split)
    rows = []
    for split in splits:
        r = result[split]
        rows += [(f"{split}: pictures differing, built while scored vs first", f"{r['pictures_differing']}/{r['pictures']}", f"{r['faces']} faces; expected 0"),
                 (f"{split}: largest logit / copy P(fake) gap", f"{r['max_logit_gap']:.1e} / {r['max_copy_p_fake_gap']:.1e}", "expected 0"),
                 (f"{split}: final verdicts changed", str(r["verdicts_changed"]), f"vs stored records: {r['verdicts_changed_vs_stored']}")]
    result["scores_as_built"] = detector.scores_as_built()
    return report("as_built_copies" if len(splits) == 2 else f"as_built_copies_{splits[0]}", rows, result)

if __name__ == "__main__":
    main()
