"""The configuration that travels with a checkpoint (config.json beside model.safetensors)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from detector.errors import CheckpointError

CONFIG_VERSION = 1
# How a face crop is scored (test-time views): "none" = the crop alone; "flip" = the mean of the logits of the
# crop and its horizontal mirror (one pass of twice the crops). The threshold and temperature in the same
# config must have been calibrated on validation logits scored the same way (benchmarks/tta_study.py).
TTA_MODES = ("none", "flip")
# The repository root (app.py, assets/, runs/): stored paths are made relative to it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ModelConfig:
    """Everything needed to use a checkpoint; nothing of it is re-declared in the app."""

    name: str = "dfx-lite0"
    version: str = "0.0.0"
    architecture: str = "tf_efficientnet_lite0"
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    labels: tuple[str, str] = ("real", "fake")  # index = label value; the logit is for labels[1]
    threshold: float = 0.5  # P(fake) at or above this is called fake
    # Half-width of the "uncertain" band around the threshold, in probability.
    uncertain_margin: float = 0.1
    # How far above the threshold a face must score to be called fake ("likely manipulated"), when that
    # differs from uncertain_margin: chosen so that at most a budget of real faces in validation group
    # scenes reach it (scripts/set_fake_margin.py). None: the band is symmetric.
    fake_margin: float | None = None
    # Temperature applied to the logit before the sigmoid (1.0 = uncalibrated).
    temperature: float = 1.0
    crop_margin: float = 0.3
    tta: str = "none"  # test-time views, one of TTA_MODES; absent from config.json = "none"
    # Layers an explainer may look at, shallow to deep: shown name -> module path inside the timm
    # backbone (e.g. {"stage 3": "layer3"}). Empty: derived from the architecture (detector.model).
    cam_layers: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # data summary, seed, epochs, augmentations
    metrics: dict = field(default_factory=dict)  # headline test metrics per data set
    # The 8-bit graph the stability check's copies may be scored with (scripts/quantize_copies.py): its file,
    # SHA-256, the weights' SHA-256 it was built from and its calibration evidence. Empty: none.
    copies_int8: dict = field(default_factory=dict)
    config_version: int = CONFIG_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        if not data["cam_layers"]:
            del data["cam_layers"]  # derived from the architecture; keeps existing config.json files as they are
        if data["fake_margin"] is None:
            del data["fake_margin"]  # a symmetric band; likewise
        if data["tta"] == "none":
            del data["tta"]  # the default: a config without test-time views stays as it was written
        if not data["copies_int8"]:
            del data["copies_int8"]  # likewise: no int8 copies graph
        return json.dumps(data, indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        if not isinstance(data, dict):
            raise CheckpointError("config.json must hold a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise CheckpointError(f"config.json has unknown keys: {sorted(unknown)}")
        for key in ("architecture", "input_size", "mean", "std", "labels", "threshold"):
            if key not in data:
                raise CheckpointError(f"config.json lacks the required key '{key}'")
        config = cls(**data)
        config.mean, config.std, config.labels = tuple(config.mean), tuple(config.std), tuple(config.labels)
        config.validate()
        return config

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def validate(self) -> None:
        problems = []
        if not isinstance(self.input_size, int) or not 32 <= self.input_size <= 1024:
            problems.append("input_size must be an integer in [32, 1024]")
        for key in ("mean", "std"):
            value = getattr(self, key)
            if len(value) != 3 or not all(isinstance(v, (int, float)) for v in value):
                problems.append(f"{key} must be three numbers")
        if any(isinstance(v, (int, float)) and v <= 0 for v in self.std):
            problems.append("std must be positive")
        if len(self.labels) != 2:
            problems.append("labels must name exactly two classes")
        if not isinstance(self.threshold, (int, float)) or not 0.0 < self.threshold < 1.0:
            problems.append("threshold must be a probability in (0, 1)")
        if self.fake_margin is not None and (not isinstance(self.fake_margin, (int, float)) or not 0.0 <= self.fake_margin < 1.0):
            problems.append("fake_margin must be null or a probability distance in [0, 1)")
        if not isinstance(self.temperature, (int, float)) or self.temperature <= 0:
            problems.append("temperature must be positive")
        if self.tta not in TTA_MODES:
            problems.append(f"tta must be one of {list(TTA_MODES)}")
        if not isinstance(self.cam_layers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in self.cam_layers.items()):
            problems.append("cam_layers must map layer names to module paths")
        if not isinstance(self.copies_int8, dict):
            problems.append("copies_int8 must be an object")
        if problems:
            raise CheckpointError("config.json is inconsistent: " + "; ".join(problems))

    def explained_class(self, p_fake: float, other: bool = False) -> int:
        """The class a map explains: the predicted one (1 = fake at or above the threshold, 0 = real),
        or the other one when asked. Every page, the report and the benchmarks use this rule."""
        predicted = 1 if p_fake >= self.threshold else 0
        return 1 - predicted if other else predicted

    def band(self) -> tuple[float, float]:
        """(low, high): real at or below low, fake at or above high, uncertain in between."""
        above = self.uncertain_margin if self.fake_margin is None else self.fake_margin
        return self.threshold - self.uncertain_margin, self.threshold + above

    def band_words(self) -> str:
        """The uncertain band as a reader sees it, for captions, reports and model cards."""
        if self.fake_margin is None:
            return f"within ±{self.uncertain_margin:.2f} of the threshold {self.threshold:.2f}"
        low, high = self.band()
        return f"from {low:.2f} to {high:.2f} (threshold {self.threshold:.2f})"

    def verdict(self, p_fake: float) -> str:
        """'fake', 'real' or 'uncertain' (inside the band, see band())."""
        low, high = self.band()
        if p_fake >= high:
            return self.labels[1]
        if p_fake <= low:
            return self.labels[0]
        return "uncertain"
