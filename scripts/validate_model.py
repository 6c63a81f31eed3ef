"""Validation AUC of a checkpoint on the same subset that a training run validated on.

    python -m scripts.validate_model MODEL_DIR [--cache cache/crops] [--max-per-set 800] [--seed 2]

Training picks `--val-max-per-set` images per set with `--seed`, so two runs with different seeds
validate on different DFDC subsets. Use this to score an earlier model on a later run's subset before
comparing their validation AUCs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.checkpoint import load_checkpoint
from detector.errors import DetectorError
from detector.training.crops import evaluate_validation, validation_sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("cache/crops"))
    parser.add_argument("--max-per-set", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = sorted(p.name for p in args.cache.glob("*") if (p / "val" / "index.json").is_file())
    if not names:
        print(f"error: no prepared validation crops under {args.cache} (run python -m detector.training.prepare)", file=sys.stderr)
        return 2
    try:
        model = load_checkpoint(args.model).eval()
    except (DetectorError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate_validation(model, validation_sets(args.cache, names, args.max_per_set, args.seed))
    print(json.dumps({"model": str(args.model), "val_auc": round(result["auc_mean"], 4),
                      "val_auc_per_set": {k: round(v["auc"], 4) for k, v in result["per_set"].items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
