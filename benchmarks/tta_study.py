"""Test-time scoring study: does scoring a face from several views beat scoring its one crop?

    python -m benchmarks.tta_study score --split test --sets dfdc --conditions plain jpeg60 --limit 60 --out DIR
    python -m benchmarks.tta_study score --split val ... --out DIR      # validation cells: the recalibration data
    python -m scripts.recalibrate MODEL_DIR --sources cache/sources --root ../shared/data > CAL.jsonl
    python -m benchmarks.tta_study report DIR [--boot 1000] [--json FILE] [--calibration CAL.jsonl]

`score` runs the robustness suite's pictures (benchmarks.robustness: the same seeded items, reframings
and group scenes) through the app's own path (the Detector's MTCNN, crop policy and folded scorer) and
stores, for every face, the logits of 13 views in one list: the crop, its horizontal flip, and the
stability check's 11 changed copies (detector.stability.perturbed_crops, PERTURBATIONS order). One
forward pass set per face, so every variant below is judged on exactly the same faces.

`scripts.recalibrate` scores the trainer's own validation crops with the crop alone and with the
crop-and-mirror mean (config `tta` "none" / "flip") and prints per mode the trainer's calibration and
validation AUC; `report --calibration` judges the test cells at those thresholds too.

`report` turns the stored logits into one score per face under each variant (`VARIANTS`), a picture's
score being its most suspicious face as in the app. Per variant it recalibrates the way the trainer
does (detector.training.calibrate.calibration_summary: temperature, Youden threshold, uncertain band)
on the VALIDATION cells only, then reports per test cell the AUC and its paired bootstrap difference
to the plain crop (detector.evaluation.run_metrics.paired_auc_difference, as scripts/compare_runs), and
on the real-only group scenes the share of real faces at or above the threshold and above the band.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.robustness import CONDITIONS, GROUP_MIN_FACE, ONE_CLASS, TWO_CLASS, group_scenes, reframe, test_items
from detector.errors import DetectorError
from detector.faces import crop_face
from detector.imageio import load_image
from detector.stability import PERTURBATIONS, face_size, perturbed_crops

VIEWS = ("crop", "flip", *PERTURBATIONS)  # the order of a face's stored logits
COPIES = slice(2, 2 + len(PERTURBATIONS))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _prob_mean_logit(views: np.ndarray, temperature: float) -> float:
    """The mean of the views' calibrated probabilities, written back as a raw logit (T * logit(p))."""
    p = float(np.clip(_sigmoid(views / temperature).mean(), 1e-12, 1 - 1e-12))
    return temperature * float(np.log(p / (1 - p)))


# A face's 13 logits (VIEWS order) and the model's temperature -> one raw logit.
VARIANTS: dict[str, Callable[[np.ndarray, float], float]] = {
    "crop": lambda v, t: float(v[0]),
    "flip_logit_mean": lambda v, t: float(v[:2].mean()),
    "flip_prob_mean": lambda v, t: _prob_mean_logit(v[:2], t),
    "copies_logit_mean": lambda v, t: float(v[COPIES].mean()),
    "copies_logit_median": lambda v, t: float(np.median(v[COPIES])),
    "copies_prob_mean": lambda v, t: _prob_mean_logit(v[COPIES], t),
    "crop+copies_logit_mean": lambda v, t: float(np.concatenate([v[:1], v[COPIES]]).mean()),
}


# A config's tta mode (scripts.recalibrate's "tta") -> the study variant that scores faces the same way.
TTA_VARIANT = {"none": "crop", "flip": "flip_logit_mean"}


def face_views(detector, image: Image.Image, faces) -> np.ndarray:
    """(faces, 13) raw logits: every face's crop, its flip and its 11 changed copies, in shared passes."""
    size, margin = detector.config.input_size, detector.config.crop_margin
    inputs = []
    for face in faces:
        crop = crop_face(image, face.crop_box, size)
        inputs += [crop, crop.transpose(Image.FLIP_LEFT_RIGHT), *perturbed_crops(image, face, size, margin)]
    return detector.classify(inputs).reshape(len(faces), len(VIEWS)) if faces else np.zeros((0, len(VIEWS)), np.float32)


