"""A second backbone is a config, not edits: build, save, load, score and explain a small timm
architecture that is not EfficientNet (random weights; only the plumbing is under test)."""

import numpy as np
import pytest
import torch

from detector import scoring
from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.config import ModelConfig
from detector.model import DeepfakeClassifier
from xai import make_explainer
from xai.layers import activation_maps

SIZE = 96


@pytest.fixture(scope="module")
def resnet_folder(tmp_path_factory):
    torch.manual_seed(0)
    config = ModelConfig(name="resnet-test", version="0.0.1", architecture="resnet10t", input_size=SIZE,
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), threshold=0.5)
    folder = tmp_path_factory.mktemp("resnet") / "resnet-test"
    save_checkpoint(DeepfakeClassifier(config).eval(), config, folder)
    return folder


def test_second_backbone_saves_loads_and_scores(resnet_folder):
    model = load_checkpoint(resnet_folder)
    assert model.config.architecture == "resnet10t" and type(model.backbone).__name__ == "ResNet"
    faces = np.random.default_rng(0).integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    p = scoring.p_fake_of_crops(model, faces)
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))
    # Saved and loaded weights give the same scores.
    again = scoring.p_fake_of_crops(load_checkpoint(resnet_folder), faces)
    np.testing.assert_array_equal(p, again)


def test_second_backbone_layers_come_from_timm_and_explain(resnet_folder):
    model = load_checkpoint(resnet_folder)
    layers = list(model.layer_choices())
    assert layers[-1] == "stage 4 (layer4)" and len(layers) == 5
    face = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    for layer in (None, layers[2]):
        explanation = make_explainer("Grad-CAM", layer=layer).explain(model, face)
        assert explanation.heatmap.shape == (SIZE, SIZE) and 0.0 <= explanation.heatmap.min() <= explanation.heatmap.max() <= 1.0
    maps, channels, grid = activation_maps(model, face, layers[1], k=4)
    assert maps.shape == (4, SIZE, SIZE) and len(channels) == 4 and grid[0] < SIZE


def test_cam_layers_in_config_override_the_derived_ones(resnet_folder):
    config = ModelConfig.load(resnet_folder / "config.json")
    config.cam_layers = {"early": "layer1", "late": "layer3"}
    model = DeepfakeClassifier(config)
    assert list(model.layer_choices()) == ["early", "late"] and model.layer_choices()["late"] is model.backbone.layer3
    assert ModelConfig.from_dict(__import__("json").loads(config.to_json())).cam_layers == config.cam_layers
