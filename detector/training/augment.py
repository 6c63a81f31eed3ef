"""Training augmentations for real-world media, on uint8 RGB arrays (OpenCV, one thread).

Everything a face goes through between a camera and a fact-checker's screen: flips, reframing,
colour shifts, grey-scale, blur and downscaling, JPEG re-compression at any quality, sensor
noise, a slight tilt. Blur and JPEG are applied to real and fake faces alike so that "blurry"
or "compressed" cannot become a shortcut for "fake".
"""

from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)


def random_resized_crop(image: np.ndarray, rng: np.random.Generator, size: int, scale=(0.75, 1.0)) -> np.ndarray:
    height, width = image.shape[:2]
    area = height * width * rng.uniform(*scale)
    aspect = np.exp(rng.uniform(np.log(0.9), np.log(1.1)))
    w = int(round(min(width, np.sqrt(area * aspect))))
    h = int(round(min(height, np.sqrt(area / aspect))))
    x = int(rng.integers(0, width - w + 1))
    y = int(rng.integers(0, height - h + 1))
    return cv2.resize(image[y : y + h, x : x + w], (size, size), interpolation=cv2.INTER_AREA)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101)


def color_jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 0.2) -> np.ndarray:
    out = image.astype(np.float32)
    out = out * rng.uniform(1 - strength, 1 + strength)  # brightness
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - strength, 1 + strength) + mean  # contrast
    gray = out.mean(axis=2, keepdims=True)
    out = (out - gray) * rng.uniform(1 - strength, 1 + strength) + gray  # saturation
    out = out + rng.uniform(-8, 8, size=3)  # white balance
    return np.clip(out, 0, 255).astype(np.uint8)


def grayscale(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Either a Gaussian blur or a down-then-up scale, the two ways detail gets lost."""
    if rng.random() < 0.5:
        sigma = rng.uniform(0.4, 1.6)
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    factor = rng.uniform(0.35, 0.9)
    small = cv2.resize(image, (max(8, int(width * factor)), max(8, int(height * factor))), interpolation=cv2.INTER_AREA)
    interpolation = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST][int(rng.integers(0, 3))]
    return cv2.resize(small, (width, height), interpolation=interpolation)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(2, 8)
    return np.clip(image.astype(np.float32) + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def photometric(image: np.ndarray, rng: np.random.Generator, p_rotate: float = 0.3, degrees: float = 10.0, p_jitter: float = 0.8,
                p_degrade: float = 0.4, p_noise: float = 0.2, p_jpeg: float = 0.6) -> np.ndarray:
    """The photometric steps after the crop (tilt, colour, grey-scale, detail loss, noise, JPEG), each with its chance."""
    if rng.random() < p_rotate:
        image = rotate(image, rng.uniform(-degrees, degrees))
    if rng.random() < p_jitter:
        image = color_jitter(image, rng)
    if rng.random() < 0.05:
        image = grayscale(image)
    if rng.random() < p_degrade:
        image = degrade(image, rng)
    if rng.random() < p_noise:
        image = noise(image, rng)
    if rng.random() < p_jpeg:
        image = jpeg(image, int(rng.integers(35, 96)))
    return np.ascontiguousarray(image)


def train_augment(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """The full training pipeline; returns a (size, size, 3) uint8 RGB array."""
    if rng.random() < 0.5:
        image = image[:, ::-1]
    return photometric(random_resized_crop(np.ascontiguousarray(image), rng, size), rng)


AUGMENTATIONS = [
    "hflip p=.5",
    "random resized crop scale .75-1 ratio .9-1.1",
    "rotation +-10 deg p=.3",
    "colour jitter (brightness/contrast/saturation .2, white balance) p=.8",
    "grayscale p=.05",
    "gaussian blur sigma .4-1.6 or down/up-scale x.35-.9 p=.4",
    "gaussian noise sigma 2-8 p=.2",
    "JPEG re-compression q35-95 p=.6",
]
