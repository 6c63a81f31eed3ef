"""Training on what the app sees: reframing, the app's crop, synthetic swaps, weight mixes, the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detector.faces import crop_face, square_crop_box
from detector.training.compose import FRAMINGS, app_crop, frame, reframed_crop
from detector.training.soup import mix
from detector.training.swaps import classical_swap, region, self_blend

MARKER = (250, 20, 200)


def marked_picture(size=(300, 240), box=(100, 60, 180, 160)) -> tuple[np.ndarray, tuple]:
    """A grey picture whose 'face box' is a flat magenta square, so it can be found after reframing."""
    image = np.full((size[1], size[0], 3), 90, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = MARKER
    return image, tuple(float(v) for v in box)


def test_app_crop_is_the_apps_crop_policy(astronaut):
    image = np.asarray(astronaut)
    box = (150.0, 40.0, 330.0, 260.0)
    expected = np.asarray(crop_face(astronaut, square_crop_box(box, astronaut.size, 0.3), 224))
    assert np.array_equal(app_crop(image, box, 224, 0.3), expected)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_framing_keeps_the_face_where_the_box_says(framing):
    image, box = marked_picture()
    others = [np.full((200, 200, 3), 30, np.uint8)]
    for seed in range(12):
        framed = frame(image, box, np.random.default_rng(seed), others, framing=framing)
        assert framed.framing == framing and framed.picture.dtype == np.uint8
        x1, y1, x2, y2 = (int(round(v)) for v in framed.box)
        inner = framed.picture[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].reshape(-1, 3).mean(0)
        assert np.abs(inner - MARKER).max() < 25, (framing, seed, inner)
        if framing != "plain":
            height, width = framed.picture.shape[:2]
            scaled_side = (box[2] - box[0]) * (framed.box[2] - framed.box[0]) / (box[2] - box[0])
            assert height * width > scaled_side**2  # there is more around the face than before


def test_group_framing_makes_a_small_picture_among_others():
    import cv2

    image, box = marked_picture()
    green = np.zeros((200, 200, 3), np.uint8)
    green[..., 1] = 255
    crowded = 0
    for seed in range(12):
        framed = frame(image, box, np.random.default_rng(seed), [green], framing="group")
        scale = (framed.box[2] - framed.box[0]) / (box[2] - box[0])
        assert 150 <= image.shape[1] * scale <= 360 + 1  # a group photo's picture size, not a portrait's
        mask = np.all(framed.picture == (0, 255, 0), axis=2).astype(np.uint8)
        crowded += cv2.connectedComponents(mask)[0] - 1 >= 2  # two or more neighbours (a green photo background is one)
    assert crowded >= 6


def test_reframed_crop_of_a_canvas_shows_background_that_plain_does_not():
    # A tight crop (the DFDC case) crops to itself when plain, and gains a border of surroundings on a canvas.
    image = np.full((224, 224, 3), MARKER, np.uint8)
    box = (20.0, 20.0, 204.0, 204.0)
    plain = app_crop(image, box, 224)
    assert np.abs(plain.reshape(-1, 3).mean(0) - MARKER).max() < 2
    framed = frame(image, box, np.random.default_rng(0), [], framing="canvas")
    crop = app_crop(framed.picture, framed.box, 224)
    off = np.abs(crop.astype(int) - MARKER).sum(axis=2) > 60
    assert off.mean() > 0.05


def test_reframed_crop_returns_model_input_and_framing():
    image, box = marked_picture()
    crop, framing = reframed_crop(image, box, np.random.default_rng(3), 224, [image])
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8 and framing in FRAMINGS


def test_video_frames_are_off_by_default_and_drawn_only_when_asked_for(monkeypatch):
    from detector.training import compose

    image, box = marked_picture()
    seen = []
    monkeypatch.setattr(compose, "h264_roundtrip", lambda picture, crf: seen.append(crf) or picture)
    default = reframed_crop(image, box, np.random.default_rng(3), 96, [image])
    off = reframed_crop(image, box, np.random.default_rng(3), 96, [image], video_p=0.0)
    assert not seen and np.array_equal(default[0], off[0])  # no draw for it: the old recipe's stream is unchanged
    for seed in range(40):
        reframed_crop(image, box, np.random.default_rng(seed), 96, [image], video_p=0.5)
    assert 8 <= len(seen) <= 32 and all(compose.VIDEO_CRF[0] <= crf <= compose.VIDEO_CRF[1] for crf in seen)
    seen.clear()
    reframed_crop(image, box, np.random.default_rng(0), 96, [image], video_p=1.0)
    assert len(seen) == 1


def test_a_video_frame_is_the_same_picture_through_a_lossy_codec():
    from detector.training.compose import h264_roundtrip

    y, x = np.mgrid[0:121, 0:161]  # smooth shading and fine grain: what a codec keeps and what it drops
    grain = np.random.default_rng(0).normal(0, 12, (121, 161, 3))
    image = np.clip(np.stack([x, y, (x + y) // 2], -1) + grain, 0, 255).astype(np.uint8)
    frame_23, again = h264_roundtrip(image, 23), h264_roundtrip(image, 23)
    assert np.array_equal(frame_23, again)  # one encoder thread: the same bytes every run
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    assert frame_23.shape == (height, width, 3) and frame_23.dtype == np.uint8
    error = np.abs(frame_23.astype(int) - image[:height, :width]).mean()
    assert 0 < error < np.abs(h264_roundtrip(image, 45).astype(int) - image[:height, :width]).mean()
    with pytest.raises(ValueError, match="too small"):
        h264_roundtrip(image[:1, :1], 23)


def five_points(box) -> np.ndarray:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return np.array([[x1 + 0.3 * w, y1 + 0.38 * h], [x1 + 0.7 * w, y1 + 0.38 * h], [x1 + 0.5 * w, y1 + 0.55 * h],
                     [x1 + 0.35 * w, y1 + 0.75 * h], [x1 + 0.65 * w, y1 + 0.75 * h]], np.float32)


def test_self_blend_changes_the_face_and_nothing_outside_its_window(astronaut):
    image = np.asarray(astronaut).copy()
    box = [160.0, 40.0, 320.0, 240.0]
    rng = np.random.default_rng(1)
    changed_inside = 0
    for _ in range(5):
        out = self_blend(image, box, five_points(box), None, rng)
        left, top, right, bottom = region(box, image.shape)
        outside = np.ones(image.shape[:2], bool)
        outside[top:bottom, left:right] = False
        assert np.array_equal(out[outside], image[outside])
        changed_inside += int(np.abs(out.astype(int) - image).sum() > 0)
    assert changed_inside >= 4


def test_classical_swap_brings_the_donors_face_into_the_picture():
    rng = np.random.default_rng(0)
    target = np.clip(128 + rng.normal(0, 10, (300, 300, 3)), 0, 255).astype(np.uint8)
    box = [90.0, 80.0, 210.0, 220.0]
    pattern = (np.indices((300, 300)).sum(0) // 6) % 2  # stripes the target does not have
    donor = np.repeat(pattern[..., None] * 200 + 20, 3, axis=2).astype(np.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    inner = (slice(y1 + 40, y2 - 40), slice(x1 + 30, x2 - 30))
    for seed in range(4):
        out = classical_swap(target, box, five_points(box), None, donor, five_points(box), np.random.default_rng(seed))
        face = out[inner].mean(axis=2).ravel()
        # Colour is matched to the target, but the structure inside the face is the donor's.
        assert np.corrcoef(face, pattern[inner].ravel())[0, 1] > 0.25
        left, top, right, bottom = region(box, target.shape, 2.2)
        outside = np.ones(target.shape[:2], bool)
        outside[top:bottom, left:right] = False
        assert np.array_equal(out[outside], target[outside])


def test_weight_mix_interpolates_floats_and_keeps_counters():
    old = {"w": torch.zeros(3), "n": torch.tensor(5)}
    new = {"w": torch.ones(3) * 2, "n": torch.tensor(9)}
    assert torch.equal(mix(old, new, 0.0)["w"], old["w"]) and torch.equal(mix(old, new, 1.0)["w"], new["w"])
    assert torch.allclose(mix(old, new, 0.25)["w"], torch.full((3,), 0.5))
    assert int(mix(old, new, 0.5)["n"]) == 9


def toy_sources(tmp_path, astronaut) -> tuple[Path, Path]:
    """Three real and three 'fake' (inverted) pictures per split, with their MTCNN-like records."""
    root = tmp_path / "data"
    records = []
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in (0, 1):
            for i in range(3):
                folder = root / "toy" / split / ("fake" if label else "real")
                folder.mkdir(parents=True, exist_ok=True)
                dx = int(rng.integers(0, 30))
                picture = astronaut.crop((100 + dx, 0, 400 + dx, 300))
                if label:
                    picture = Image.fromarray(255 - np.asarray(picture))
                picture.save(folder / f"{i}.jpg", quality=90)
                box = [60.0 - dx, 30.0, 220.0 - dx, 230.0]
                records.append({"file": f"toy/{split}/{folder.name}/{i}.jpg", "dataset": "toy", "split": split, "label": label,
                                "size": [300, 300], "faces": [{"box": box, "prob": 0.99, "landmarks": five_points(box).tolist(), "fallback": False}]})
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "sources.json").write_text(json.dumps({"root": str(root), "records": records}))
    return sources, root


def test_trainer_runs_an_epoch_and_writes_a_self_describing_checkpoint(tmp_path, astronaut, tiny_checkpoint):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / "run"
    code = reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(out),
                          "--version", "9.9.9", "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4", "--workers", "0",
                          "--val-per-stream", "3", "--shares", "real:toy=0.5", "fake:toy=0.3", "fake:sbi=0.1", "fake:swap=0.1",
                          "--framings", "plain=0", "grid=2", "--input-size", "96", "--video-p", "0.5"])
    assert code == 0
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["training"]["video_p"] == 0.5
    assert config["input_size"] == 96
    assert config["training"]["framings"]["plain"] == 0 and config["training"]["framings"]["grid"] == 2
    assert config["version"] == "9.9.9" and config["crop_margin"] == 0.3
    assert config["training"]["recipe"].startswith("reframed") and "calibration" in config["training"]
    assert set(config["metrics"]["val"]["val_auc_per_set"]) == {"toy/plain", "toy/reframed"}
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and history[0]["samples"] == 8


def test_score_init_scores_the_starting_weights_and_saves_nothing_without_an_epoch(tmp_path, astronaut, tiny_checkpoint):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / "scored"
    code = reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(out),
                          "--version", "9.9.9", "--epochs", "0", "--workers", "0", "--val-per-stream", "3", "--score-init",
                          "--shares", "real:toy=0.5", "fake:toy=0.5"])
    assert code == 0
    scored = json.loads((out / "init_val.json").read_text())
    assert scored["epoch"] == 0 and scored["init"] == str(tiny_checkpoint)
    assert set(scored["val_auc_per_set"]) == {"toy/plain", "toy/reframed"} and 0.0 <= scored["val_auc"] <= 1.0
    assert not (out / "best").exists()
    # Another training seed scores the same validation: runs with different seeds compare.
    again = tmp_path / "again"
    reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(again),
                   "--version", "9.9.9", "--epochs", "0", "--workers", "0", "--val-per-stream", "3", "--score-init", "--seed", "5",
                   "--shares", "real:toy=0.5", "fake:toy=0.5"])
    assert json.loads((again / "init_val.json").read_text())["val_auc_per_set"] == scored["val_auc_per_set"]


def test_an_unknown_framing_is_refused_with_one_line(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    code = reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(tmp_path / "run"),
                          "--version", "9.9.9", "--epochs", "1", "--workers", "0", "--framings", "collage=1"])
    assert code == 2
    assert "unknown framing" in capsys.readouterr().err


def test_group_scene_crops_add_a_third_view_and_leave_the_first_two_alone(tmp_path, astronaut):
    from detector.training.reframed import SourceBank, ValidationCrops

    sources, root = toy_sources(tmp_path, astronaut)
    bank = SourceBank(sources, root, "val")
    plain = ValidationCrops(bank, 64, 0.3, 3, seed=0)
    grouped = ValidationCrops(bank, 64, 0.3, 3, seed=0, group_scenes=True)
    for item in range(len(plain)):
        two, index = plain[item]
        three, same_index = grouped[item]
        assert index == same_index and two.shape == (2, 64, 64, 3) and three.shape == (3, 64, 64, 3)
        assert np.array_equal(three[:2], two)  # histories with and without the flag stay comparable
        assert not np.array_equal(three[2], three[0])
        assert np.array_equal(grouped[item][0], three)  # seeded: the same scene every epoch


def test_group_scene_report_counts_reals_at_the_threshold_the_epoch_would_ship_with(tmp_path, astronaut):
    from detector.training.calibrate import calibrated_probability, calibration_summary
    from detector.training.reframed import SourceBank, group_scene_report

    sources, root = toy_sources(tmp_path, astronaut)
    bank = SourceBank(sources, root, "val")
    indices = np.arange(len(bank.pictures))
    labels = np.array([p.label for p in bank.pictures])
    rng = np.random.default_rng(1)
    separable = np.where(labels == 1, 2.0, -2.0) + rng.normal(0, 0.3, len(labels))
    group = np.where(labels == 1, 3.0, -3.0)
    group[np.flatnonzero(labels == 0)[0]] = 3.0  # one real face looks fake in its group scene
    logits = np.stack([separable, separable + 0.1, group], axis=1)
    report = group_scene_report(bank, logits, indices, fake_margin=0.2)
    reals = int((labels == 0).sum())
    assert report["reals"] == reals and report["reals_at_threshold"] == pytest.approx(1 / reals)
    calibration = calibration_summary(np.concatenate([labels, labels]), np.concatenate([logits[:, 0], logits[:, 1]]))
    assert report["threshold"] == round(calibration["threshold"], 4)
    lifted = calibrated_probability(np.array([3.0]), calibration["temperature"])[0]
    expected = 1 / reals if lifted >= calibration["threshold"] + 0.2 else 0.0
    assert report["reals_likely_manipulated"] == pytest.approx(expected)
    real_crops = np.concatenate([logits[labels == 0, 0], logits[labels == 0, 1]])
    assert np.quantile(real_crops, 0.95) < 3.0  # so only the planted real is above it
    assert report["reals_above_real_q95"] == pytest.approx(1 / reals)
    assert report["toy/group_auc"] == pytest.approx((6 + 3 * 0.5) / 9, abs=1e-4)  # the planted real ties all 3 fakes


@pytest.mark.parametrize("allowed_rise, saved", [(1.0, True), (-1.0, False)])
def test_the_group_guard_decides_whether_a_better_epoch_is_saved(tmp_path, astronaut, tiny_checkpoint, allowed_rise, saved, monkeypatch):
    from detector.training import reframed

    # Eight samples of toy training do not reliably beat the start (and a random tiny run can even end in
    # non-finite logits): give every validation fixed, separable logits and a rising mean, so the guard decides.
    real_logits, calls = reframed.validation_logits, []

    def separable(model, loader, device):
        logits, indices = real_logits(model, loader, device)
        bank = loader.dataset.bank
        labels = np.array([bank.pictures[i].label for i in indices], dtype=np.float64)
        spread = np.linspace(-0.5, 0.5, len(indices))[:, None]
        return (np.where(labels[:, None] == 1, 2.0, -2.0) + spread) * np.ones_like(logits), indices

    def rising(*args):
        calls.append(1)
        return {**real_report(*args), "mean": 0.1 * len(calls)}

    real_report = reframed.validation_report
    monkeypatch.setattr(reframed, "validation_logits", separable)
    monkeypatch.setattr(reframed, "validation_report", rising)
    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / f"guard{allowed_rise}"
    code = reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(out),
                          "--version", "9.9.9", "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4", "--workers", "0",
                          "--val-per-stream", "3", "--shares", "real:toy=0.5", "fake:toy=0.5", "--input-size", "64",
                          "--score-init", "--max-group-reals-rise", str(allowed_rise)])
    assert code == 0
    start = json.loads((out / "init_val.json").read_text())
    epoch = json.loads((out / "history.json").read_text())[0]
    assert set(start["val_group"]) >= {"threshold", "reals", "reals_above_real_q95", "reals_at_threshold", "reals_likely_manipulated",
                                       "toy/group_auc"}
    assert 0.0 <= epoch["val_group"]["reals_above_real_q95"] <= 1.0
    assert epoch["val_auc"] > start["val_auc"]
    assert (out / "best").exists() == saved
    assert ("not saved: val AUC" in (out / "train.log").read_text()) == (not saved)


def test_the_group_guard_needs_the_starting_weights_scored(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    code = reframed.main(["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--out", str(tmp_path / "x"),
                          "--version", "9.9.9", "--epochs", "1", "--workers", "0", "--max-group-reals-rise", "0.01"])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith("error: --max-group-reals-rise")


def test_group_guard_allows_only_what_the_start_plus_the_rise_allows():
    from detector.training.reframed import group_guard_allows

    def at(share: float) -> dict:
        return {"val_group": {"reals_above_real_q95": share, "reals_likely_manipulated": 0.9}}

    assert group_guard_allows(at(0.5), None, None)  # no guard asked for
    assert group_guard_allows(at(0.12), at(0.10), 0.02) and not group_guard_allows(at(0.13), at(0.10), 0.02)
    assert not group_guard_allows(at(0.0), None, 0.5)  # nothing to compare with: never saved
    assert not group_guard_allows(at(0.0), {"val_auc": 0.9}, 0.5)


def test_soup_reports_each_mixs_real_faces_in_group_scenes(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import soup

    sources, root = toy_sources(tmp_path, astronaut)
    code = soup.main([str(tiny_checkpoint), str(tiny_checkpoint), "--alphas", "0", "1", "--sources", str(sources), "--root", str(root),
                      "--val-per-stream", "3", "--workers", "0", "--group-scenes"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["alpha"] for line in lines] == [0.0, 1.0]
    assert all(line["val_group"]["reals"] == 3 and "toy/group_auc" in line["val_group"] for line in lines)
    assert lines[0]["val_group"] == lines[1]["val_group"]  # the same weights mixed with themselves


def test_neighbour_pictures_are_decoded_only_when_a_framing_uses_them_and_samples_do_not_change(tmp_path, astronaut, monkeypatch):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    bank = reframed.SourceBank(sources, root, "train")
    decoded = []
    load = bank.image
    monkeypatch.setattr(bank, "image", lambda index: decoded.append(index) or load(index))
    stream = reframed.ReframedStream(bank, {"real:toy": 0.5, "fake:toy": 0.5}, 64, 0.3, seed=0)

    def samples() -> list:
        rng = np.random.default_rng(3)
        return [stream.sample(rng) for _ in range(24)]

    lazy = samples()
    lazy_decodes, decoded[:] = len(decoded), []
    monkeypatch.setattr(reframed, "LazyPictures", lambda load, indices: [load(i) for i in indices])
    eager = samples()
    assert all(np.array_equal(a[0], b[0]) and a[1:] == b[1:] for a, b in zip(lazy, eager))
    assert len(decoded) == 24 * 3 and 24 <= lazy_decodes < len(decoded)


def test_a_temperature_fit_on_non_finite_logits_leaves_the_scores_alone():
    from detector.training.calibrate import fit_temperature

    labels = np.array([0.0, 1.0, 0.0, 1.0])
    assert fit_temperature(labels, np.array([np.nan, 1.0, -2.0, 3.0])) == 1.0
    assert 0.05 <= fit_temperature(labels, np.array([-1.0, 1.5, -2.0, 0.5])) <= 20.0


def test_reals_excess_counts_only_logits_above_the_start():
    import torch

    from detector.training.reframed import reals_excess

    start = torch.tensor([0.0, 0.0, 1.0])
    assert reals_excess(torch.tensor([-2.0, -0.5, 0.0]), start).item() == 0.0  # more real than the start: free
    assert reals_excess(torch.tensor([1.0, 0.0, 3.0]), start).item() == pytest.approx((1.0 + 0.0 + 4.0) / 3)
    assert reals_excess(torch.zeros(0), torch.zeros(0)).item() == 0.0  # a batch without reals


def test_hold_reals_trains_and_is_recorded(tmp_path, astronaut, tiny_checkpoint, capsys):
    from detector.training import reframed

    sources, root = toy_sources(tmp_path, astronaut)
    common = ["--sources", str(sources), "--root", str(root), "--init", str(tiny_checkpoint), "--version", "9.9.9",
              "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4", "--workers", "0", "--val-per-stream", "3",
              "--shares", "real:toy=0.5", "fake:toy=0.5", "--input-size", "96"]
    assert reframed.main([*common, "--out", str(tmp_path / "held"), "--hold-reals", "2"]) == 0
    assert json.loads((tmp_path / "held" / "best" / "config.json").read_text())["training"]["hold_reals"] == 2.0
    assert reframed.main([*common, "--out", str(tmp_path / "still"), "--hold-still", "1", "--video-p", "0.5"]) == 0
    assert json.loads((tmp_path / "still" / "best" / "config.json").read_text())["training"]["hold_still"] == 1.0
    assert reframed.main([*common, "--out", str(tmp_path / "bad"), "--hold-still", "-1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --hold-still")
    assert reframed.main([*common, "--out", str(tmp_path / "bad"), "--hold-reals", "-1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --hold-reals")


def test_the_stream_says_which_samples_became_video_frames_without_changing_them(tmp_path, astronaut, monkeypatch):
    """The flag is drawn where reframed_crop drew it, so a seed's samples are the ones earlier runs drew."""
    from detector.training import compose, reframed

    monkeypatch.setattr(compose, "h264_roundtrip", lambda picture, crf: np.asarray(picture) // 2)  # a frame is darker
    sources, root = toy_sources(tmp_path, astronaut)
    bank = reframed.SourceBank(sources, root, "train")
    stream = reframed.ReframedStream(bank, {"real:toy": 0.5, "fake:toy": 0.5}, 64, 0.3, seed=0, video_p=0.5)
    rng = np.random.default_rng(5)
    flagged = [stream.sample(rng) for _ in range(30)]
    assert 5 <= sum(s[3] for s in flagged) <= 25

    rng = np.random.default_rng(5)
    original = reframed.reframed_crop
    with monkeypatch.context() as before:  # the stream before the flag: reframed_crop drew the frame itself
        before.setattr(reframed, "video_frame_drawn", lambda rng, p: None)  # None: reframed_crop draws it
        before.setattr(reframed, "reframed_crop", lambda *a, video=None, **k: original(*a, video_p=0.5, **k))
        old = [stream.sample(rng) for _ in range(30)]
    assert all(np.array_equal(new[0], was[0]) and new[1:3] == was[1:3] for new, was in zip(flagged, old))


def test_hold_still_moves_only_video_frames_and_real_samples_down():
    import torch
    from torch import nn

    from detector.training.reframed import held_to_start, still_change

    assert still_change(torch.tensor([1.0, -1.0]), torch.tensor([0.0, 0.0])).item() == 1.0  # both ways
    assert still_change(torch.zeros(0), torch.zeros(0)).item() == 0.0
    scored = []

    class Start(nn.Module):  # logits 0 for every sample; records how many it was asked to score
        def forward(self, x):
            scored.append(len(x))
            return torch.zeros(len(x), 1)

    inputs = torch.zeros(4, 3, 8, 8)
    logits = torch.tensor([2.0, -1.0, 3.0, -2.0])
    targets = torch.tensor([0.0, 0.0, 1.0, 1.0])
    video = torch.tensor([False, True, False, True])
    # reals: 2.0 above the start counts (4), -1.0 below does not; still (not video): (2^2 + 3^2) / 2
    assert held_to_start(Start(), inputs, logits, targets, video, 1.0, 0.0).item() == pytest.approx(4 / 2)
    assert held_to_start(Start(), inputs, logits, targets, video, 0.0, 1.0).item() == pytest.approx((4 + 9) / 2)
    assert held_to_start(Start(), inputs, logits, targets, video, 1.0, 0.5).item() == pytest.approx(2 + 6.5 / 2)
    assert scored == [2, 2, 3]  # the start scores only the samples a penalty needs


def test_one_seed_draws_the_same_training_samples_twice(tmp_path, astronaut, monkeypatch):
    import itertools
    import os

    from detector.training.reframed import DEFAULT_FRAMING_WEIGHTS, ReframedStream, SourceBank

    # Each run's workers are new processes: the samples must not depend on which process draws them.
    pids = itertools.count(1000)
    monkeypatch.setattr(os, "getpid", lambda: next(pids))
    sources, root = toy_sources(tmp_path, astronaut)
    bank = SourceBank(sources, root, "train")

    def first(seed: int) -> list:
        stream = ReframedStream(bank, {"real:toy": 0.5, "fake:toy": 0.5}, 64, 0.3, seed, DEFAULT_FRAMING_WEIGHTS)
        samples = iter(stream)
        return [next(samples) for _ in range(3)]

    a, b, c = first(3), first(3), first(4)
    assert all(np.array_equal(x[0], y[0]) and x[1:] == y[1:] for x, y in zip(a, b))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c))
