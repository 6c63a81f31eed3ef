"""How faithful a map is: deletion and insertion curves (Petsiuk et al., 2018)."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.metrics import auc
from torch import nn

from xai.base import FAKE, face_array, p_fake_of_crops


def _curve(model: nn.Module, face: np.ndarray, heatmap: np.ndarray, target: int, steps: int, insert: bool) -> tuple[np.ndarray, np.ndarray]:
    """P(target) as the most important pixels are removed (deletion) or revealed (insertion) first.

    Removed pixels are replaced by a strongly blurred face, not black, so the curve measures
    the evidence in the pixels rather than the shock of a black hole.
    """
    face = face_array(face)
    blurred = cv2.GaussianBlur(face, (0, 0), 10.0)
    order = np.argsort(-heatmap.ravel(), kind="stable")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    batch = []
    for fraction in fractions:
        mask = np.zeros(heatmap.size, dtype=bool)
        mask[order[: int(round(fraction * heatmap.size))]] = True
        mask = mask.reshape(heatmap.shape)[..., None]
        batch.append(np.where(mask, face, blurred) if insert else np.where(mask, blurred, face))
    p_fake = p_fake_of_crops(model, np.stack(batch).astype(np.uint8))
    scores = p_fake if target == FAKE else 1.0 - p_fake
    return fractions, scores


def deletion_curve(model, face, heatmap, target: int = FAKE, steps: int = 20):
    return _curve(model, face, heatmap, target, steps, insert=False)


def insertion_curve(model, face, heatmap, target: int = FAKE, steps: int = 20):
    return _curve(model, face, heatmap, target, steps, insert=True)


def curve_area(fractions: np.ndarray, scores: np.ndarray) -> float:
    """Area under a deletion or insertion curve (trapezoids, as sklearn.metrics.auc)."""
    return float(auc(fractions, scores))


def deletion_auc(model, face, heatmap, target: int = FAKE, steps: int = 20) -> float:
    """Area under the deletion curve: lower = the map found the evidence faster."""
    return curve_area(*deletion_curve(model, face, heatmap, target, steps))


def insertion_auc(model, face, heatmap, target: int = FAKE, steps: int = 20) -> float:
    """Area under the insertion curve: higher = the map found the evidence faster."""
    return curve_area(*insertion_curve(model, face, heatmap, target, steps))


def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of the model with every layer re-initialised (Adebayo et al. 2018's sanity check)."""
    import copy

    import torch

    clone = copy.deepcopy(model)
    torch.manual_seed(seed)
    for module in clone.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return clone.eval()


def rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation between two maps (1 = same ordering of pixels)."""
    from scipy.stats import spearmanr

    value = spearmanr(np.ravel(a), np.ravel(b))[0]
    return float(0.0 if np.isnan(value) else value)


# Sanity check pass mark (Adebayo et al. 2018 show maps side by side and report rank correlations, without a
# fixed cut): a map passes when its Spearman similarity to the map from the randomised model is below 0.5,
# i.e. less than half of its ranking survives once the learnt weights are gone.
SANITY_MAX_SIMILARITY = 0.5
SANITY_CRITERION = (f"Pass: the map's rank similarity (Spearman) to the same map from the randomised model is below "
                    f"{SANITY_MAX_SIMILARITY}, so it depends on what the model learnt, not only on the picture's edges and colours. "
                    "Fail: the map looks about the same without the learnt weights, so it mostly shows the picture.")


def sanity_outcome(similarity: float) -> str:
    return "pass" if abs(similarity) < SANITY_MAX_SIMILARITY else "fail"


def agreement_matrix(maps: dict[str, np.ndarray]):
    """Method x method Spearman rank correlation of their maps, as a DataFrame."""
    import pandas as pd

    names = list(maps)
    values = [[rank_similarity(maps[a], maps[b]) for b in names] for a in names]
    return pd.DataFrame(values, index=names, columns=names)
