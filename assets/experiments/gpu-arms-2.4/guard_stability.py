"""Which group-scene measure is steadier across validation samples: likely-manipulated share at the
Youden threshold, or share of group-scene reals above the q-quantile of plain+reframed real crops."""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from detector.checkpoint import load_checkpoint
from detector.training.reframed import (
    SourceBank,
    ValidationCrops,
    group_scene_report,
    validation_logits,
    validation_report,
)

bank = SourceBank(Path("cache/sources"), Path("../shared/data"), "val")
models = {"2.3.0": "assets/models/dfx-lite0", "cont": "runs/s12/cont/best", "mini": "runs/s12/mini/best"}
loaded = {k: load_checkpoint(Path(v)) for k, v in models.items()}
out = []
for seed in (int(s) for s in sys.argv[1:]):
    crops = list(DataLoader(ValidationCrops(bank, 288, 0.3, 150, seed, group_scenes=True), batch_size=64, num_workers=2))
    for name, model in loaded.items():
        logits, indices = validation_logits(model, crops, torch.device("cpu"))
        labels = np.array([bank.pictures[i].label for i in indices])
        g = group_scene_report(bank, logits, indices, 0.31)
        plain_reals = np.concatenate([logits[labels == 0, 0], logits[labels == 0, 1]])
        row = {"seed": seed, "model": name, "val_auc": round(validation_report(bank, logits, indices)["mean"], 4),
               "lm": g["reals_likely_manipulated"], "at_thr": g["reals_at_threshold"], "thr": g["threshold"]}
        for q in (0.9, 0.95):
            row[f"above_q{int(q*100)}"] = float((logits[labels == 0, 2] > np.quantile(plain_reals, q)).mean())
        print(json.dumps(row), flush=True)
