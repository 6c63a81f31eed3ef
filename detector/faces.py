"""Find faces with MTCNN and cut them out with the one crop policy the whole project uses.

Crop policy (app, CLIs, training and evaluation alike): take MTCNN's box, make it a square
whose side is the box's longest side times (1 + margin), centred on the box; if that square
does not fit in the picture, shrink it to the picture's short side and slide it inside. The
crop is never padded, so a picture that is already a tight face crop (the DFDC set) crops to
(nearly) the whole picture, the same thing its face-crop fallback gives.

Fallback: when MTCNN finds no face in a picture that looks like a face crop already (near
square, at most FALLBACK_MAX_SIDE pixels), the centred square of the whole picture is used as
one face with `fallback=True`, so a caller can say that no face was actually detected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from detector.limits import DETECT_MAX_SIDE

CROP_MARGIN = 0.3
MIN_FACE_PROB = 0.90
FALLBACK_MAX_SIDE = 1024
FALLBACK_MAX_ASPECT = 1.25


@dataclass
class Face:
    """One face in a picture, in the picture's own pixel coordinates."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 from MTCNN (or the whole picture)
    prob: float  # MTCNN's face probability; 0.0 for a fallback
    landmarks: np.ndarray | None  # (5, 2): eyes, nose, mouth corners; None for a fallback
    crop_box: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))
    fallback: bool = False

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "face_prob": round(float(self.prob), 4),
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 1).tolist(),
            "crop_box": list(self.crop_box),
            "fallback": self.fallback,
        }

    @property
    def turn(self) -> float | None:
        """How far the head is turned sideways, from the five landmarks (`head_turn`); None for a fallback."""
        return None if self.landmarks is None else head_turn(self.landmarks)


def head_turn(landmarks: np.ndarray) -> float:
    """A yaw proxy from MTCNN's five points: where the nose sits between the eyes, after undoing the roll.

    0 for a frontal face; +-1 when the nose is level with one eye (about a half-profile); beyond 1 when it
    passes the eye. Signed: negative when the nose is nearer the left eye of the picture. It needs no 3-D
    model, so it is only a proxy, but the same one for every face the app and its benchmarks see."""
    points = np.asarray(landmarks, dtype=np.float64)
    left_eye, right_eye, nose = points[0], points[1], points[2]
    axis = right_eye - left_eye
    distance = float(np.hypot(*axis))
    if distance < 1e-6:
        return 0.0
    # Position of the nose along the eye line, in half eye-distances from the eyes' midpoint.
    along = float(np.dot(nose - (left_eye + right_eye) / 2.0, axis / distance))
    return along / (distance / 2.0)


def square_crop_box(
    box: tuple[float, float, float, float], image_size: tuple[int, int], margin: float = CROP_MARGIN
) -> tuple[int, int, int, int]:
    """The crop policy: a square of side max(w, h)·(1+margin), kept inside the picture."""
    width, height = image_size
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    side = int(round(min(side, width, height)))
    side = max(side, 1)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left = int(round(min(max(cx - side / 2.0, 0), width - side)))
    top = int(round(min(max(cy - side / 2.0, 0), height - side)))
    return left, top, left + side, top + side


def crop_face(image: Image.Image, crop_box: tuple[int, int, int, int], size: int) -> Image.Image:
    """Cut the crop box out and resize it to the model's input size (antialiased)."""
    return image.crop(crop_box).resize((size, size), Image.BICUBIC, reducing_gap=3.0)


def landmarks_in_crop(
    landmarks: np.ndarray | None, crop_box: tuple[int, int, int, int], size: int
) -> np.ndarray | None:
    """Map picture-space landmarks into the coordinates of the resized crop."""
    if landmarks is None:
        return None
    left, top, right, _ = crop_box
    scale = size / max(right - left, 1)
    return (np.asarray(landmarks, dtype=np.float32) - [left, top]) * scale


def _looks_like_a_face_crop(size: tuple[int, int]) -> bool:
    width, height = size
    return max(width, height) <= FALLBACK_MAX_SIDE and max(width, height) / min(width, height) <= FALLBACK_MAX_ASPECT


def fallback_face(image_size: tuple[int, int]) -> Face:
    width, height = image_size
    box = (0.0, 0.0, float(width), float(height))
    return Face(box=box, prob=0.0, landmarks=None, crop_box=square_crop_box(box, image_size, 0.0), fallback=True)


class FaceFinder:
    """MTCNN from facenet-pytorch (weights ship inside its wheel), with our crop policy."""

    def __init__(
        self,
        device: str | torch.device = "cpu",
        detect_max_side: int = DETECT_MAX_SIDE,
        min_face_size: int = 20,
        min_prob: float = MIN_FACE_PROB,
        margin: float = CROP_MARGIN,
        fallback: str = "auto",
    ) -> None:
        from facenet_pytorch import MTCNN  # imported here: it pulls in a lot at start-up

        if fallback not in ("auto", "always", "never"):
            raise ValueError("fallback must be 'auto', 'always' or 'never'")
        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device=device, post_process=False)
        self.detect_max_side = detect_max_side
        self.min_prob = min_prob
        self.margin = margin
        self.fallback = fallback

    def find(self, image: Image.Image) -> list[Face]:
        """All faces in an RGB picture, largest first; maybe one fallback face (see module doc)."""
        scale = min(1.0, self.detect_max_side / max(image.size))
        small = image if scale == 1.0 else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR
        )
        with torch.inference_mode():
            boxes, probs, points = self.mtcnn.detect(small, landmarks=True)
        faces: list[Face] = []
        if boxes is not None:
            for box, prob, lm in zip(boxes, probs, points):
                if prob is None or float(prob) < self.min_prob:
                    continue
                box = tuple(float(v) / scale for v in box)
                box = _clip_box(box, image.size)
                if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                    continue
                faces.append(
                    Face(
                        box=box,
                        prob=float(prob),
                        landmarks=np.asarray(lm, dtype=np.float32) / scale,
                        crop_box=square_crop_box(box, image.size, self.margin),
                    )
                )
        faces.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
        if not faces and (self.fallback == "always" or (self.fallback == "auto" and _looks_like_a_face_crop(image.size))):
            faces.append(fallback_face(image.size))
        return faces


def _clip_box(box: tuple[float, ...], size: tuple[int, int]) -> tuple[float, float, float, float]:
    width, height = size
    x1, y1, x2, y2 = box
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))
