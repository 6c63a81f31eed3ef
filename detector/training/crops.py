"""The crop cache written by detector.training.prepare, and scoring a model on its validation crops.

Shared by training (model selection), calibration and scripts.validate_model, so all three score
the same crops the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, roc_auc_score
from torch import nn

from detector.scoring import batched_logits, calibrated_probability, to_input


@dataclass
class CropSet:
    """One dataset split from the crop cache."""

    name: str
    crops: np.ndarray  # memmap (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) 0 real / 1 fake
    landmarks: list

    @classmethod
    def load(cls, cache: Path, name: str, split: str) -> CropSet | None:
        folder = cache / name / split
        if not (folder / "index.json").is_file():
            return None
        records = json.loads((folder / "index.json").read_text())["records"]
        crops = np.load(folder / "crops.npy", mmap_mode="r")
        labels = np.array([r["label"] for r in records], dtype=np.int64)
        landmarks = [None if r["landmarks"] is None else np.array(r["landmarks"], np.float32) for r in records]
        return cls(name, crops, labels, landmarks)


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1], channels_last in memory, on the CPU."""
    return to_input(batch, "cpu", channels_last=True)


def predict_set(model: nn.Module, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Raw logits for a stack of crops, no augmentation."""
    model.eval()
    return batched_logits(model, crops, batch_size, channels_last=True)


def validation_sets(cache: Path, names: list[str], max_per_set: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-set (crops, labels); a fakes-only set is paired with the reals of the portrait sets."""
    rng = np.random.default_rng(seed)
    loaded = {n: s for n in names if (s := CropSet.load(cache, n, "val")) is not None}
    out = {}
    for name, crop_set in loaded.items():
        index = np.arange(len(crop_set.labels))
        if len(index) > max_per_set:
            index = np.sort(rng.choice(index, max_per_set, replace=False))
        crops, labels = np.asarray(crop_set.crops[index]), crop_set.labels[index]
        if labels.min() == labels.max():
            reals = [(np.asarray(s.crops[s.labels == 0]), s.labels[s.labels == 0]) for n, s in loaded.items() if n != "dfdc" and (s.labels == 0).any()]
            if not reals:
                continue
            crops = np.concatenate([crops] + [r[0] for r in reals])
            labels = np.concatenate([labels] + [r[1] for r in reals])
        out[name] = (crops, labels)
    return out


def evaluate_validation(model: nn.Module, val: dict) -> dict:
    result = {"per_set": {}}
    all_labels, all_logits = [], []
    for name, (crops, labels) in val.items():
        logits = predict_set(model, crops)
        probs = calibrated_probability(logits)
        result["per_set"][name] = {
            "auc": float(roc_auc_score(labels, probs)),
            "accuracy": float(accuracy_score(labels, probs >= 0.5)),
            "n": int(len(labels)),
        }
        all_labels.append(labels)
        all_logits.append(logits)
    labels, logits = np.concatenate(all_labels), np.concatenate(all_logits)
    probs = calibrated_probability(logits)
    result["auc_pooled"] = float(roc_auc_score(labels, probs))
    result["auc_mean"] = float(np.mean([v["auc"] for v in result["per_set"].values()]))
    result["accuracy"] = float(accuracy_score(labels, probs >= 0.5))
    result["loss"] = float(nn.functional.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(labels, dtype=torch.float64)).item())
    result["_labels"], result["_logits"] = labels, logits
    return result
