"""Test-time views travel with the model's config (`tta`) and every path that scores a face uses them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from detector.config import ModelConfig
from detector.errors import CheckpointError


def test_tta_is_absent_by_default_and_round_trips_when_set():
    plain = ModelConfig()
    assert plain.tta == "none" and "tta" not in json.loads(plain.to_json())  # existing config.json files stay as they are
    flipped = ModelConfig(tta="flip")
    data = json.loads(flipped.to_json())
    assert data["tta"] == "flip" and ModelConfig.from_dict(data).tta == "flip"


def test_an_unknown_tta_is_refused():
    data = json.loads(ModelConfig().to_json())
    with pytest.raises(CheckpointError, match="tta must be one of"):
        ModelConfig.from_dict({**data, "tta": "mirror"})


@pytest.fixture(scope="module")
def flip_detector(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint's weights with tta = "flip" in its config."""
    from detector.inference import Detector

    folder = tmp_path_factory.mktemp("tta") / "flip-model"
    shutil.copytree(tiny_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "tta": "flip"}))
    return Detector(folder, device="cpu")


def _mirror(image: Image.Image) -> Image.Image:
    return image.transpose(Image.FLIP_LEFT_RIGHT)


def test_flip_scores_the_mean_of_a_crop_and_its_mirror(detector, flip_detector, astronaut):
    crops = [astronaut.crop((100 + 20 * i, 0, 340 + 20 * i, 240)).resize((224, 224)) for i in range(5)]
    alone = detector.classify(crops)
    mirrored = detector.classify([_mirror(c) for c in crops])
    assert np.abs(alone - mirrored).max() > 1e-3  # the model itself is not mirror-symmetric: the test can fail
    with_flip = flip_detector.classify(crops)
    assert np.allclose(with_flip, (alone + mirrored) / 2, atol=1e-4)
    # A crop and its mirror get one score, whichever comes first (10 inputs: passes of 8 + 2).
    assert np.allclose(flip_detector.classify([_mirror(c) for c in crops]), with_flip, atol=1e-4)


def test_analyze_and_the_stability_check_use_the_config_s_views(detector, flip_detector, astronaut):
    from detector.stability import PERTURBATIONS, analyze_checked

    plain = detector.analyze(astronaut)
    checked = analyze_checked(flip_detector, astronaut)
    assert len(checked.result.faces) == len(plain.faces) >= 1
    face, check = checked.result.faces[0], checked.checks[0]
    crop = plain.faces[0].crop
    expected = float(np.mean(detector.classify([crop, _mirror(crop)])))
    assert face.logit == pytest.approx(expected, abs=1e-4)
    assert face.p_fake == pytest.approx(float(flip_detector.p_fake_from_logits(np.array([expected]))[0]), abs=1e-5)
    # The check's mirrored copy is the face seen from the other side: with flip views it scores as the face does.
    assert set(check.p_fake_by_change) == set(PERTURBATIONS)
    assert check.p_fake_by_change["flip"] == pytest.approx(face.p_fake, abs=2e-3)

