"""The model boundary (detector.scoring): the same crops give the same numbers on every path."""

import numpy as np
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
