"""Self-blended images (Shiohara & Yamasaki, CVPR 2022): synthetic fakes made from real faces.

A real face is blended with a colour- and geometry-shifted copy of itself inside a soft,
warped face mask. The result carries the traces every face swap leaves (a blending boundary,
colour and frequency mismatch) without any particular generator's fingerprint, which is what
helps a detector generalise to manipulations it never saw.

MTCNN gives only five landmarks, whose hull covers just the centre of the face, so the mask
is an ellipse fitted to the landmarks (eyes, nose, mouth corners), scaled out to the cheeks
and forehead, then elastically warped and blurred.
"""

from __future__ import annotations

import cv2
import numpy as np

from detector.training.augment import color_jitter

cv2.setNumThreads(1)


def face_ellipse(landmarks: np.ndarray | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """A filled float mask (size, size) of an ellipse over the face, randomly scaled."""
    if landmarks is None:
        # Our crop policy centres the face box with a 30 % margin: the face fills ~77 % of the crop.
        center = np.array([size / 2, size / 2 + size * 0.03])
        axes = np.array([size * 0.32, size * 0.40])
        angle = 0.0
    else:
        lm = np.asarray(landmarks, dtype=np.float32)
        eyes, nose, mouth = lm[:2], lm[2], lm[3:]
        eye_mid, mouth_mid = eyes.mean(axis=0), mouth.mean(axis=0)
        eye_distance = float(np.linalg.norm(eyes[1] - eyes[0])) or size * 0.25
        vertical = float(np.linalg.norm(mouth_mid - eye_mid)) or size * 0.25
        # Brows to chin is about 2.9x the eye-mouth distance, cheek to cheek about 2.1x the eye distance.
        center = (eye_mid + mouth_mid) / 2.0 + (nose - (eye_mid + mouth_mid) / 2.0) * 0.3
        axes = np.array([eye_distance * 1.05, vertical * 1.45])
        dx, dy = eyes[1] - eyes[0]
        angle = float(np.degrees(np.arctan2(dy, dx)))
    axes = axes * rng.uniform(0.85, 1.15, size=2)
    mask = np.zeros((size, size), dtype=np.float32)
    cv2.ellipse(
        mask,
        (int(round(center[0])), int(round(center[1]))),
        (max(4, int(axes[0])), max(4, int(axes[1]))),
        angle,
        0,
        360,
        1.0,
        thickness=-1,
    )
    return mask


def elastic_warp(mask: np.ndarray, rng: np.random.Generator, alpha: float = 12.0, sigma: float = 10.0) -> np.ndarray:
    size = mask.shape[0]
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), sigma) * alpha * sigma / 4
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), sigma) * alpha * sigma / 4
    grid_x, grid_y = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return cv2.remap(mask, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def blend_mask(landmarks: np.ndarray | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """Warped, blurred ellipse in [0, 1], scaled by a random blend ratio."""
    mask = elastic_warp(face_ellipse(landmarks, size, rng), rng)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(2.0, 8.0))
    peak = mask.max()
    if peak > 0:
        mask = mask / peak
    return mask * rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def shifted_copy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 'source' face: colour, sharpness and a small scale/translation changed."""
    size = image.shape[0]
    source = color_jitter(image, rng, strength=0.15)
    if rng.random() < 0.5:
        source = cv2.GaussianBlur(source, (0, 0), rng.uniform(0.5, 1.5))
    else:
        blurred = cv2.GaussianBlur(source, (0, 0), 1.0)
        source = np.clip(source.astype(np.float32) * 1.6 - blurred.astype(np.float32) * 0.6, 0, 255).astype(np.uint8)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, size=2) * size
    matrix = np.array([[scale, 0, (1 - scale) * size / 2 + shift[0]], [0, scale, (1 - scale) * size / 2 + shift[1]]], dtype=np.float32)
    return cv2.warpAffine(source, matrix, (size, size), borderMode=cv2.BORDER_REFLECT_101)


def self_blend(image: np.ndarray, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A self-blended fake from one real (size, size, 3) uint8 face crop."""
    size = image.shape[0]
    mask = blend_mask(landmarks, size, rng)[:, :, None]
    source = shifted_copy(image, rng).astype(np.float32)
    blended = source * mask + image.astype(np.float32) * (1.0 - mask)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
