"""LIME over SLIC superpixels: lime's own surrogate fit, with perturbations built in bulk.

lime's image explainer with its defaults (quickshift, 1000 samples, batches of 10, hidden regions
filled with their mean colour) takes 20-50 s per face on a laptop CPU. This one keeps lime's
algorithm (random on/off masks over superpixels, cosine distance, exponential kernel, ridge fit
by `lime_base.LimeBase`) and changes three things, each measured in benchmarks/bench_lime.py:

- SLIC superpixels (~40 regions) computed once, instead of quickshift;
- hidden regions show a blurred copy of the face rather than a flat mean colour: a blurred region
  still looks like a face to the model, so each sample asks "does the detail here matter?" and
  far fewer samples give a map at least as faithful (deletion AUC) as the defaults';
- the on/off masks follow a two-level orthogonal design (columns of a Sylvester-Hadamard matrix,
  as in design of experiments) instead of coin flips: every region is hidden in exactly half the
  samples and any two regions are hidden together exactly a quarter of the time, so the ridge fit
  can tell regions apart with as many samples as a random design needs ~2-3x more for
  (`design="random"` and `design="paired"`, random masks followed by their complements as in
  KernelSHAP, are kept for comparison);
- the perturbed faces are made with one vectorised `np.where` per batch, not a Python loop over
  regions per sample.
"""

from __future__ import annotations

import cv2
import numpy as np
from lime import lime_base
from scipy.linalg import hadamard
from sklearn.metrics import pairwise_distances
from torch import nn

from xai.base import FAKE, Explainer, p_fake_of_crops, signed_map
from xai.segments import superpixels
from xai.settings import Setting

HIDE_MODES = ("blur", "mean")
# Perturbed faces built and scored at once, by pixel count: 3 faces at 288 px (4 at 224). A model scored
# by torch holds every layer's activations for the whole batch: at 288 px batches of 10 added ~360 MB to
# the peak, batches of 3 ~120 MB, no slower on a CPU (a Detector's own model goes through ONNX Runtime
# instead, in runs of 2: see xai.base.p_fake_of_crops; this still bounds the faces held at once).
BATCH_PIXELS = 3 * 288 * 288
DESIGNS = ("orthogonal", "paired", "random")


def hidden_face(face: np.ndarray, segments: np.ndarray, hide: str) -> np.ndarray:
    """What a switched-off superpixel shows: a blurred face, or (lime's default) its mean colour."""
    if hide == "blur":
        return cv2.GaussianBlur(face, (0, 0), 10.0)
    if hide == "mean":
        flat = face.reshape(-1, 3).astype(np.float64)
        counts = np.maximum(np.bincount(segments.ravel()), 1)[:, None]
        means = np.stack([np.bincount(segments.ravel(), weights=flat[:, c]) for c in range(3)], axis=1) / counts
        return means[segments].round().astype(np.uint8)
    raise ValueError(f"unknown hide mode {hide!r}; choose from {HIDE_MODES}")


def lime_kernel(kernel_width: float):
    """lime_image's kernel: sqrt(exp(-d^2 / width^2)) on the cosine distance to the full face."""
    return lambda distances: np.sqrt(np.exp(-(distances**2) / kernel_width**2))


