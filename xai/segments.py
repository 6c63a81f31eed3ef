"""Superpixels shared by LIME and SHAP, so their maps speak about the same regions."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import slic


def superpixels(face: np.ndarray, n_segments: int = 50, compactness: float = 10.0) -> np.ndarray:
    """SLIC superpixels of an (H, W, 3) uint8 face: (H, W) int labels from 0."""
    return slic(face, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=-1)


def region_means(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Replace every pixel by the mean of its superpixel."""
    sums = np.bincount(segments.ravel(), weights=values.ravel())
    counts = np.maximum(np.bincount(segments.ravel()), 1)
    return (sums / counts)[segments]
