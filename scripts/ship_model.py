"""Ship a calibrated checkpoint: score it on every shared test set, export those runs as the
reference runs (assets/runs) and write their headline numbers into the model's config.json.

    python -m scripts.ship_model MODEL_DIR [--limit N]

MODEL_DIR is normally under assets/models (scripts/ship_model.sh copies it there first). Runs are
also stored in the runs database. The weights are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from detector.checkpoint import CONFIG_FILE
from detector.config import PROJECT_ROOT
from detector.errors import DetectorError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--limit", type=int, help="at most N images per class per set (a trial, not a release)")
    args = parser.parse_args(argv)
    from detector.evaluation import suite
    from detector.evaluation.runs import REFERENCE_RUNS_DIR, RunStore
    from detector.inference import Detector

    if not suite.DATA.is_dir():
        print(f"error: the shared test sets are not at {suite.DATA}", file=sys.stderr)
        return 2
    model = args.model.resolve()
    os.chdir(PROJECT_ROOT)  # the runs store image paths relative to the project
    try:
        detector = Detector(model)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = RunStore()
    REFERENCE_RUNS_DIR.mkdir(parents=True, exist_ok=True)
    version = detector.config.version.replace("+", "-")
    tested = {}
    for name, run in suite.run_suite(detector, args.limit):
        store.add(run)
        slug = name.split(" ")[0].replace("/", "_")
        store.export_json(run.id, REFERENCE_RUNS_DIR / f"{detector.config.name}_{version}_{slug}.json")
        tested[name] = suite.summary(run)
        print(f"{name}: AUC {run.metrics['auc']:.4f}, accuracy {run.metrics['accuracy']:.4f}, n={run.metrics['n']}")
    config_path = model / CONFIG_FILE
    config = json.loads(config_path.read_text())
    config["metrics"]["test"] = tested
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