def score_cell(detector, items, set_name: str, condition: str, data: Path) -> list[dict]:
    """One record per picture (its faces' views), or per placed face in group scenes."""
    records = []
    if condition == "group":
        for index, (scene, placed) in enumerate(group_scenes(items, set_name)):
            faces = detector.face_finder.find(scene)
            for rect, label, path in placed:
                inside = [f for f in faces if rect[0] <= (f.box[0] + f.box[2]) / 2 <= rect[2] and rect[1] <= (f.box[1] + f.box[3]) / 2 <= rect[3]]
                chosen = [max(inside, key=lambda f: f.box[2] - f.box[0])] if inside else []
                views = face_views(detector, scene, chosen)
                records.append({"path": f"scene{index}:{Path(path).relative_to(data)}", "label": int(label),
                                "px": [round(face_size(f), 1) for f in chosen], "views": views.round(5).tolist()})
        return records
    for path, label in items:
        record = {"path": str(Path(path).relative_to(data)), "label": int(label), "px": [], "views": []}
        try:
            image = reframe(load_image(path), condition, record["path"])
            faces = detector.face_finder.find(image)
            record.update(px=[round(face_size(f), 1) for f in faces], views=face_views(detector, image, faces).round(5).tolist())
        except DetectorError as exc:
            record["error"] = str(exc)
        records.append(record)
    return records


