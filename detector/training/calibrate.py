"""Calibrate a checkpoint on validation crops and write the result into its config.json.

    python -m detector.training.calibrate MODEL_DIR --cache cache/crops

Fits temperature scaling (Guo et al. 2017) on the pooled validation logits, picks the decision
threshold by Youden's J on the calibrated scores, and derives the "uncertain" band from the
same data: the narrowest band around the threshold outside which validation accuracy reaches
TARGET_ACCURACY. It also reports the share of real validation faces called "likely manipulated" with
that band, and the band a FALSE_ALARM_BUDGET would need (a report, not a rule: for dfx-lite0 2.1.0 the
budget was out of reach at the widest band, which only moved faces into "can't tell").
detector.training.train runs the same steps for every new best checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_curve

from detector.checkpoint import CONFIG_FILE, load_checkpoint
from detector.config import ModelConfig
from detector.evaluation.evaluate import expected_calibration_error
from detector.scoring import calibrated_probability
from detector.training.crops import evaluate_validation, validation_sets

TARGET_ACCURACY = 0.90
FALSE_ALARM_BUDGET = 0.02
MAX_MARGIN = 0.25


def _smallest_margin(holds, largest: float = MAX_MARGIN) -> float:
    """The smallest margin on a 0.01 grid up to `largest` for which holds(margin) is true; `largest` if none."""
    return next((step / 100 for step in range(int(round(largest * 100)) + 1) if holds(step / 100)), largest)


def uncertain_margin(labels: np.ndarray, probs: np.ndarray, threshold: float, target: float = TARGET_ACCURACY) -> float:
    """Smallest m such that faces with |p - threshold| >= m are classified with accuracy >= target."""
    distance = np.abs(probs - threshold)
    correct = (probs >= threshold).astype(int) == labels

    def holds(margin: float) -> bool:
        # At least 30 % of the faces must keep a verdict, or a wide band "wins" by judging almost nothing.
        outside = distance >= margin
        return bool(outside.sum() >= 0.3 * len(labels) and correct[outside].mean() >= target)

    return _smallest_margin(holds)


def false_alarm_margin(
    labels: np.ndarray, probs: np.ndarray, threshold: float, budget: float = FALSE_ALARM_BUDGET, largest: float = MAX_MARGIN
) -> float:
    """Smallest m such that at most `budget` of the real faces score >= threshold + m (`largest` if none does)."""
    reals = probs[labels == 0]
    return _smallest_margin(lambda margin: len(reals) == 0 or bool((reals >= threshold + margin).mean() <= budget), largest)


def youden_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    fpr, tpr, thresholds = roc_curve(labels, probs)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.01, 0.99))


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017) on validation logits, by LBFGS on the NLL."""
    log_t = torch.zeros(1, requires_grad=True)
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x / log_t.exp().double(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = log_t.exp().item()
    # A fit that did not converge to a number (non-finite logits) leaves the scores as they are.
    return float(np.clip(temperature, 0.05, 20.0)) if np.isfinite(temperature) else 1.0


def calibration_summary(labels: np.ndarray, logits: np.ndarray) -> dict:
    temperature = fit_temperature(labels, logits)
    raw = calibrated_probability(logits)
    calibrated = calibrated_probability(logits, temperature)
    threshold = youden_threshold(labels, calibrated)
    margin = uncertain_margin(labels, calibrated, threshold)
    for_budget = false_alarm_margin(labels, calibrated, threshold)
    reals = calibrated[labels == 0]
    return {
        "temperature": temperature,
        "threshold": threshold,
        "uncertain_margin": margin,
        "val_false_alarm_rate": float((reals >= threshold + margin).mean()) if len(reals) else None,
        "false_alarm_budget": FALSE_ALARM_BUDGET,
        "margin_for_false_alarm_budget": for_budget,
        "val_false_alarm_rate_at_that_margin": float((reals >= threshold + for_budget).mean()) if len(reals) else None,
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
