"""Calibrate a checkpoint on validation crops and write the result into its config.json.

    python -m detector.calibrate MODEL_DIR --cache cache/crops

Fits temperature scaling (Guo et al. 2017) on the pooled validation logits, picks the decision
threshold by Youden's J on the calibrated scores, and derives the "uncertain" band from the
same data: the narrowest band around the threshold outside which validation accuracy reaches
TARGET_ACCURACY. detector.train runs the same steps for every new best checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from detector.checkpoint import CONFIG_FILE, load_checkpoint
from detector.config import ModelConfig

TARGET_ACCURACY = 0.90
MAX_MARGIN = 0.25


def uncertain_margin(labels: np.ndarray, probs: np.ndarray, threshold: float, target: float = TARGET_ACCURACY) -> float:
    """Smallest m such that faces with |p - threshold| >= m are classified with accuracy >= target."""
    distance = np.abs(probs - threshold)
    correct = (probs >= threshold).astype(int) == labels
    for margin in np.arange(0.0, MAX_MARGIN + 1e-9, 0.01):
        outside = distance >= margin
        if outside.sum() >= 0.3 * len(labels) and correct[outside].mean() >= target:
            return float(round(margin, 2))
    return MAX_MARGIN


def calibration_summary(labels: np.ndarray, logits: np.ndarray) -> dict:
    from detector.run_metrics import expected_calibration_error
    from detector.train import fit_temperature, youden_threshold

    temperature = fit_temperature(labels, logits)
    raw = 1 / (1 + np.exp(-logits))
    calibrated = 1 / (1 + np.exp(-logits / temperature))
    threshold = youden_threshold(labels, calibrated)
    return {
        "temperature": temperature,
        "threshold": threshold,
        "uncertain_margin": uncertain_margin(labels, calibrated, threshold),
        "ece_before": expected_calibration_error(labels, raw),
        "ece_after": expected_calibration_error(labels, calibrated),
        "n": int(len(labels)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Calibrate a checkpoint on validation crops.")
    parser.add_argument("model", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("cache/crops"))
    parser.add_argument("--val-max-per-set", type=int, default=1200)
    args = parser.parse_args(argv)
    from detector.train import evaluate_validation, validation_sets

    model = load_checkpoint(args.model)
    config: ModelConfig = model.config
    names = sorted(config.training.get("data", {})) or None
    val = validation_sets(args.cache, names or sorted(p.name for p in args.cache.iterdir()), args.val_max_per_set, seed=0)
    if not val:
        print(f"error: no validation crops under {args.cache}", file=sys.stderr)
        return 2
    result = evaluate_validation(model, val)
    summary = calibration_summary(result["_labels"], result["_logits"])
    config.temperature, config.threshold, config.uncertain_margin = summary["temperature"], summary["threshold"], summary["uncertain_margin"]
    config.training["calibration"] = {
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()},
        "method": "temperature scaling on pooled validation logits; threshold by Youden J; "
                  f"uncertain band = narrowest band outside which validation accuracy >= {TARGET_ACCURACY}",
        "val_sets": list(val),
    }
    (args.model / CONFIG_FILE).write_text(config.to_json() + "\n", encoding="utf-8")
    print(json.dumps(config.training["calibration"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