def score(args: argparse.Namespace) -> int:
    from detector.inference import Detector

    detector = Detector(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    for set_name in args.sets:
        items = test_items(args.data, set_name, args.limit, args.split)
        # Real-only faces: group scenes, and (when asked) the same pictures alone, to tell the scene's part in a false alarm.
        conditions = [c for c in args.conditions if c in ("group", "plain")] or ["group"] if set_name == "real_groups" else args.conditions
        for condition in conditions:
            target = args.out / f"{args.split}_{set_name}_{condition}.json"
            if target.exists():
                continue  # a rerun resumes
            start = time.time()
            records = score_cell(detector, items, set_name, condition, args.data)
            cell = {"split": args.split, "set": set_name, "condition": condition, "limit": args.limit,
                    "model": f"{detector.config.name} {detector.config.version}", "temperature": detector.config.temperature,
                    "threshold": detector.config.threshold, "uncertain_margin": detector.config.uncertain_margin,
                    "views": list(VIEWS), "wall_s": round(time.time() - start, 1), "records": records}
            target.write_text(json.dumps(cell))
            print(f"{args.split} {set_name} @ {condition}: {len(records)} records, {time.time() - start:.0f} s", flush=True)
    return 0


def cell_logits(cell: dict, variant: str, min_px: float = 0.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labels, raw logits, paths) of a cell's scored records under a variant; a picture = its top face."""
    function, temperature = VARIANTS[variant], cell["temperature"]
    labels, logits, paths = [], [], []
    for record in cell["records"]:
        faces = [function(np.asarray(v, dtype=np.float64), temperature) for v, px in zip(record["views"], record["px"]) if px >= min_px]
        if faces:
            labels.append(record["label"])
            logits.append(max(faces))
            paths.append(record["path"])
    return np.array(labels, dtype=int), np.array(logits), paths


def load_cells(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def recalibrate(cells: list[dict], variant: str) -> dict:
    """The trainer's calibration (temperature, Youden threshold, band) on the pooled validation cells."""
    from detector.training.calibrate import calibration_summary

    # The real-only group scenes are a false-alarm check, not calibration data (they would tilt the classes).
    pooled = [cell_logits(c, variant)[:2] for c in cells if c["split"] == "val" and c["set"] != "real_groups"]
    labels = np.concatenate([p[0] for p in pooled])
    logits = np.concatenate([p[1] for p in pooled])
    return calibration_summary(labels, logits)


def report(args: argparse.Namespace) -> int:
    from sklearn.metrics import roc_auc_score

    from detector.evaluation.run_metrics import paired_auc_difference
    from detector.evaluation.runs import Run

    cells = load_cells(args.folder)
    tests = [c for c in cells if c["split"] == "test"]
    if not tests:
        print(f"error: no test cells in {args.folder}", file=sys.stderr)
        return 2
    has_val = any(c["split"] == "val" for c in cells)
    out: dict = {"calibration": {}, "auc": {}, "false_alarms": {}}
    for variant in VARIANTS:
        if has_val:
            out["calibration"][variant] = {k: v for k, v in recalibrate(cells, variant).items() if k in ("temperature", "threshold", "uncertain_margin", "n")}
    shipped = {"temperature": tests[0]["temperature"], "threshold": tests[0]["threshold"], "uncertain_margin": tests[0]["uncertain_margin"]}
    # scripts.recalibrate's output (one JSON line per tta mode): the trainer's own validation crops.
    trainer = {}
    for line in (args.calibration.read_text().splitlines() if args.calibration else []):
        if line.startswith("{") and '"tta"' in line:
            row = json.loads(line)
            trainer[TTA_VARIANT[row["tta"]]] = row
    out["trainer_calibration"] = trainer

    def as_run(cell: dict, variant: str) -> Run:
        labels, logits, paths = cell_logits(cell, variant)
        scores = [{"path": p, "label": int(y), "score": float(s)} for p, y, s in zip(paths, labels, logits)]
        return Run(cell["model"], variant, cell["set"], 0.5, {}, scores)

    for cell in tests:
        key = f"{cell['set']} @ {cell['condition']}"
        labels, _, _ = cell_logits(cell, "crop")
        if len(set(labels.tolist())) == 2:
            base = as_run(cell, "crop")
            row = {}
            for variant in VARIANTS:
                if variant == "crop":
                    row[variant] = {"auc": float(roc_auc_score(*cell_logits(cell, variant)[:2])), "n": len(labels)}
                    continue
                diff = paired_auc_difference(base, as_run(cell, variant), n_boot=args.boot, seed=0)
                row[variant] = {k: diff[k] for k in ("auc_b", "difference", "low", "high", "n")}
            for variant, cal in (("crop", shipped), *trainer.items()):
                y, logits, _ = cell_logits(cell, variant)
                called = _sigmoid(logits / cal["temperature"]) >= cal["threshold"]
                row[variant]["at_threshold" if variant != "crop" or cal is shipped else "unused"] = {
                    "recall": float(called[y == 1].mean()), "specificity": float(1 - called[y == 0].mean())}
            out["auc"][key] = row
        reals = [c for c in [cell] if c["condition"] == "group"]
        for c in reals:
            for variant in VARIANTS:
                rates = {}
                for name, cal in (("shipped", shipped), ("recalibrated", out["calibration"].get(variant)),
                                  ("trainer-val", trainer.get(variant))):
                    if cal is None or (name == "shipped" and variant != "crop"):
                        continue
                    for min_px in (0.0, float(GROUP_MIN_FACE)):
                        y, logits, _ = cell_logits(c, variant, min_px)
                        p = _sigmoid(logits[y == 0] / cal["temperature"])
                        rates[f"{name} >={min_px:.0f}px"] = {
                            "n_real": int(len(p)),
                            "at_or_above_threshold": float((p >= cal["threshold"]).mean()) if len(p) else None,
                            "likely_manipulated": float((p >= cal["threshold"] + cal["uncertain_margin"]).mean()) if len(p) else None,
                        }
                out["false_alarms"].setdefault(key, {})[variant] = rates
            if c["set"] == "real_groups":
                alone = next((a for a in tests if a["set"] == "real_groups" and a["condition"] == "plain"), None)
                out["flagged_real_faces"] = flagged_breakdown(c, "crop", shipped, alone)
    # Threshold-free false-alarm check: the real-only group faces against every fake face of the group cells.
    pooled = {"records": [r for c in tests if c["condition"] == "group" for r in c["records"]
                          if r["label"] == 1 or c["set"] == "real_groups"], "temperature": tests[0]["temperature"],
              "model": tests[0]["model"], "set": "real_groups vs group fakes"}
    if {r["label"] for r in pooled["records"]} == {0, 1}:
        base, row = as_run(pooled, "crop"), {}
        for variant in VARIANTS:
            if variant == "crop":
                row[variant] = {"auc": float(roc_auc_score(*cell_logits(pooled, variant)[:2])), "n": len(base.scores)}
                continue
            diff = paired_auc_difference(base, as_run(pooled, variant), n_boot=args.boot, seed=0)
            row[variant] = {k: diff[k] for k in ("auc_b", "difference", "low", "high", "n")}
        out["auc"]["real_groups reals vs group fakes"] = row
    print_tables(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


PX_BINS = (0, 100, 150, 200, 10_000)


def flagged_breakdown(cell: dict, variant: str, calibration: dict, alone: dict | None = None) -> dict:
    """Which real faces of a real-only group cell score at/above the threshold: by source set and face size,
    and (with `alone`, the same pictures' plain cell) whether the picture alone is flagged too."""
    labels, logits, paths = cell_logits(cell, variant)
    px = {r["path"]: r["px"][0] for r in cell["records"] if r["px"]}
    p = _sigmoid(logits / calibration["temperature"])
    flagged = p >= calibration["threshold"]
    sources = np.array([path.split(":", 1)[1].split("/")[0] for path in paths])
    sizes = np.array([px[path] for path in paths])
    by_source = {name: {"n": int((sources == name).sum()), "flagged": int(flagged[sources == name].sum()),
                        "median_p": round(float(np.median(p[sources == name])), 3)} for name in sorted(set(sources))}
    by_size = {}
    for low, high in zip(PX_BINS, PX_BINS[1:]):
        inside = (sizes >= low) & (sizes < high)
        by_size[f"{low}-{high} px"] = {"n": int(inside.sum()), "flagged": int(flagged[inside].sum())}
    top = sorted(zip(p[flagged], np.array(paths)[flagged], sizes[flagged]), reverse=True)[:15]
    scene_part = {}
    if alone is not None:
        _, alone_logits, alone_paths = cell_logits(alone, variant)
        by_path = dict(zip(alone_paths, _sigmoid(alone_logits / calibration["temperature"])))
        pairs = [(g, by_path[path.split(":", 1)[1]]) for g, path in zip(p, paths) if path.split(":", 1)[1] in by_path]
        group_p, alone_p = np.clip(np.array(pairs, dtype=np.float64).T, 1e-7, 1 - 1e-7)
        group_flag, alone_flag = group_p >= calibration["threshold"], alone_p >= calibration["threshold"]
        scene_part = {"n_paired": len(pairs), "flagged_in_scene": int(group_flag.sum()), "flagged_alone": int(alone_flag.sum()),
                      "flagged_in_both": int((group_flag & alone_flag).sum()),
                      "median_logit_shift_scene_minus_alone": round(float(np.median(
                          calibration["temperature"] * (np.log(group_p / (1 - group_p)) - np.log(alone_p / (1 - alone_p))))), 3)}
    return {"by_source": by_source, "by_size": by_size, "scene_vs_alone": scene_part,
            "most_suspicious": [{"path": path, "p": round(float(q), 3), "px": float(s)} for q, path, s in top]}


def print_tables(out: dict) -> None:
    variants = list(VARIANTS)
    if out["calibration"]:
        print("recalibrated on validation (temperature, threshold, band, n):")
        for v, c in out["calibration"].items():
            print(f"  {v:<24} T {c['temperature']:.3f}  thr {c['threshold']:.4f}  band {c['uncertain_margin']:.2f}  n {c['n']}")
    print("\n| cell | crop AUC | " + " | ".join(v for v in variants[1:]) + " |")
    print("|---|---|" + "---|" * (len(variants) - 1))
    for key, row in out["auc"].items():
        cells = [f"{row['crop']['auc']:.3f}"] + [f"{row[v]['difference']:+.3f} [{row[v]['low']:+.3f}, {row[v]['high']:+.3f}]" for v in variants[1:]]
        print(f"| {key} (n {row['crop']['n']}) | " + " | ".join(cells) + " |")
    rows = [(key, v, r[v]["at_threshold"]) for key, r in out["auc"].items() for v in r if "at_threshold" in r[v]]
    if rows:
        print("\nrecall / specificity at each variant's threshold (crop: shipped; others: scripts.recalibrate's):")
        for key, v, m in rows:
            print(f"  {key:<36} {v:<18} recall {m['recall']:.3f}  specificity {m['specificity']:.3f}")
    print("\nreal faces at/above threshold | above the band ('likely manipulated'):")
    for key, by_variant in out["false_alarms"].items():
        if key.startswith("real_groups"):
            for v, rates in by_variant.items():
                text = "  ".join(f"{name}: {r['at_or_above_threshold']:.3f} | {r['likely_manipulated']:.3f} (n {r['n_real']})" for name, r in rates.items())
                print(f"  {key} {v:<24} {text}")
    if "flagged_real_faces" in out:
        print("\nreal faces of the real-only group scenes at/above the shipped threshold (plain crop), by source and size:")
        for group in ("by_source", "by_size"):
            for name, row in out["flagged_real_faces"][group].items():
                print(f"  {name:<28} {row}")
        print(f"  the same pictures alone: {out['flagged_real_faces']['scene_vs_alone']}")
        for row in out["flagged_real_faces"]["most_suspicious"]:
            print(f"  {row['p']:.3f}  {row['px']:6.1f} px  {row['path']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("score", help="store every face's 13 view logits per cell")
    run.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    run.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    run.add_argument("--split", default="test", choices=("val", "test"))
    run.add_argument("--sets", nargs="*", default=[*TWO_CLASS, *ONE_CLASS, "real_groups"])
    run.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=CONDITIONS)
    run.add_argument("--limit", type=int, default=60, help="at most N pictures per class and set (seeded)")
    run.add_argument("--out", type=Path, required=True)
    rep = sub.add_parser("report", help="variants' AUC, paired differences and false alarms from stored cells")
    rep.add_argument("folder", type=Path)
    rep.add_argument("--boot", type=int, default=1000)
    rep.add_argument("--json", type=Path)
    rep.add_argument("--calibration", type=Path, help="scripts.recalibrate's output: also judge false alarms at its thresholds")
    args = parser.parse_args(argv)
    if args.command == "score":
        if not args.data.is_dir():
            print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
            return 2
        return score(args)
    return report(args)


if __name__ == "__main__":
    raise SystemExit(main())
