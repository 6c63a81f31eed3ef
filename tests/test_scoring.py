"""The model boundary (detector.scoring): the same crops give the same numbers on every path."""

import copy
import gc

import numpy as np
import pytest
import torch

from detector import scoring
from xai.base import p_fake_of_crops as xai_p_fake_of_crops


def test_every_path_gives_the_detector_s_scores(detector, astronaut):
    result = detector.analyze(astronaut)
    crops = [f.crop for f in result.faces]
    assert crops, "the astronaut has a face"
    logits = detector.classify(crops)
    np.testing.assert_array_equal(logits, [f.logit for f in result.faces])
    # The folded torch model (classify's fallback) and the model as loaded (batch norm not folded; what
    # training and evaluation run) agree to float precision.
    np.testing.assert_allclose(scoring.batched_logits(detector.scorer, crops, channels_last=True), logits, atol=2e-5)
    np.testing.assert_allclose(scoring.batched_logits(detector.model, crops, channels_last=True), logits, atol=1e-4)
    np.testing.assert_array_equal(scoring.calibrated_probability(logits, detector.config.temperature),
                                  np.float32([f.p_fake for f in result.faces]))
    # The explainers' path (plain memory layout, batches of 10) agrees to float precision.
    stack = np.stack([np.asarray(c) for c in crops])
    np.testing.assert_allclose(xai_p_fake_of_crops(detector.model, stack), [f.p_fake for f in result.faces], atol=1e-5)


def test_input_scaling_and_batching(detector, astronaut):
    crop = detector.analyze(astronaut).faces[0].crop
    array = np.asarray(crop)
    tensor = scoring.to_input([crop, crop])
    assert tensor.shape == (2, 3, *array.shape[:2]) and tensor.dtype == torch.float32
    assert float(tensor.max()) <= 1.0 and torch.equal(tensor[0], torch.from_numpy(array).permute(2, 0, 1).float() / 255.0)
    # float input is taken as already in [0, 1]
    assert torch.equal(scoring.to_input(array.astype(np.float32) / 255.0)[0], tensor[0])
    many = np.stack([array] * 5)
    np.testing.assert_allclose(scoring.batched_logits(detector.model, many, batch_size=2),
                               scoring.batched_logits(detector.model, many), atol=1e-5)
    assert scoring.batched_logits(detector.model, []).shape == (0,)


def test_calibration_is_sigmoid_of_logit_over_temperature():
    logits = np.array([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(scoring.calibrated_probability(logits, 2.0), 1 / (1 + np.exp(-logits / 2.0)), rtol=1e-12)
    assert scoring.calibrated_probability(np.float32([1.0])).dtype == np.float32


def test_maps_explain_the_predicted_class_unless_asked_otherwise():
    from detector.config import ModelConfig

    config = ModelConfig(threshold=0.6)
    assert config.explained_class(0.6) == 1 and config.explained_class(0.59) == 0
    assert config.explained_class(0.9, other=True) == 0 and config.explained_class(0.1, other=True) == 1



def counting(model, calls):
    return model.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))


def test_scores_without_gradients_go_through_the_detector_s_scorer(detector, astronaut):
    """LIME's perturbed faces are scored the way classify() scores a crop (ONNX Runtime on a CPU), not by
    torch's autograd-capable model: the model's forward pass is never called, and the map is the same."""
    from xai import make_explainer

    crop = np.asarray(detector.analyze(astronaut).faces[0].crop)
    calls = []
    hooks = [counting(detector.model, calls), counting(detector.scorer, calls)]
    try:
        fast = make_explainer("LIME", samples=16, segments=20).explain(detector.model, crop, 1)
    finally:
        [hook.remove() for hook in hooks]
    assert calls == [], "LIME ran a torch model although the detector registered its scorer"
    np.testing.assert_allclose(scoring.forward_only_logits(detector.model, crop[None]), detector.classify([crop]), atol=0)
    # A copy of the model (the sanity check's randomised weights) is another object: scored by itself, in torch.
    twin = copy.deepcopy(detector.model)
    counting(twin, calls)
    torch_map = make_explainer("LIME", samples=16, segments=20).explain(twin, crop, 1)
    assert sum(calls) == 16
    np.testing.assert_allclose(fast.signed, torch_map.signed, atol=1e-3)  # same weights: same map to float noise


# SHAP with 16 samples, not 4: with 4, one sample's gradient crossing an activation's kink on float noise moved a
# region's mean by 0.031 (one torch thread, as the thread policy picks on a loaded machine; 0.001 with two); with 16
# it is 0.0045 / 0.0006.
@pytest.mark.parametrize("family, params", [("Saliency", {"method": "SmoothGrad", "samples": 4}), ("SHAP", {"samples": 16, "segments": 20})])
def test_input_gradients_go_through_the_folded_model(detector, astronaut, family, params):
    """Saliency and SHAP differentiate the detector's folded copy (same function, lighter backward pass),
    never the model as loaded, and their maps match the unfolded model's to float noise."""
    from xai import make_explainer

    crop = np.asarray(detector.analyze(astronaut).faces[0].crop)
    loaded, folded = [], []
    hooks = [counting(detector.model, loaded), counting(detector.scorer, folded)]
    try:
        fast = make_explainer(family, **params).explain(detector.model, crop, 1)
    finally:
        [hook.remove() for hook in hooks]
    assert loaded == [] and sum(folded) > 0
    plain = make_explainer(family, **params).explain(copy.deepcopy(detector.model), crop, 1)  # a copy: not folded
    assert np.abs(fast.heatmap - plain.heatmap).max() < 0.02
    assert np.corrcoef(fast.heatmap.ravel(), plain.heatmap.ravel())[0, 1] > 0.999


def test_stand_ins_are_held_weakly(detector, astronaut):
    """The table never keeps a stand-in's owner alive; once the owner is gone the model is used itself."""
    class Owner:
        def logits(self, crops):
            return np.full(len(crops), 7.0, dtype=np.float32)

    model = copy.deepcopy(detector.model)
    crops = np.stack([np.asarray(detector.analyze(astronaut).faces[0].crop)] * 3)
    owner, folded = Owner(), copy.deepcopy(detector.scorer)
    scoring.register_stand_ins(model, folded=folded, logits=owner.logits)
    np.testing.assert_array_equal(scoring.forward_only_logits(model, crops, batch_size=2), [7.0, 7.0, 7.0])
    assert scoring.input_gradient_model(model) is folded
    del owner, folded
    gc.collect()
    np.testing.assert_allclose(scoring.forward_only_logits(model, crops), scoring.batched_logits(detector.model, crops), atol=1e-5)
    assert scoring.input_gradient_model(model) is model


def test_crop_pixels_are_to_input_s_numbers_for_every_byte_value(astronaut):
    """The as-built scorer converts each crop with numpy (crop_pixels): every uint8 value, in every channel, gives the
    float32 to_input (torch) gives it, bit for bit, and so does a real crop."""
    from PIL import Image

    from detector.scoring import crop_pixels, to_input

    values = np.arange(256, dtype=np.uint8)
    every = Image.fromarray(np.stack([values.reshape(16, 16), values.reshape(16, 16).T, values[::-1].reshape(16, 16)], axis=-1))
    for crop in (every, astronaut.resize((288, 288))):
        pixels = crop_pixels(crop)
        assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
        np.testing.assert_array_equal(pixels, to_input([crop]).numpy())
