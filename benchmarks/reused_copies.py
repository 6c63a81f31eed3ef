"""Does reusing pixel-identical copies change anything the check decides? (issue 16's cost)

    python -m benchmarks.reused_copies [--model assets/models/dfx-lite0] [--data ../shared/data] [--split val test]

The stability check gives a re-framed copy whose model input is pixel-identical to the face's own crop (or to an
earlier copy) that score instead of a forward pass (detector.stability.reused_inputs). Exact by construction; this
checks it on the pictures whose per-face records `scripts.measure_abstain faces` stored (benchmarks/results/
abstain_faces_{val,test}.json: each picture and its screenshot copy): each is re-run as the app runs it
(`analyze_checked` with the model's rules, staged check and reuse), and, where its most suspicious face had copies
reused, once more with reuse switched off. Reported per split: final verdicts that differ from the stored records
judged by the shipped staged rule, verdicts and scores that differ with vs without reuse, how many pictures had
copies reused and how many forward passes that saved.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from benchmarks.bench_stability import without_reuse
from benchmarks.common import RESULTS, report
from benchmarks.staged_copies import face_verdict, staged_copies
from detector.stability import AbstainRules, analyze_checked, face_window, reused_inputs
from scripts.measure_abstain import screenshot_copy


def picture(record: dict, split: str, data: Path) -> Image.Image:
    """The stored record's picture (or its screenshot copy), as scripts.measure_abstain scored it."""
    folder = "fake" if record["label"] else "real"
    original = Image.open(data / record["set"] / split / folder / record["file"]).convert("RGB")
    return original if record["kind"] == "original" else screenshot_copy(original)


def worst(checked) -> tuple[object, object] | None:
    """(FaceResult, FaceStability) of the most suspicious face, as the records keep it; None without faces."""
    faces = checked.result.faces
    if not faces:
        return None
    i = max(range(len(faces)), key=lambda k: faces[k].p_fake)
    return faces[i], checked.checks[i]


def rerun(record: dict, split: str, data: Path, detector, rules: AbstainRules) -> dict | None:
    """One record re-run with reuse (and without, when its face had copies reused)."""
    image = picture(record, split, data)
    found = worst(analyze_checked(detector, image, rules))
    if found is None:
        return None
    face, check = found
    same = reused_inputs(face_window(image, face.face, detector.config.crop_margin), list(check.p_fake_by_change))
    out = {"verdict": check.verdict, "reused": sorted(same), "p_fake": face.p_fake}
    if same:
        _, plain = worst(without_reuse(lambda: analyze_checked(detector, image, rules))())
        out["verdict_without_reuse"] = plain.verdict
        out["max_gap_without_reuse"] = max(abs(check.p_fake_by_change[k] - plain.p_fake_by_change[k]) for k in check.p_fake_by_change)
    return out


def study_split(stored: dict, data: Path, detector, rules: AbstainRules) -> dict:
    threshold, first = stored["threshold"], rules.stages()[0]
    runs, changed, own_gap = [], [], []
    for record in stored["records"]:
        run = rerun(record, stored["split"], data, detector, rules) if record["face"] is not None else None
        if run is None:
            continue
        face = record["face"]
        expected = face_verdict(face, staged_copies(face, first, rules, threshold), rules, threshold)[0]
        own_gap.append(abs(run["p_fake"] - face["p_fake"]))
        if run["verdict"] != expected:
            changed.append({"file": record["file"], "kind": record["kind"], "stored": expected, "rerun": run["verdict"]})
        runs.append(run)
    reused = [r for r in runs if r["reused"]]
    return {
        "records": len(stored["records"]), "faces_rerun": len(runs),
        "face_p_fake_vs_stored_max": max(own_gap, default=0.0),
        "verdicts_changed_vs_stored": len(changed), "changes": changed,
        "pictures_with_reuse": len(reused), "forward_passes_saved": sum(len(r["reused"]) for r in reused),
        "reused_by_copy": {name: sum(name in r["reused"] for r in reused) for name in sorted({n for r in reused for n in r["reused"]})},
        "verdicts_changed_by_reuse": sum(r["verdict"] != r["verdict_without_reuse"] for r in reused),
        "max_p_fake_gap_by_reuse": max((r["max_gap_without_reuse"] for r in reused), default=0.0),
    }


def rerun_stored(argv: list[str] | None, description: str, study) -> tuple:
    """The options these re-run studies share, the model and its rules, and `study(stored, data, detector, rules)`
    run on each split's stored per-face records: (detector, result with one entry per split, the splits)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, default=Path("assets/models/dfx-lite0"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", nargs="+", choices=("val", "test"), default=["val", "test"])
    args = parser.parse_args(argv)
    from detector.inference import Detector

    detector = Detector(args.model)
    rules = AbstainRules.for_checkpoint(args.model)
    result = {"model": rules.model, "first_stage": list(rules.stages()[0])}
    for split in args.split:
        stored = json.loads((RESULTS / f"abstain_faces_{split}.json").read_text())
        assert stored["model"] == rules.model, f"records of {stored['model']}, rules of {rules.model}"
        result[split] = study(stored, args.data, detector, rules)
    result["scorer_note"] = detector.scorer_note  # chosen by the first crop scored
    return detector, result, args.split


def main(argv: list[str] | None = None) -> dict:
    detector, result, splits = rerun_stored(argv, __doc__.splitlines()[0], study_split)
    rows = []
    for split in splits:
        r = result[split]
        rows += [(f"{split}: final verdicts vs stored (staged rule)", f"{r['verdicts_changed_vs_stored']}/{r['faces_rerun']}", "expected 0"),
                 (f"{split}: pictures with copies reused", str(r["pictures_with_reuse"]), f"{r['forward_passes_saved']} forward passes saved"),
                 (f"{split}: verdicts changed by reuse", str(r["verdicts_changed_by_reuse"]), f"max P(fake) gap {r['max_p_fake_gap_by_reuse']:.1e}")]
    return report("reused_copies" if len(splits) == 2 else f"reused_copies_{splits[0]}", rows, result)

if __name__ == "__main__":
    main()
