import json

import numpy as np
import torch

from detector.training import prepare, train
from tests.conftest import face_folder


def test_prepare_and_train_smoke(tmp_path, astronaut, capsys):
    data = tmp_path / "data"
    for split in ("train", "val"):
        face_folder(data / "tinyset" / split, astronaut, n=4)
    cache = tmp_path / "cache"
    assert prepare.main([str(data), "--out", str(cache), "--workers", "1", "--size", "96"]) == 0
    index = json.loads((cache / "tinyset" / "train" / "index.json").read_text())
    crops = np.load(cache / "tinyset" / "train" / "crops.npy")
    assert crops.shape == (8, 96, 96, 3) and len(index["records"]) == 8
    assert sorted(r["label"] for r in index["records"]) == [0] * 4 + [1] * 4
    assert all(r["landmarks"] is not None for r in index["records"])  # MTCNN found every face

    out = tmp_path / "run"
    args = ["--cache", str(cache), "--out", str(out), "--epochs", "2", "--samples-per-epoch", "16",
            "--batch-size", "8", "--sbi", "0.5", "--val-max-per-set", "8"]
    assert train.main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    for key in ("train_loss", "train_accuracy", "train_auc", "val_loss", "val_accuracy", "val_auc"):
        assert all(np.isfinite(h[key]) for h in history)
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["input_size"] == 96 and 0 < config["threshold"] < 1 and config["training"]["sbi"] == 0.5
    assert (out / "best" / "model.safetensors").is_file()

    # scripts.validate_model re-scores a checkpoint on a run's validation subset: same number as training's
    from scripts import validate_model

    assert validate_model.main([str(out / "best"), "--cache", str(cache), "--max-per-set", "8"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["val_auc"] == round(max(h["val_auc"] for h in history), 4)

    # resuming continues from the saved epoch instead of starting over
    assert train.main(args[:5] + ["3"] + args[6:] + ["--resume"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_self_blend_changes_only_the_face_region(astronaut):
    from detector.faces import FaceFinder, crop_face, landmarks_in_crop
    from detector.training.sbi import self_blend

    face = FaceFinder().find(astronaut)[0]
    crop = np.asarray(crop_face(astronaut, face.crop_box, 224))
    landmarks = landmarks_in_crop(face.landmarks, face.crop_box, 224)
    fake = self_blend(crop, landmarks, np.random.default_rng(3))
    diff = np.abs(fake.astype(int) - crop.astype(int)).sum(axis=2)
    assert diff.shape == (224, 224) and diff.max() > 20
    centre = diff[80:150, 80:150].mean()
    corners = np.mean([diff[:20, :20].mean(), diff[:20, -20:].mean(), diff[-20:, :20].mean(), diff[-20:, -20:].mean()])
    assert centre > 5 * max(corners, 0.5)

def test_warm_start_and_shares(tmp_path, astronaut):
    """--init starts from a checkpoint's weights (recorded in its config); --shares sets the mix."""
    from detector.checkpoint import load_checkpoint

    data = tmp_path / "data"
    for name in ("set_a", "set_b"):
        for split in ("train", "val"):
            face_folder(data / name / split, astronaut, n=2)
    cache = tmp_path / "cache"
    assert prepare.main([str(data), "--out", str(cache), "--workers", "1", "--size", "64"]) == 0
    common = ["--cache", str(cache), "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4", "--val-max-per-set", "4"]
    assert train.main(common + ["--out", str(tmp_path / "first")]) == 0
    first = load_checkpoint(tmp_path / "first" / "best")
    # with lr 0 AdamW changes no weight, so the second run's weights are exactly the ones it started from
    assert train.main(common + ["--out", str(tmp_path / "second"), "--init", str(tmp_path / "first" / "best"),
                                "--lr", "0", "--shares", "set_a=0.9", "set_b=0.1"]) == 0
    second = load_checkpoint(tmp_path / "second" / "best")
    for name, tensor in first.backbone.state_dict().items():
        if "running" not in name and "num_batches" not in name:  # batch-norm statistics still move in train mode
            assert torch.equal(tensor, second.backbone.state_dict()[name]), name
    training = json.loads((tmp_path / "second" / "best" / "config.json").read_text())["training"]
    assert training["shares"] == {"set_a": 0.9, "set_b": 0.1}
    assert training["init"].startswith(f"{first.config.version} (best)")
    assert train.parse_shares(["dfdc=0.5", "x=1"]) == {"dfdc": 0.5, "x": 1.0}


def test_resume_with_every_layer_trained(tmp_path, astronaut):
    """--freeze-blocks 0 trains the channels_last stem too; its optimizer state must still save and resume."""
    data = tmp_path / "data"
    for split in ("train", "val"):
        face_folder(data / "tinyset" / split, astronaut, n=2)
    cache = tmp_path / "cache"
    assert prepare.main([str(data), "--out", str(cache), "--workers", "1", "--size", "64"]) == 0
    out = tmp_path / "run"
    args = ["--cache", str(cache), "--out", str(out), "--epochs", "1", "--samples-per-epoch", "8",
            "--batch-size", "4", "--val-max-per-set", "4", "--freeze-blocks", "0", "--resume"]
    assert train.main(args) == 0
    assert train.main(args[:5] + ["2"] + args[6:]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert json.loads((out / "best" / "config.json").read_text())["training"]["frozen"] == "nothing"
