"""Evaluate a model on every shared test set in ../shared/data with the app's pipeline and store
the runs (see detector.evaluation.suite). Shipping the model is a separate step: scripts.ship_model.

    python -m benchmarks.eval_model [--model assets/models/dfx-lite0] [--limit N]
"""

import argparse
from pathlib import Path

from benchmarks.common import ROOT, report


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "models" / "dfx-lite0")
    parser.add_argument("--limit", type=int, help="at most N images per class per set")
    args = parser.parse_args(argv)
    import os

    from detector.evaluation import suite
    from detector.evaluation.runs import RunStore
    from detector.inference import Detector

    if not suite.DATA.is_dir():
        print(f"skipped: {suite.DATA} is not on this machine")
        return None
    os.chdir(ROOT)
    detector = Detector(args.model)
    store = RunStore()
    results, rows = {}, []
    for name, run in suite.run_suite(detector, args.limit):
        store.add(run)
        m = run.metrics
        results[name] = {**suite.summary(run), "run_id": run.id}
        target = suite.TARGETS.get(name)
        rows.append((f"{name[:40]} AUC", f"{m['auc']:.4f}", f"target >= {target}" if target else "no target (not a held-out generator)"))
        rows.append((f"{name[:40]} accuracy", f"{m['accuracy']:.4f}", f"n={m['n']}, fallbacks {m['n_fallback']}"))
    return report(f"eval_{detector.config.name}_{detector.config.version}".replace("+", "_"), rows, {"model": str(args.model), "results": results})


if __name__ == "__main__":
    main()
