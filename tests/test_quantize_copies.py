"""The int8 scorer for the stability check's copies: building it (scripts/quantize_copies.py), loading it only
when it belongs to the weights (detector/runtime.py, copies_scorer), and the check's wiring (faces never, copies
always through it). No ../shared data needed: a tiny network and planted graphs stand in for the real ones."""

import hashlib
import json
import shutil
import threading

import numpy as np
import pytest
import torch
from torch import nn

from detector import runtime
from detector.config import ModelConfig

pytest.importorskip("onnxruntime", reason="ONNX Runtime not installed: there is no int8 scorer without it")


class Tiny(nn.Module):
    """A few convolutions with ReLU6, as in EfficientNet-Lite, on 32-px inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU6(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                                  nn.ReLU6(), nn.Conv2d(8, 16, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.body(pixels)


def tiny_graph() -> bytes:
    torch.manual_seed(0)
    return runtime.export_graph(Tiny().eval(), 32)


def pixels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 32, 32), dtype=np.float32)


def test_the_quantizer_builds_an_int8_graph_that_scores_like_the_fp32_one():
    from scripts.quantize_copies import quantize, session

    graph = tiny_graph()
    int8 = quantize(graph, [pixels(4, seed) for seed in range(3)], "qdq")
    import onnx

    ops = {node.op_type for node in onnx.load_from_string(int8).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # activations and weights really are 8-bit
    inputs = pixels(8, 9)  # not calibrated on
    exact, fast = (session(g).run(None, {"pixels": inputs})[0].reshape(-1) for g in (graph, int8))
    assert np.abs(fast - exact).max() < 0.1 * (np.abs(exact).max() + 1e-3)
    assert not np.array_equal(fast, exact)


def test_write_stores_the_graph_and_evidence_that_the_config_accepts(tmp_path, tiny_checkpoint):
    from scripts.quantize_copies import write

    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)
    write(folder, b"graph", {"file": runtime.COPIES_FILE, "sha256": "x", "calibration": {"split": "val"}})
    assert (folder / runtime.COPIES_FILE).read_bytes() == b"graph"
    config = ModelConfig.load(folder / "config.json")
    assert config.copies_int8["calibration"] == {"split": "val"}
    assert "copies_int8" not in ModelConfig().to_json()  # configs without one are written as before


def planted_folder(tmp_path, tiny_checkpoint, graph: bytes, **config_changes) -> tuple:
    """A copy of the tiny checkpoint with `graph` as its copies graph and matching evidence."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder, dirs_exist_ok=True)
    (folder / runtime.COPIES_FILE).write_bytes(graph)
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    config["copies_int8"] = {"file": runtime.COPIES_FILE, "sha256": hashlib.sha256(graph).hexdigest(),
                             "weights_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
                             "calibration": {"split": "val"}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder, ModelConfig.from_dict(config)


def test_the_copies_graph_is_used_only_when_it_belongs_to_the_weights(tmp_path, tiny_checkpoint, monkeypatch):
    graph = tiny_graph()
    folder, config = planted_folder(tmp_path, tiny_checkpoint, graph, input_size=32)
    lock = threading.RLock()
    scorer, note = runtime.copies_scorer(folder, config, lock)
    assert scorer is not None and note.startswith("int8"), note
    assert scorer.logits(pixels(3, 1)).shape == (3,)
    config.copies_int8["weights_sha256"] = "0" * 64  # a new model shipped into the folder
    assert runtime.copies_scorer(folder, config, lock) == (None, f"like the faces ({runtime.COPIES_FILE} was built from other weights)")
    config.copies_int8["sha256"] = "0" * 64
    assert "not the file" in runtime.copies_scorer(folder, config, lock)[1]
    (folder / runtime.COPIES_FILE).unlink()
    assert runtime.copies_scorer(folder, config, lock) == (None, f"like the faces ({runtime.COPIES_FILE} is missing)")
    assert runtime.copies_scorer(folder, ModelConfig(), lock)[0] is None  # no evidence: no graph
    folder, config = planted_folder(tmp_path, tiny_checkpoint, graph, input_size=32)
    monkeypatch.setenv(runtime.SCORER_ENV, "torch")
    assert runtime.copies_scorer(folder, config, lock)[0] is None


class Shifted(nn.Module):
    """The model with its logit moved by `shift`: a copies graph whose use shows in every copy's score."""

    def __init__(self, model: nn.Module, shift: float) -> None:
        super().__init__()
        self.model, self.shift = model, shift

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels) + self.shift


def test_copies_scored_by_their_own_graph_feed_the_same_judge_and_faces_never_use_it(tmp_path, tiny_checkpoint, astronaut):
    """A planted copies graph that pushes every copy across the threshold: the face keeps its fp32 score and
    band verdict, all 11 copies flip, and the judge says "can't tell"; without the file nothing changes."""
    from detector import display
    from detector.inference import Detector
    from detector.stability import PERTURBATIONS, AbstainRules, all_copies, analyze_checked, check_faces

    plain = Detector(tiny_checkpoint, device="cpu")
    face = plain.analyze(astronaut).faces[0]
    fake = face.p_fake >= 0.5  # put the threshold well on the other side, so the face's verdict is decisive
    threshold = face.p_fake / 2 if fake else (1 + face.p_fake) / 2
    shift = -60.0 if fake else 60.0
    folder, _ = planted_folder(tmp_path, tiny_checkpoint, runtime.export_graph(Shifted(plain.scorer, shift), 224),
                               threshold=threshold, uncertain_margin=0.001)
    planted = Detector(folder, device="cpu")
    checked = analyze_checked(planted, astronaut, AbstainRules())
    assert planted.copies_runtime is not None, planted.copies_note
    assert checked.result.faces[0].p_fake == pytest.approx(face.p_fake, abs=1e-5)  # the face: fp32, as before
    assert checked.result.faces[0].label == ("fake" if fake else "real")
    check = checked.checks[0]
    assert check.flipped == list(PERTURBATIONS) and check.verdict == display.CANT_TELL
    apart = check_faces(planted, astronaut, checked.result.faces, AbstainRules())[0]  # the crowd path, copies alone
    assert apart.flipped == list(PERTURBATIONS)
    (folder / runtime.COPIES_FILE).unlink()
    fallback = Detector(folder, device="cpu")
    again = analyze_checked(fallback, astronaut, AbstainRules())
    assert fallback.copies_runtime is None and "missing" in fallback.copies_note
    copies = list(again.checks[0].p_fake_by_change.values())
    crops = all_copies(astronaut, [again.result.faces[0].face], fallback.config.input_size, fallback.config.crop_margin)
    expected = fallback.p_fake_from_logits(fallback.classify(crops))
    np.testing.assert_allclose(copies, expected, atol=1e-5)
