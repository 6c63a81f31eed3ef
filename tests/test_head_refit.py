"""Refitting only the classifier head on frozen features (detector.training.head_refit)."""

from __future__ import annotations

import json

import numpy as np
import torch

from detector.training.head_refit import feature_extractor, fit_head, head_logits, stream_balance
from tests.test_reframed_training import toy_sources


def test_a_fitted_head_scores_raw_features_as_the_regression_scores_standardised_ones():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    features = rng.normal(5.0, 3.0, (400, 6)) + labels[:, None] * np.array([2.0, 0, 0, -1.0, 0, 0])
    weight, bias = fit_head(features, labels, strength=1.0)
    mean, std = features.mean(0), features.std(0) + 1e-6
    reference = LogisticRegression(C=1.0, max_iter=2000).fit((features - mean) / std, labels)
    assert np.allclose(head_logits(features, weight, bias), reference.decision_function((features - mean) / std), atol=1e-6)
    assert weight[0] > 0 > weight[3]  # the planted directions


def test_stream_balance_weighs_each_stream_and_each_class_alike():
    labels = np.array([0] * 6 + [0] * 2 + [1] * 2)
    streams = np.array([0] * 6 + [1] * 2 + [2] * 2)
    weights = stream_balance(labels, streams)
    assert np.isclose(weights[streams == 0].sum(), weights[streams == 1].sum())
    assert np.isclose(weights[labels == 0].sum(), weights[labels == 1].sum())
    assert np.isclose(weights.sum(), len(labels))


def test_features_through_the_old_head_give_the_models_own_logits(tiny_checkpoint):
    from detector.checkpoint import load_checkpoint
    from detector.training.reframed import to_input

    model = load_checkpoint(tiny_checkpoint).eval()
    size = model.config.input_size
    crops = torch.randint(0, 256, (3, size, size, 3), dtype=torch.uint8)
    features = feature_extractor(model)(crops)
    head = model.backbone.get_classifier()
    with torch.inference_mode():
        expected = model(to_input(crops, torch.device("cpu"))).reshape(-1).numpy()
        got = head_logits(features, head.weight[0].double().numpy(), float(head.bias[0]))
    assert features.shape == (3, head.in_features)
    assert np.abs(got - expected).max() < 1e-3


def test_features_then_fit_write_a_checkpoint_that_differs_only_in_its_head(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.checkpoint import load_checkpoint
    from detector.training import head_refit

    sources, root = toy_sources(tmp_path, astronaut)
    common = ["--sources", str(sources), "--root", str(root), "--workers", "0"]
    shares = ["--shares", "real:toy=0.5", "fake:toy=0.5"]
    train, val, out = tmp_path / "train", tmp_path / "val", tmp_path / "fit"
    assert head_refit.main(["features", str(tiny_checkpoint), "--split", "train", "--samples", "16", "--chunk", "8", "--out", str(train), *common, *shares]) == 0
    assert len(list(train.glob("chunk_*.npz"))) == 2
    assert head_refit.main(["features", str(tiny_checkpoint), "--split", "val", "--group-scenes", "--val-per-stream", "3", "--out", str(val), *common]) == 0
    stored = np.load(val / "val.npz")
    assert stored["features"].shape[:2] == (6, 3)  # 6 validation pictures x plain, reframed, group scene
    capsys.readouterr()
    # The toy fakes are inverted pictures: the features separate them, the start's untrained head does not.
    code = head_refit.main(["fit", str(tiny_checkpoint), "--train", str(train), "--val", str(val), "--out", str(out),
                            "--strengths", "1.0", "--alphas", "1.0", "--balance", *common])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["head"] for line in lines] == ["old", "C=1.0 alpha=1.0"]
    assert all("val_group" in line for line in lines)
    assert lines[1]["val_auc"] > lines[0]["val_auc"]
    old, new = load_checkpoint(tiny_checkpoint), load_checkpoint(out / "model")
    changed = [k for k, v in new.state_dict().items() if not torch.equal(v, old.state_dict()[k])]
    assert changed == ["backbone.classifier.weight", "backbone.classifier.bias"]
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["training"]["head_refit"]["balance"] is True and "calibration" in config["training"]


def test_fit_refuses_one_class_features_with_one_line(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import head_refit

    sources, root = toy_sources(tmp_path, astronaut)
    common = ["--sources", str(sources), "--root", str(root), "--workers", "0"]
    train = tmp_path / "train"
    head_refit.main(["features", str(tiny_checkpoint), "--split", "train", "--samples", "8", "--chunk", "8", "--out", str(train),
                     "--shares", "real:toy=1", "fake:toy=0", "fake:sbi=0", "fake:swap=0", *common])
    capsys.readouterr()
    assert head_refit.main(["fit", str(tiny_checkpoint), "--train", str(train), "--val", str(tmp_path), "--out", str(tmp_path / "fit"), *common]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "one class" in err[0]


def test_a_group_scene_bound_limits_which_heads_may_be_chosen(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import head_refit

    sources, root = toy_sources(tmp_path, astronaut)
    common = ["--sources", str(sources), "--root", str(root), "--workers", "0"]
    train, val, flat = tmp_path / "train", tmp_path / "val", tmp_path / "flat"
    head_refit.main(["features", str(tiny_checkpoint), "--split", "train", "--samples", "16", "--chunk", "8", "--out", str(train),
                     "--shares", "real:toy=0.5", "fake:toy=0.5", *common])
    head_refit.main(["features", str(tiny_checkpoint), "--split", "val", "--group-scenes", "--val-per-stream", "3", "--out", str(val), *common])
    head_refit.main(["features", str(tiny_checkpoint), "--split", "val", "--val-per-stream", "3", "--out", str(flat), *common])
    fit = ["fit", str(tiny_checkpoint), "--train", str(train), "--strengths", "1.0", "--alphas", "1.0", *common]
    capsys.readouterr()
    # No share can be below zero: no head is eligible, nothing is saved.
    assert head_refit.main([*fit, "--val", str(val), "--out", str(tmp_path / "none"), "--max-group-reals", "-1"]) == 0
    assert "no head has at most -1.0" in capsys.readouterr().out and not (tmp_path / "none" / "model").exists()
    # Every share is at most one: the bound changes nothing.
    assert head_refit.main([*fit, "--val", str(val), "--out", str(tmp_path / "all"), "--max-group-reals", "1"]) == 0
    assert json.loads((tmp_path / "all" / "model" / "config.json").read_text())["training"]["head_refit"]["max_group_reals"] == 1.0
    capsys.readouterr()
    assert head_refit.main([*fit, "--val", str(flat), "--out", str(tmp_path / "flat_fit"), "--max-group-reals", "0.05"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--group-scenes" in err[0]


def test_head_refit_leaves_gradients_on_for_whatever_runs_next(tmp_path, astronaut, tiny_checkpoint):
    from detector.training import head_refit

    sources, root = toy_sources(tmp_path, astronaut)
    head_refit.main(["features", str(tiny_checkpoint), "--split", "val", "--val-per-stream", "3", "--out", str(tmp_path / "val"),
                     "--sources", str(sources), "--root", str(root), "--workers", "0"])
    assert torch.is_grad_enabled()


def test_an_unknown_framing_is_refused_with_one_line_before_any_feature_is_made(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import head_refit

    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / "train"
    code = head_refit.main(["features", str(tiny_checkpoint), "--split", "train", "--samples", "8", "--out", str(out),
                            "--sources", str(sources), "--root", str(root), "--workers", "0", "--framings", "collage=1"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown framing" in err[0] and "collage" in err[0]
    assert not list(out.glob("chunk_*.npz"))
