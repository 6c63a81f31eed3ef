"""Would an int8 scorer for the stability check's copies change what the check decides? (issue 16's cost)

    python -m benchmarks.int8_copies [--model assets/models/dfx-lite0] [--data ../shared/data] [--per-stream 8]

Builds the int8 graph as `scripts.quantize_copies` does (validation crops only, nothing written), then re-runs
the pictures whose per-face records `scripts.measure_abstain faces` stored (benchmarks/results/
abstain_faces_{val,test}.json: each picture and its screenshot copy): the app's face finder and fp32 score pick
the most suspicious face as there, its 11 changed copies are scored by the fp32 graph and by the int8 graph, and
each record is judged again (detector.stability.judge, the model's abstain.json) with the int8 copies. The face's
own score stays the fp32 one. Reported per split: logit gaps int8 vs fp32 on the copies, how many final verdicts
change against the stored records and against this run's fp32 copies, and the share given a verdict / accuracy
of those. Adoption rule, stated before measuring: at most 1 final verdict changed on validation and on test,
accuracy of the verdicts given not lower, and the app's check at <= 2.0x idle in benchmarks.bench_stability.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import RESULTS, report
from benchmarks.fewer_copies import verdicts
from detector.scoring import to_input
from detector.stability import PERTURBATIONS, AbstainRules, perturbed_crops
from scripts.measure_abstain import screenshot_copy, selective


def rescored(record: dict, data: Path, detector, int8) -> dict | None:
    """(fp32 and int8 logits of the most suspicious face's copies, its score) for one stored record, re-run."""
    if record["face"] is None:
        return None
    folder = "fake" if record["label"] else "real"
    original = Image.open(data / record["set"] / record["split"] / folder / record["file"]).convert("RGB")
    image = original if record["kind"] == "original" else screenshot_copy(original)
    faces = detector.analyze(image).faces
    if not faces:
        return None
    worst = max(faces, key=lambda f: f.p_fake)
    crops = perturbed_crops(image, worst.face, detector.config.input_size, detector.config.crop_margin)
    return {"p_fake": worst.p_fake, "fp32": detector.classify(crops), "int8": int8.logits(to_input(crops).numpy())}


def with_copies(record: dict, p_fake: np.ndarray) -> dict:
    """The stored record with its copies' P(fake) replaced (the face's own score and the rest kept)."""
    return {**record, "face": {**record["face"], "copies": dict(zip(PERTURBATIONS, map(float, p_fake)))}}


def study_split(stored: dict, data: Path, detector, int8, rules: AbstainRules) -> dict:
    """Verdicts and selective prediction of one split's records with fp32 and with int8 copies."""
    threshold = stored["threshold"]
    records = [{**r, "split": stored["split"]} for r in stored["records"]]
    fp32_records, int8_records, gaps, own_gap = [], [], [], []
    for record in records:
        run = rescored(record, data, detector, int8)
        if run is None:
            fp32_records.append(record)
            int8_records.append(record)
            continue
        gaps.append(np.abs(run["int8"] - run["fp32"]))
        own_gap.append(abs(run["p_fake"] - record["face"]["p_fake"]))
        fp32_records.append(with_copies(record, detector.p_fake_from_logits(run["fp32"])))
        int8_records.append(with_copies(record, detector.p_fake_from_logits(run["int8"])))
    stored_v, fp32_v, int8_v = (verdicts(r, rules, threshold, PERTURBATIONS) for r in (records, fp32_records, int8_records))
    gap = np.concatenate(gaps)
    return {
        "records": len(records), "faces_rescored": len(gaps),
        "face_p_fake_vs_stored_max": float(max(own_gap)),
        "logit_gap": {"mean": float(gap.mean()), "median": float(np.median(gap)), "p95": float(np.quantile(gap, 0.95)),
                      "max": float(gap.max())},
        "changed_vs_stored": {"fp32 copies": sum(a != b for a, b in zip(stored_v, fp32_v)),
                              "int8 copies": sum(a != b for a, b in zip(stored_v, int8_v))},
        "changed_int8_vs_fp32_rerun": sum(a != b for a, b in zip(fp32_v, int8_v)),
        "changes": [{"file": r["file"], "kind": r["kind"], "label": r["label"], "stored": a, "int8": b}
                    for r, a, b in zip(records, stored_v, int8_v) if a != b],
        "selective": {name: selective(part, rules, threshold) for name, part in
                      (("stored", records), ("fp32 copies", fp32_records), ("int8 copies", int8_records))},
    }


def adopted(result: dict) -> bool:
    """The verdict part of the pre-stated rule (the timing part is benchmarks.bench_stability's)."""
    def holds(split: dict) -> bool:
        before, after = split["selective"]["stored"]["accuracy_given"], split["selective"]["int8 copies"]["accuracy_given"]
        return split["changed_vs_stored"]["int8 copies"] <= 1 and after is not None and after >= before
    return all(holds(result[s]) for s in ("val", "test"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("assets/models/dfx-lite0"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--per-stream", type=int, default=8)
    parser.add_argument("--format", choices=("qdq", "qoperator"), default="qdq")
    args = parser.parse_args(argv)
    from detector.inference import Detector
    from detector.runtime import OnnxScorer
    from scripts.quantize_copies import build

    graph, evidence = build(args.model, args.sources, args.data, args.per_stream, 0, args.format,
                            RESULTS / "abstain_faces_val.json")
    detector = Detector(args.model)
    assert detector.config.tta == "none", "this study scores single crops; a tta model needs its views here"
    rules = AbstainRules.for_checkpoint(args.model)
    int8 = OnnxScorer(graph, threading.RLock())
    result = {"model": rules.model, "quantization": evidence, "scorer_note": detector.scorer_note}
    for split in ("val", "test"):
        stored = json.loads((RESULTS / f"abstain_faces_{split}.json").read_text())
        assert stored["model"] == rules.model, f"records of {stored['model']}, rules of {rules.model}"
        result[split] = study_split(stored, args.data, detector, int8, rules)
    result["verdict_rule_holds"] = adopted(result)
    rows = []
    for split in ("val", "test"):
        r = result[split]
        sel = r["selective"]
        rows += [(f"{split}: logit gap int8 vs fp32 (copies)", f"{r['logit_gap']['mean']:.3f}", f"median {r['logit_gap']['median']:.3f}, "
                  f"p95 {r['logit_gap']['p95']:.3f}, max {r['logit_gap']['max']:.3f}"),
                 (f"{split}: final verdicts changed", f"{r['changed_vs_stored']['int8 copies']}/{r['records']}",
                  f"fp32 re-run: {r['changed_vs_stored']['fp32 copies']}; rule: <= 1"),
                 (f"{split}: given / accuracy, stored", f"{100 * sel['stored']['coverage']:.1f} %", f"{100 * sel['stored']['accuracy_given']:.1f} %"),
                 (f"{split}: given / accuracy, int8 copies", f"{100 * sel['int8 copies']['coverage']:.1f} %",
                  f"{100 * sel['int8 copies']['accuracy_given']:.1f} %")]
    rows.append(("verdict part of the adoption rule", "holds" if result["verdict_rule_holds"] else "FAILS", ""))
    return report("int8_copies", rows, result)


if __name__ == "__main__":
    main()
