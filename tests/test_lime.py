"""Our LIME: lime's surrogate fit over SLIC superpixels with orthogonal masks and a blurred background."""

import numpy as np
import pytest
import torch
from torch import nn

from xai import FAKE, REAL, make_explainer
from xai.lime_explainer import hidden_face, sample_masks
from xai.segments import superpixels


class TopLeftBrightness(nn.Module):
    """A toy 'detector' whose fake logit is the detail (local contrast) in the top-left quarter only."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(20.0))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        quarter = pixels[:, :, :56, :56]
        detail = (quarter[:, :, 1:, :] - quarter[:, :, :-1, :]).abs().mean(dim=(1, 2, 3))
        return ((detail - 0.06) * self.gain)[:, None]


@pytest.fixture()
def textured_face():
    """4 x 4 tiles of distinct colours (so SLIC finds regions) with fine noise on top (the 'detail')."""
    rng = np.random.default_rng(3)
    tiles = rng.integers(40, 216, (4, 4, 3)).repeat(28, axis=0).repeat(28, axis=1)
    return np.clip(tiles + rng.integers(-40, 41, tiles.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("design", ["orthogonal", "paired", "random"])
def test_masks_start_with_the_whole_face(design):
    masks = sample_masks(np.random.RandomState(0), 9, 12, design)
    assert masks.shape == (9, 12) and set(np.unique(masks)) <= {0, 1}
    assert masks[0].all()
    if design == "paired":
        half = 5
        np.testing.assert_array_equal(masks[half:], 1 - masks[: 9 - half])
        assert not masks[half].any(), "the complement of the whole face hides every region"


@pytest.mark.parametrize("samples, regions", [(64, 40), (64, 63), (48, 20), (150, 37)])
def test_orthogonal_masks_are_balanced_and_uncorrelated_within_each_block(samples, regions):
    masks = sample_masks(np.random.RandomState(1), samples, regions, "orthogonal")
    assert masks.shape == (samples, regions)
    order = 1 << int(np.ceil(np.log2(regions + 1)))
    for start in range(0, samples - order + 1, order):
        signs = 2 * masks[start : start + order].astype(int) - 1
        if start == 0:
            signs[0] = 1  # row 0 is the face itself in every design
        np.testing.assert_array_equal(signs.T @ signs, order * np.eye(regions, dtype=int))
    with pytest.raises(ValueError, match="design"):
        sample_masks(np.random.RandomState(0), 9, 12, "latin")
    with pytest.raises(ValueError, match="design"):
        make_explainer("LIME", design="latin")


def test_hidden_face_modes(textured_face):
    segments = superpixels(textured_face, n_segments=10)
    mean = hidden_face(textured_face, segments, "mean")
    for label in np.unique(segments):
        region = mean[segments == label]
        np.testing.assert_allclose(region, region[0][None].repeat(len(region), 0))
        np.testing.assert_allclose(region[0], textured_face[segments == label].mean(axis=0), atol=0.51)
    blurred = hidden_face(textured_face, segments, "blur")
    assert blurred.shape == textured_face.shape

    def detail(image):
        return np.abs(np.diff(image.astype(float), axis=1)).mean()

    assert detail(blurred) < detail(textured_face) / 3
    with pytest.raises(ValueError, match="hide"):
        hidden_face(textured_face, segments, "black")
    with pytest.raises(ValueError, match="hide"):
        make_explainer("LIME", hide="black")


@pytest.mark.parametrize("hide", ["blur", "mean"])
def test_lime_finds_the_planted_evidence(textured_face, hide):
    model = TopLeftBrightness().eval()
    explanation = make_explainer("LIME", samples=48, segments=16, hide=hide).explain(model, textured_face, FAKE)
    heat = explanation.heatmap
    assert heat[:56, :56].mean() > heat[56:, 56:].mean() + 0.2
    assert explanation.signed[:40, :40].mean() > 0.3, "the detail pushes towards 'fake'"
    real = make_explainer("LIME", samples=48, segments=16, hide=hide).explain(model, textured_face, REAL)
    assert real.heatmap[:40, :40].mean() < heat[:40, :40].mean(), "for 'real' the same region is counter-evidence"


def test_batches_are_sized_by_pixel_count_and_do_not_change_the_map(textured_face):
    """By default as many perturbed faces per batch as BATCH_PIXELS allow (3 at 288 px, 4 at 224): a torch
    model holds every layer's activations for the whole batch. The map does not depend on the batch size."""
    from xai.lime_explainer import BATCH_PIXELS, batch_faces

    assert batch_faces(np.zeros((288, 288, 3))) == 3 and batch_faces(np.zeros((224, 224, 3))) == 4
    assert batch_faces(np.zeros((2000, 2000, 3))) == 1 and batch_faces(np.zeros((288, 288, 3)), 10) == 10
    model, batches = TopLeftBrightness(), []
    model.register_forward_hook(lambda module, args, out: batches.append(len(args[0])))
    auto = make_explainer("LIME", samples=48, segments=16).explain(model, textured_face, FAKE)
    per_batch = BATCH_PIXELS // (112 * 112)
    assert batches == [per_batch] * (48 // per_batch) + ([48 % per_batch] if 48 % per_batch else [])
    assert auto.params["batch_size"] is None
    for size in (1, 10):
        np.testing.assert_allclose(make_explainer("LIME", samples=48, segments=16, batch_size=size).explain(model, textured_face, FAKE).signed,
                                   auto.signed, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        make_explainer("LIME", batch_size=0)
