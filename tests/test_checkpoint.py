import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.config import ModelConfig
from detector.errors import CheckpointError
from detector.model import new_classifier


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(1)
    config = ModelConfig(name="rt", threshold=0.42, temperature=1.7, training={"data": {"x": 1}}, metrics={"auc": 0.5})
    model = new_classifier(config).eval()
    folder = save_checkpoint(model, config, tmp_path / "rt")
    return model, folder


def test_round_trip_gives_the_same_model_and_config(saved):
    model, folder = saved
    loaded = load_checkpoint(folder)
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=1e-6)
    assert loaded.config.threshold == 0.42 and loaded.config.temperature == 1.7
    assert loaded.config.training == {"data": {"x": 1}}
    assert set(p.name for p in folder.iterdir()) == {"model.safetensors", "config.json"}


def test_missing_tensor_is_refused(saved):
    _, folder = saved
    state = load_file(str(folder / "model.safetensors"))
    state.pop("classifier.bias")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing tensors"):
        load_checkpoint(folder)


def test_wrong_shape_is_refused(saved):
    _, folder = saved
    state = load_file(str(folder / "model.safetensors"))
    state["classifier.weight"] = torch.zeros(2, 1280)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: "{not json", "not valid JSON"),
        (lambda c: json.dumps({**c, "threshold": 3}), "threshold"),
        (lambda c: json.dumps({k: v for k, v in c.items() if k != "mean"}), "required key 'mean'"),
        (lambda c: json.dumps({**c, "architecture": "no_such_net"}), "cannot build"),
        (lambda c: json.dumps({**c, "evil": 1}), "unknown keys"),
    ],
)
def test_bad_config_is_refused(saved, edit, message):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(edit(config))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_pickle_weights_are_not_loaded(saved):
    model, folder = saved
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "model.pth")
    with pytest.raises(CheckpointError, match="only safetensors"):
        load_checkpoint(folder)
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(folder)


def test_a_symmetric_band_is_todays_rule_and_is_not_written_out():
    config = ModelConfig(threshold=0.5, uncertain_margin=0.1)
    assert config.band() == (0.4, 0.6)
    assert [config.verdict(p) for p in (0.39, 0.45, 0.55, 0.61)] == ["real", "uncertain", "uncertain", "fake"]
    assert "fake_margin" not in json.loads(config.to_json()) and "±0.10" in config.band_words()


def test_a_fake_margin_raises_only_the_upper_edge_and_travels_with_the_config():
    config = ModelConfig(threshold=0.5, uncertain_margin=0.1, fake_margin=0.3)
    low, high = config.band()
    assert low == pytest.approx(0.4) and high == pytest.approx(0.8)
    # Between the old and the new upper edge: no longer "fake"; below the lower edge: still "real".
    assert [config.verdict(p) for p in (0.4, 0.7, 0.79, 0.8)] == ["real", "uncertain", "uncertain", "fake"]
    again = ModelConfig.from_dict(json.loads(config.to_json()))
    assert again.fake_margin == 0.3 and again.band() == config.band()
    assert "0.40 to 0.80" in again.band_words()


@pytest.mark.parametrize("value", [-0.1, 1.0, "wide"])
def test_a_bad_fake_margin_is_refused(value):
    with pytest.raises(CheckpointError, match="fake_margin"):
        ModelConfig.from_dict({**json.loads(ModelConfig().to_json()), "fake_margin": value})
