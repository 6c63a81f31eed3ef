"""Evaluate a model on every test set in ../shared/data with the app's pipeline, store the runs,
and (with --ship) export them as the reference runs and write the numbers into the model's config.

    python -m benchmarks.eval_model [--model assets/models/dfx-lite0] [--limit N] [--ship]

Targets for the shipped model: ROC AUC >= 0.90 on dfdc/test, >= 0.98 on each StyleGAN test split.
sd21_faces has fakes only; it is scored against the reals of both StyleGAN test splits (FFHQ and
Unsplash portraits), and the run's data name says so.
"""

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import ROOT, report

DATA = ROOT.parent / "shared" / "data"
TARGETS = {"dfdc/test": 0.90, "stylegan1_ffhq/test": 0.98, "stylegan2_unsplash/test": 0.98}


def test_sets(limit: int | None) -> dict[str, list]:
    from detector.evaluate import resolve_items, subsample

    def rel(items):  # paths relative to the repo root, so a fresh clone beside shared/ finds the files
        return [(Path("..") / p.relative_to(ROOT.parent), label) for p, label in items]

    sets = {}
    for name in ("dfdc", "stylegan1_ffhq", "stylegan2_unsplash"):
        if (DATA / name / "test").is_dir():
            sets[f"{name}/test"] = rel(subsample(resolve_items(DATA / name, "test"), limit))
    if (DATA / "sd21_faces" / "test").is_dir():
        fakes = resolve_items(DATA / "sd21_faces", "test")
        reals = [it for n in ("stylegan1_ffhq", "stylegan2_unsplash") for it in resolve_items(DATA / n, "test") if it[1] == 0]
        sets["sd21_faces/test + reals of stylegan1_ffhq/test and stylegan2_unsplash/test"] = rel(subsample(fakes + reals, limit))
    return sets


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "models" / "dfx-lite0")
    parser.add_argument("--limit", type=int, help="at most N images per class per set")
    parser.add_argument("--ship", action="store_true", help="export reference runs to assets/runs and metrics to config.json")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not on this machine")
        return None
    import os

    from detector.checkpoint import CONFIG_FILE
    from detector.evaluate import build_run, score_images
    from detector.inference import Detector
    from detector.runs import REFERENCE_RUNS_DIR, RunStore

    os.chdir(ROOT)
    detector = Detector(args.model)
    store = RunStore()
    results, rows = {}, []
    for name, items in test_sets(args.limit).items():
        start = time.time()
        records = score_images(detector, items)
        run = build_run(detector, name, records, {"split": "test", "limit": args.limit, "wall_s": round(time.time() - start, 1)})
        store.add(run)
        m = run.metrics
        results[name] = {k: m.get(k) for k in ("auc", "accuracy", "precision", "recall", "f1", "specificity", "average_precision",
                                               "log_loss", "eer", "n", "n_fallback", "n_unscored", "time_mean_s", "time_p95_s")}
        results[name]["run_id"] = run.id
        target = TARGETS.get(name)
        rows.append((f"{name[:40]} AUC", f"{m['auc']:.4f}", f"target >= {target}" if target else "no target (not a held-out generator)"))
        rows.append((f"{name[:40]} accuracy", f"{m['accuracy']:.4f}", f"n={m['n']}, fallbacks {m['n_fallback']}"))
        if args.ship:
            REFERENCE_RUNS_DIR.mkdir(parents=True, exist_ok=True)
            slug = name.split(" ")[0].replace("/", "_")
            version = detector.config.version.replace("+", "-")
            store.export_json(run.id, REFERENCE_RUNS_DIR / f"{detector.config.name}_{version}_{slug}.json")
    if args.ship:
        config_path = args.model / CONFIG_FILE
        config = json.loads(config_path.read_text())
        config["metrics"]["test"] = {name: {k: v for k, v in r.items() if k != "run_id"} for name, r in results.items()}
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    return report(f"eval_{detector.config.name}_{detector.config.version}".replace("+", "_"), rows, {"model": str(args.model), "results": results})


if __name__ == "__main__":
    main()
