"""Recalibrate a checkpoint for a way of scoring faces (config `tta`), on the trainer's validation crops.

    python -m scripts.recalibrate MODEL_DIR --sources cache/sources --root ../shared/data [--tta none flip]
        [--write flip]

Test-time views change the score distribution, so a model's temperature, threshold and uncertain band
must be chosen again under the views it will be scored with. This scores the same validation crops the
trainer and `detector.training.soup` calibrate on (`ValidationCrops`: each validation picture's face,
plain and reframed; `--seed`/`--val-per-stream` as there) under each `--tta` mode, and runs the trainer's
calibration (`calibration_summary`: temperature scaling, Youden threshold, band) on each. `--write MODE`
then sets `tta`, `temperature`, `threshold` and `uncertain_margin` of MODEL_DIR/config.json (weights
untouched), records the calibration under training.calibration, and clears `fake_margin` (chosen on the
old scores; run scripts.set_fake_margin again). Validation data only: never test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from detector.checkpoint import CONFIG_FILE, load_checkpoint
from detector.config import TTA_MODES
from detector.training.sources import sources_problem


class MirrorMean(torch.nn.Module):
    """A model scored as Detector.classify scores with tta "flip": the mean logit of each crop and its mirror."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.model(x) + self.model(x.flip(3))) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--tta", nargs="+", default=list(TTA_MODES), choices=TTA_MODES)
    parser.add_argument("--val-per-stream", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0, help="validation crops' seed (the trainer's --val-seed)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--write", choices=TTA_MODES, help="write this mode's calibration into MODEL/config.json")
    args = parser.parse_args(argv)
    if args.write and args.write not in args.tta:
        args.tta.append(args.write)
    problem = sources_problem(args.sources, args.root)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from detector.training.calibrate import calibration_summary
    from detector.training.reframed import SourceBank, ValidationCrops, per_set, validation_logits, validation_report

    model = load_checkpoint(args.model)
    config = model.config
    bank = SourceBank(args.sources, args.root, "val")
    if not bank.pictures:
        print(f"error: no validation pictures under {args.root} for {args.sources}", file=sys.stderr)
        return 2
    cached = list(DataLoader(ValidationCrops(bank, config.input_size, config.crop_margin, args.val_per_stream, args.seed),
                             batch_size=64, num_workers=args.workers))
    results, exact = {}, {}
    for mode in args.tta:
        logits, indices = validation_logits(MirrorMean(model) if mode == "flip" else model, cached, torch.device("cpu"))
        labels = np.array([bank.pictures[i].label for i in indices])
        # Plain and reframed crops pooled, as detector.training.reframed.save_calibrated does.
        summary = calibration_summary(np.concatenate([labels, labels]), np.concatenate([logits[:, 0], logits[:, 1]]).astype(np.float64))
        exact[mode] = summary
        results[mode] = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
        report = validation_report(bank, logits, indices)
        print(json.dumps({"tta": mode, **results[mode], "val_auc": round(report["mean"], 4), "val_auc_per_set": per_set(report)}), flush=True)
    if args.write:
        chosen = results[args.write]
        config.tta, config.temperature = args.write, exact[args.write]["temperature"]
        config.threshold, config.uncertain_margin = exact[args.write]["threshold"], exact[args.write]["uncertain_margin"]
        config.training = {**config.training, "calibration": {
            **chosen, "tta": args.write, "method": "scripts.recalibrate: temperature scaling on pooled validation logits "
            f"(plain + reframed crops, ValidationCrops seed {args.seed}, {args.val_per_stream} per stream) scored with "
            f"tta={args.write}; threshold by Youden J"}}
        stale_margin = config.fake_margin is not None
        config.fake_margin = None  # chosen on the old scores: scripts.set_fake_margin must choose it again
        config.validate()
        (args.model / CONFIG_FILE).write_text(config.to_json() + "\n", encoding="utf-8")
        print(f"wrote {args.model / CONFIG_FILE}" + ("; fake_margin was reset: rerun scripts.set_fake_margin" if stale_margin else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
