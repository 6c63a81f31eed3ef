"""Deepfake face detector: face finding, the classifier, checkpoint I/O and inference.

    from detector import Detector, load_image
    result = Detector().analyze(load_image("photo.jpg"))
"""

# First: sets the OpenMP wait policy, which only counts if it happens before torch is imported.
import detector.threads  # noqa: F401  isort: skip
from detector.config import ModelConfig
from detector.errors import CheckpointError, DetectorError, InputError
from detector.imageio import decode_image, load_image

__all__ = ["Detector", "ModelConfig", "CheckpointError", "DetectorError", "InputError", "decode_image", "load_image"]


def __getattr__(name: str):
    # Detector pulls in torch, timm and facenet-pytorch: import it only when asked for.
    if name == "Detector":
        from detector.inference import Detector

        return Detector
    raise AttributeError(name)
