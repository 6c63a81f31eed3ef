"""Shared fixtures. Everything here is generated or bundled: no test needs ../shared/data
unless it says so and skips with the reason when it is absent."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import detector.threads  # noqa: E402,F401  before any test imports torch: sets the OpenMP wait policy

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLES = ROOT / "assets" / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.open(SAMPLES / "astronaut.jpg").convert("RGB")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An ImageNet-initialised classifier with a fresh head: real architecture, untrained head."""
    import torch

    from detector.checkpoint import save_checkpoint
    from detector.config import ModelConfig
    from detector.model import new_classifier

    torch.manual_seed(0)
    config = ModelConfig(name="test-model", version="0.0.1", threshold=0.5)
    folder = tmp_path_factory.mktemp("ckpt") / "test-model"
    save_checkpoint(new_classifier(config), config, folder)
    return folder


@pytest.fixture(scope="session")
def detector(tiny_checkpoint):
    from detector.inference import Detector

    return Detector(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def shipped_detector():
    from detector.inference import Detector

    return Detector(device="cpu")


def face_folder(root: Path, astronaut: Image.Image, n: int = 3) -> Path:
    """A tiny labelled set: real = crops of the astronaut photo, fake = the self-blended sample."""
    fake = Image.open(SAMPLES / "astronaut_selfblended.jpg").convert("RGB")
    rng = np.random.default_rng(0)
    for label, source in (("real", astronaut), ("fake", fake)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            dx, dy = rng.integers(0, 40, size=2)
            source.crop((100 + dx, 0 + dy, 340 + dx, 240 + dy)).save(root / label / f"{label}{i}.jpg", quality=90)
    return root


@pytest.fixture()
def tiny_set(tmp_path, astronaut) -> Path:
    return face_folder(tmp_path / "tiny", astronaut)


@pytest.fixture(autouse=True)
def _keep_main_module():
    """AppTest runs page scripts as `__main__`; a later test that starts a spawn Pool (detector.training.prepare)
    would have its workers re-import that vanished script, die at start and be re-spawned for ever."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
