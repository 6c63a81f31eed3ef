"""Face-swap clips in H.264 (benchmarks.video_swaps) and the clip pieces it shares with benchmarks.video_clips."""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest

from benchmarks import swap_render, video_swaps
from benchmarks.video_clips import SIZE, compose_frames
from detector import display
from detector.training.compose import h264_bytes
from detector.training.reframed import SourceBank
from tests.test_reframed_training import toy_sources


def decoded(data: bytes) -> tuple[str, list[np.ndarray]]:
    with av.open(io.BytesIO(data)) as container:
        return container.streams.video[0].codec_context.name, [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(128, 40, (180, 160, 3)), 0, 255).astype(np.uint8)


def test_h264_bytes_is_an_h264_video_of_its_frames_whose_loss_grows_with_the_crf():
    frames = compose_frames(lambda i: textured(0), seed=3, seconds=1.0, fps=10.0)
    errors = {}
    for crf in (18, 40):
        data = h264_bytes(frames, 10.0, crf)
        assert data == h264_bytes(frames, 10.0, crf)  # one encoder thread: the same bytes every run
        codec, back = decoded(data)
        assert codec == "h264" and len(back) == len(frames) and back[0].shape == (SIZE[1], SIZE[0], 3)
        errors[crf] = np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, back)])
    assert errors[18] < errors[40] and errors[18] < 8


def test_compose_frames_moves_every_picture_along_the_same_path():
    a, b = textured(1), textured(2)
    alternating = compose_frames(lambda i: a if i % 2 == 0 else b, seed=5, seconds=1.0, fps=10.0)
    only_a = compose_frames(lambda i: a, seed=5, seconds=1.0, fps=10.0)
    only_b = compose_frames(lambda i: b, seed=5, seconds=1.0, fps=10.0)
    for i, frame in enumerate(alternating):
        assert np.array_equal(frame, (only_a if i % 2 == 0 else only_b)[i])
    assert not np.array_equal(only_a[0], compose_frames(lambda i: a, seed=6, seconds=1.0, fps=10.0)[0])


def test_a_clip_draws_its_swap_in_every_frame_or_once(tmp_path, astronaut):
    sources, root = toy_sources(tmp_path, astronaut)
    bank = SourceBank(sources, root, "val")
    target, donor = bank.reals_with_points[:2]
    images = {target: bank.image(target), donor: bank.image(donor)}
    for way in ("sharp", "sbi"):
        per_frame = video_swaps.clip_frames(bank, target, donor, way, images)
        once = video_swaps.clip_frames(bank, target, donor, way, images, video_swaps.ClipMaking(per_frame=False))
        real = video_swaps.clip_frames(bank, target, donor, "real", images)
        # Drawn once, every frame shows benchmarks.swap_render's swapped picture, moved as the real clip moves.
        picture = swap_render.swapped(bank, target, images[target], donor, images[donor], way)
        placed = compose_frames(lambda i, picture=picture: picture, seed=swap_render.seed_of(bank.pictures[target].file, "motion") % 2**32)
        assert all(np.array_equal(a, b) for a, b in zip(once, placed))
        assert not np.array_equal(per_frame[0], once[0]) and not np.array_equal(once[0], real[0])


def test_a_swap_is_drawn_anew_for_each_frame_and_repeats_with_its_seed(tmp_path, astronaut):
    sources, root = toy_sources(tmp_path, astronaut)
    bank = SourceBank(sources, root, "val")
    target, donor = bank.reals_with_points[:2]
    image, donor_image = bank.image(target), bank.image(donor)
    for way in ("sharp", "sbi"):
        first = swap_render.swapped(bank, target, image, donor, donor_image, way, draw="frame0")
        assert np.array_equal(first, swap_render.swapped(bank, target, image, donor, donor_image, way, draw="frame0"))
        assert not np.array_equal(first, swap_render.swapped(bank, target, image, donor, donor_image, way, draw="frame1"))
        assert not np.array_equal(first, image)
    # Without a draw the picture's seed is the one swap_render's stored results were made with.
    legacy = swap_render.self_blend(image, bank.pictures[target].faces[0]["box"], np.array(bank.pictures[target].faces[0]["landmarks"]),
                                    bank.pictures[target].outline, np.random.default_rng(swap_render.seed_of(bank.pictures[target].file, "sbi")))
    assert np.array_equal(legacy, swap_render.swapped(bank, target, image, donor, donor_image, "sbi"))


def row(file: str, way: str, p_fake: float | None, verdict: str, crf: int = 40) -> dict:
    view = None if verdict == video_swaps.NO_FACE else {rule: (p_fake if p_fake is not None else 0.5) for rule in video_swaps.RULES}
    return {"file": file, "set": "toy", "way": way, "crf": crf, "verdict": verdict, "p_fake": p_fake, "model_view": view}


def test_the_summary_pairs_each_swap_with_its_real_clip_and_sets_unjudged_clips_aside():
    rows = []
    for i in range(6):
        rows.append(row(f"{i}.jpg", "real", 0.1 + 0.05 * i, display.NO_SIGN_FOUND))
        rows.append(row(f"{i}.jpg", "sharp", 0.9 - 0.05 * i, display.LIKELY_MANIPULATED))
        rows.append(row(f"{i}.jpg", "sbi", 0.22 + 0.05 * i, display.NO_SIGN_FOUND))  # swaps that overlap their reals
    rows[1].update(p_fake=None, verdict=display.TOO_SMALL)  # one swap clip not judged: left out of the app's AUC only
    rows.append(row("6.jpg", "sharp", 0.99, display.LIKELY_MANIPULATED))  # no real clip to pair with: left out
    summary = video_swaps.summarise(rows, [40])["40"]
    assert summary["real"] == {"clips": 6, "verdicts": {display.NO_SIGN_FOUND: 1.0}}
    sharp = summary["sharp"]
    assert sharp["clips"] == 6 and sharp["app_pairs"] == 5 and sharp["app_auc"] == 1.0
    assert sharp["verdicts"] == {display.LIKELY_MANIPULATED: round(5 / 6, 4), display.TOO_SMALL: round(1 / 6, 4)}
    assert sharp["model_view_auc"]["mean"] == 1.0  # the model's view keeps the unjudged clip (0.5 > every real)
    assert summary["sbi"]["app_auc"] == round(30 / 36, 4)  # a swap above its real in 30 of the 36 pairs


