"""Interpolate two checkpoints' weights (WiSE-FT, Wortsman et al. 2022) and pick the mix on validation.

    python -m detector.training.soup OLD NEW --alphas 0 0.25 0.5 0.75 1 --sources cache/sources \
        --root ../shared/data [--out runs/train/soup] [--version 2.0.0]

Fine-tuning on reframed pictures gains robustness but can lose some of what the start model knew
(in-domain DFDC). Averaging the start and fine-tuned weights, theta = (1 - a) * OLD + a * NEW,
often keeps most of both. Every mix is scored on the same reframed validation crops as training
(`detector.training.reframed`); the best mean AUC is calibrated on them and saved with `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from detector.training.reframed import (
    SourceBank,
    ValidationCrops,
    group_scene_report,
    per_set,
    save_calibrated,
    validation_logits,
    validation_report,
)
from detector.training.sources import sources_problem


def mix(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """(1 - alpha) * old + alpha * new for float tensors; integer buffers (counters) come from new."""
    return {k: (old[k] * (1 - alpha) + v * alpha) if v.is_floating_point() else v for k, v in new.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--val-per-stream", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="save the best mix here (calibrated on validation)")
    parser.add_argument("--version", default="2.0.0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--group-scenes", action="store_true",
                        help="also report each mix's real faces in validation group scenes (as the trainer's --group-scenes)")
    args = parser.parse_args(argv)
    problem = sources_problem(args.sources, args.root)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from detector.checkpoint import load_checkpoint

    old_model, new_model = load_checkpoint(args.old), load_checkpoint(args.new)
    if old_model.config.architecture != new_model.config.architecture:
        print("error: the two checkpoints have different architectures", file=sys.stderr)
        return 2
    config = new_model.config
    bank = SourceBank(args.sources, args.root, "val")
    crops = ValidationCrops(bank, config.input_size, config.crop_margin, args.val_per_stream, args.seed, group_scenes=args.group_scenes)
    likely_margin = config.band()[1] - config.threshold  # where the model's "likely manipulated" starts
    # Crops are made once and reused for every mix: they do not depend on the weights.
    cached = list(DataLoader(crops, batch_size=64, num_workers=args.workers))
    # Clones: state_dict() tensors are the live weights, which load_state_dict overwrites in place.
    old_state = {k: v.clone() for k, v in old_model.backbone.state_dict().items()}
    new_state = {k: v.clone() for k, v in new_model.backbone.state_dict().items()}
    results, best = {}, None
    for alpha in args.alphas:
        new_model.backbone.load_state_dict(mix(old_state, new_state, alpha))
        logits, indices = validation_logits(new_model, cached, torch.device("cpu"))
        report = validation_report(bank, logits, indices)
        results[alpha] = report
        scored = {"alpha": alpha, "val_auc": round(report["mean"], 4), **per_set(report)}
        if args.group_scenes:
            scored["val_group"] = group_scene_report(bank, logits, indices, likely_margin)
        print(json.dumps(scored), flush=True)
        if best is None or report["mean"] > results[best[0]]["mean"]:
            best = (alpha, logits, indices)
    alpha, logits, indices = best
    print(f"best alpha {alpha}: mean val AUC {results[alpha]['mean']:.4f}")
    if args.out:
        new_model.backbone.load_state_dict(mix(old_state, new_state, alpha))
        config.version = args.version
        config.training = {**config.training, "weight_mix": {"old": str(args.old), "new": str(args.new), "alpha": alpha,
                                                             "rule": "best mean validation AUC (plain + reframed crops)",
                                                             "candidates": {str(a): round(r["mean"], 4) for a, r in results.items()}}}
        save_calibrated(new_model, config, bank, logits, indices, args.out)
        (args.out / "soup.json").write_text(json.dumps({str(a): r for a, r in results.items()}, indent=1))
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
