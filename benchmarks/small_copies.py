"""Would scoring the stability check's copies at a smaller input change what the check decides? (issue 16's cost)

    python -m benchmarks.small_copies [--model assets/models/dfx-lite0] [--data ../shared/data] [--sizes 224 256]

dfx-lite0 2.3.0 takes 288 px inputs; each changed copy at 224 px would cost about (224/288)^2 = 0.6 of a 288 px
one. The face's own score stays at the model's size. This re-runs the pictures whose per-face records
`scripts.measure_abstain faces` stored (benchmarks/results/abstain_faces_{val,test}.json: each picture and its
screenshot copy) as benchmarks/int8_copies.py does: the app's face finder and score pick the most suspicious face,
its 11 copies are built at the model's size and at each smaller size (the same cut-outs, resized to the smaller
side) and scored by the same weights (an ONNX graph exported per size in memory), and each record is judged again
with the shipped rules. Adoption rule, as for int8 copies: at most 1 final verdict changed per split (validation
and test) against the model-size copies of the same run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import RESULTS, report
from benchmarks.fewer_copies import verdicts
from benchmarks.int8_copies import with_copies
from detector.scoring import to_input
from detector.stability import PERTURBATIONS, AbstainRules, perturbed_crops
from scripts.measure_abstain import screenshot_copy, selective


def record_image(record: dict, data: Path) -> Image.Image:
    folder = "fake" if record["label"] else "real"
    original = Image.open(data / record["set"] / record["split"] / folder / record["file"]).convert("RGB")
    return original if record["kind"] == "original" else screenshot_copy(original)


def rescored(record: dict, data: Path, detector, scorers: dict) -> dict | None:
    """P(fake) of the most suspicious face and of its copies at every size (size -> 11 values), re-run."""
    if record["face"] is None:
        return None
    image = record_image(record, data)
    faces = detector.analyze(image).faces
    if not faces:
        return None
    worst = max(faces, key=lambda f: f.p_fake)
    config = detector.config
    out = {"p_fake": worst.p_fake}
    for size, scorer in scorers.items():
        crops = perturbed_crops(image, worst.face, size, config.crop_margin)
        logits = detector.classify(crops) if scorer is None else scorer.logits(to_input(crops).numpy())
        out[size] = detector.p_fake_from_logits(logits)
    return out


def study_split(stored: dict, data: Path, detector, scorers: dict, rules: AbstainRules) -> dict:
    threshold, full = stored["threshold"], detector.config.input_size
    records = [{**r, "split": stored["split"]} for r in stored["records"]]
    by_size = {size: [] for size in scorers}
    gaps = {size: [] for size in scorers if size != full}
    for record in records:
        run = rescored(record, data, detector, scorers)
        for size in scorers:
            by_size[size].append(record if run is None else with_copies(record, run[size]))
            if run is not None and size != full:
                gaps[size].append(np.abs(run[size] - run[full]))
    judged = {size: verdicts(part, rules, threshold, PERTURBATIONS) for size, part in by_size.items()}
    stored_v = verdicts(records, rules, threshold, PERTURBATIONS)
    out = {"records": len(records), "changed_model_size_vs_stored": sum(a != b for a, b in zip(stored_v, judged[full]))}
    for size in gaps:
        gap = np.concatenate(gaps[size])
        out[str(size)] = {
            "p_fake_gap": {"mean": float(gap.mean()), "p95": float(np.quantile(gap, 0.95)), "max": float(gap.max())},
            "verdicts_changed": sum(a != b for a, b in zip(judged[full], judged[size])),
            "changes": [{"file": r["file"], "kind": r["kind"], "label": r["label"], "model_size": a, "smaller": b}
                        for r, a, b in zip(records, judged[full], judged[size]) if a != b],
            "selective": selective(by_size[size], rules, threshold),
        }
    out["selective_model_size"] = selective(by_size[full], rules, threshold)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("assets/models/dfx-lite0"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 256])
    parser.add_argument("--limit", type=int, help="only the first N records per split (a smoke run; not a result)")
    args = parser.parse_args(argv)
    from detector.inference import Detector
    from detector.runtime import onnx_scorer

    detector = Detector(args.model)
    assert detector.config.tta == "none", "this study scores single crops; a tta model needs its views here"
    rules = AbstainRules.for_checkpoint(args.model)
    rules.first_stage = None  # every record judged on all 11 copies
    scorers = {detector.config.input_size: None}
    for size in args.sizes:
        scorers[size], note = onnx_scorer(detector.scorer, size)
        assert scorers[size] is not None, note
    result = {"model": rules.model, "sizes": args.sizes}
    for split in ("val", "test"):
        stored = json.loads((RESULTS / f"abstain_faces_{split}.json").read_text())
        assert stored["model"] == rules.model, f"records of {stored['model']}, rules of {rules.model}"
        stored["records"] = stored["records"][:args.limit]
        result[split] = study_split(stored, args.data, detector, scorers, rules)
    rows = []
    for split in ("val", "test"):
        r = result[split]
        rows.append((f"{split}: model-size copies vs stored", f"{r['changed_model_size_vs_stored']}/{r['records']}", "changed (re-run check)"))
        for size in args.sizes:
            s = r[str(size)]
            rows.append((f"{split}: copies at {size} px", f"{s['verdicts_changed']}/{r['records']}",
                         f"changed (rule: <= 1); P(fake) gap mean {s['p_fake_gap']['mean']:.3f}, p95 {s['p_fake_gap']['p95']:.3f}"))
    return report("small_copies", rows, result)


if __name__ == "__main__":
    main()