def test_the_benchmark_judges_every_clip_as_the_video_page_does_and_writes_its_result(tmp_path, astronaut, tiny_checkpoint):
    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / "results" / "video_swaps_tiny.json"
    args = ["--sources", str(sources), "--root", str(root), "--split", "val", "--model", str(tiny_checkpoint),
            "--per-set", "2", "--crf", "40", "--out", str(out)]
    assert video_swaps.main(args) == 0
    result = json.loads(out.read_text())
    assert [(r["way"], r["crf"]) for r in result["rows"]] == [(way, 40) for _ in range(2) for way in video_swaps.WAYS]
    codes = {display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND, display.CANT_TELL, *display.NOT_JUDGED, video_swaps.NO_FACE}
    for clip in result["rows"]:
        assert clip["verdict"] in codes and clip["frames"] == video_swaps.MAX_FRAMES
        if clip["verdict"] != video_swaps.NO_FACE:
            assert len(clip["p_fake_per_frame"]) >= 1 and clip["median_face_px"] > 50
    assert set(result["summary"]["40"]) == {"real", "sharp", "sbi"}
    # A smaller moving picture gives smaller faces (the size of faces in a shared video's whole frames).
    assert video_swaps.main([*args[:-1], str(tmp_path / "small.json"), "--picture-height", "0.3", "0.35"]) == 0
    small = json.loads((tmp_path / "small.json").read_text())
    assert small["picture_height"] == [0.3, 0.35]
    sizes = [[r["median_face_px"] for r in run["rows"] if "median_face_px" in r] for run in (result, small)]
    assert sizes[1] and max(sizes[1]) < min(sizes[0])

    # The Metrics page's table: a row per CRF and kind of clip, broken files left out.
    from detector.evaluation.run_metrics import video_swap_frame

    (out.parent / "video_swaps_broken.json").write_text("{not json")
    (out.parent / "video_swaps_old.json").write_text(json.dumps({"model": "x", "summary": {"40": {}}}))
    frame = video_swap_frame(out.parent)
    assert list(frame["clips"]) == ["real (left as it is)", "classical swap", "self-blended"] and set(frame["CRF"]) == {40}
    assert set(frame["n"]) == {2} and frame["AUC"].iloc[0] != frame["AUC"].iloc[0]  # no AUC for the real clips (NaN)
    shares = frame[["likely manipulated", "can't tell", "not judged"]].sum(axis=1)
    given = result["summary"]["40"]
    assert [round(1 - x, 4) for x in shares] == [given[c]["verdicts"].get(display.NO_SIGN_FOUND, 0.0) for c in ("real", "sharp", "sbi")]
    assert video_swap_frame(tmp_path / "nowhere").empty


@pytest.mark.parametrize("make", ["missing", "no_points"])
def test_the_benchmark_refuses_sources_it_cannot_use_with_one_line(tmp_path, astronaut, capsys, make):
    sources, root = toy_sources(tmp_path, astronaut)
    if make == "missing":
        sources = tmp_path / "nowhere"
    else:
        data = json.loads((sources / "sources.json").read_text())
        for record in data["records"]:
            record["faces"][0]["landmarks"] = None
        (sources / "sources.json").write_text(json.dumps(data))
    assert video_swaps.main(["--sources", str(sources), "--root", str(root), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def rule_result(n: int = 30, seed: int = 0) -> dict:
    """A video_swaps result whose swapped clips have one strongly fake frame among frames like their real clip's."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for crf in (23, 40):
            base = rng.uniform(0.1, 0.6, 12)
            rows.append({"file": f"{i}.jpg", "crf": crf, "way": "real", "p_fake_per_frame": (base + rng.uniform(0, 0.3)).clip(0, 1).tolist()})
            for way in ("sharp", "sbi"):
                frames = base.copy()
                frames[:3] = 0.99  # a quarter of the frames give the swap away
                rows.append({"file": f"{i}.jpg", "crf": crf, "way": way, "p_fake_per_frame": frames.tolist()})
    return {"crf": [23, 40], "threshold": 0.5, "rows": rows}


def test_the_rule_comparison_finds_the_rule_that_follows_the_frames_giving_a_swap_away(tmp_path, capsys):
    result = rule_result()
    better = video_swaps.rule_difference(result, "mean", "top_quarter_mean", n_boot=200)
    assert better["pictures"] == 30 and better["candidate_auc"] == 1.0
    assert better["difference"] > 0.1 and better["low"] > 0
    same = video_swaps.rule_difference(result, "median", "median", n_boot=50)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    assert video_swaps.main(["--rules", str(path), "mean", "top_quarter_mean", "--boot", "50"]) == 0
    assert json.loads(capsys.readouterr().out)["candidate"] == "top_quarter_mean"
    result["rows"] = [r for r in result["rows"] if not (r["way"] == "sbi" and r["file"] != "0.jpg")]  # clips missing
    path.write_text(json.dumps(result))
    assert video_swaps.main(["--rules", str(path), "mean", "top_quarter_mean"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