def orthogonal_masks(rng: np.random.RandomState, samples: int, regions: int) -> np.ndarray:
    """Blocks of a Hadamard matrix of the next power-of-two order above `regions`, each block with a
    random choice of its non-constant columns (sign-flipped after the first block, which keeps the
    all-ones row: the face itself). Within a block, columns are balanced and pairwise orthogonal;
    fewer samples than the order keep only the block's first rows (nearly, not exactly, orthogonal)."""
    order = 1 << int(np.ceil(np.log2(regions + 1)))
    matrix, blocks = hadamard(order), []
    for block in range(-(-samples // order)):
        columns = matrix[:, 1 + rng.permutation(order - 1)[:regions]]
        if block:
            columns = columns * rng.choice([-1, 1], regions)
        blocks.append((columns + 1) // 2)
    return np.concatenate(blocks)[:samples]


def sample_masks(rng: np.random.RandomState, samples: int, regions: int, design: str = "orthogonal") -> np.ndarray:
    """(samples, regions) 0/1 masks, row 0 all ones (the face itself), as lime_image draws them.
    random: coin flips (lime's own); paired: the second half holds the complements of the first
    (row 0's complement hides all); orthogonal: see `orthogonal_masks`."""
    if design == "orthogonal":
        masks = orthogonal_masks(rng, samples, regions)
    elif design == "paired":
        half = rng.randint(0, 2, ((samples + 1) // 2, regions))
        half[0] = 1
        masks = np.concatenate([half, 1 - half])[:samples]
    elif design == "random":
        masks = rng.randint(0, 2, (samples, regions))
    else:
        raise ValueError(f"unknown mask design {design!r}; choose from {DESIGNS}")
    masks[0] = 1
    return masks


def batch_faces(face: np.ndarray, batch_size: int | None = None) -> int:
    """Perturbed faces per batch: `batch_size`, or by pixel count (BATCH_PIXELS) when None."""
    return batch_size if batch_size is not None else max(1, BATCH_PIXELS // (face.shape[0] * face.shape[1]))


class LimeExplainer(Explainer):
    name = "LIME"
    how_to_read = ("Red patches pushed the answer towards 'fake', green ones towards 'real'. Found by hiding patches of the face in "
                   "many combinations and watching how the score moved.")
    settings = (
        Setting("samples", "LIME samples", "int", 48, low=16, high=1000, step=8,
                help="How many altered copies of the face LIME scores. More is steadier but slower (about 1 s per 50)."),
        Setting("segments", "LIME / SHAP patches", "int", 40, low=10, high=150, step=5, shared="superpixels",
                help="Into how many patches the face is cut (the outlined areas on the map). More patches: finer maps, noisier answers."),
        Setting("hide", "LIME hides a region with", "choice", "blur", choices=HIDE_MODES,
                choice_labels={"blur": "a blurred copy (faster, default)", "mean": "its mean colour (lime's default)"},
                help="A blurred patch still looks like part of a face, so the model is not thrown off by an obviously fake hole; "
                     "lime's own default paints it one flat colour."),
        Setting("design", "LIME picks which regions to hide by", "choice", "orthogonal", choices=DESIGNS,
                choice_labels={"orthogonal": "orthogonal (Hadamard, default)", "paired": "random + complements", "random": "random (lime's own)"},
                help="The default hides every patch in exactly half of the copies, in a balanced pattern, which gives a steadier map "
                     "from fewer copies than hiding patches at random."),
    )

    def __init__(self, samples: int = 48, segments: int = 40, hide: str = "blur", design: str = "orthogonal",
                 batch_size: int | None = None, kernel_width: float = 0.25, seed: int = 0) -> None:
        if hide not in HIDE_MODES:
            raise ValueError(f"unknown hide mode {hide!r}; choose from {HIDE_MODES}")
        if design not in DESIGNS:
            raise ValueError(f"unknown mask design {design!r}; choose from {DESIGNS}")
        if samples < 2:
            raise ValueError("LIME needs at least 2 samples")
        if batch_size is not None and batch_size < 1:
            raise ValueError("LIME's batch_size must be at least 1 (or None: by pixel count)")
        super().__init__(samples=samples, segments=segments, hide=hide, design=design, batch_size=batch_size,
                         kernel_width=kernel_width, seed=seed)

    def attribute(self, model: nn.Module, face: np.ndarray, target: int) -> tuple[np.ndarray, dict]:
        p = self.params
        segments = superpixels(face, n_segments=p["segments"])
        regions = int(segments.max()) + 1
        rng = np.random.RandomState(p["seed"])
        masks = sample_masks(rng, p["samples"], regions, p["design"])
        background = hidden_face(face, segments, p["hide"])
        step = batch_faces(face, p["batch_size"])
        p_fake = np.concatenate([
            p_fake_of_crops(model, np.where(masks[start : start + step, segments][..., None] == 1, face, background), batch_size=step)
            for start in range(0, len(masks), step)
        ])
        distances = pairwise_distances(masks, masks[:1], metric="cosine").ravel()
        fit = lime_base.LimeBase(lime_kernel(p["kernel_width"]), random_state=rng)
        _, local_exp, score, _ = fit.explain_instance_with_data(
            masks, np.stack([1.0 - p_fake, p_fake], axis=1), distances, FAKE, regions
        )
        weights = np.zeros(regions, dtype=np.float32)
        for segment, weight in local_exp:
            weights[segment] = weight
        signed = signed_map(weights[segments])  # + = evidence for "fake", whatever the target
        return signed, {"signed": signed, "segments": segments, "score": float(score)}
