"""Checkpoint I/O: a folder with model.safetensors + config.json. Never unpickles anything."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from detector.config import PROJECT_ROOT, ModelConfig
from detector.errors import CheckpointError
from detector.model import DeepfakeClassifier

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MODELS_DIR = PROJECT_ROOT / "assets" / "models"


def save_checkpoint(model: DeepfakeClassifier, config: ModelConfig, folder: str | Path) -> Path:
    """Write the weights and the config that describes them; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config.validate()
    state = {k: v.detach().cpu().contiguous() for k, v in model.backbone.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "name": config.name})
    (folder / CONFIG_FILE).write_text(config.to_json() + "\n", encoding="utf-8")
    return folder


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> DeepfakeClassifier:
    """Load a checkpoint folder into an eval-mode classifier, or raise CheckpointError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist")
    config = ModelConfig.load(folder / CONFIG_FILE)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing (only safetensors weights are loaded)")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights.name} is not a valid safetensors file ({exc})") from None
    try:
        model = DeepfakeClassifier(config)
    except Exception as exc:  # an unknown architecture name in a tampered config
        raise CheckpointError(f"cannot build architecture '{config.architecture}' ({exc})") from None
    expected = model.backbone.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]})")
        raise CheckpointError(f"{weights} does not match {config.architecture}: " + "; ".join(parts))
    model.backbone.load_state_dict(state, strict=True)
    return model.to(device).eval()


def list_checkpoints(root: str | Path = MODELS_DIR) -> list[Path]:
    """Model folders under root (those holding a config.json), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CONFIG_FILE).is_file())


def default_checkpoint() -> Path:
    found = list_checkpoints()
    if not found:
        raise CheckpointError(f"no model found under {MODELS_DIR}")
    preferred = [p for p in found if p.name == "dfx-lite0"]
    return preferred[0] if preferred else found[0]
