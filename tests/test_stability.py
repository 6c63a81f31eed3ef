"""Stability check and 'too small to judge' (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from detector import display
from detector.config import ModelConfig
from detector.faces import Face, crop_face, square_crop_box
from detector.inference import FaceResult
from detector.stability import PERTURBATIONS, AbstainRules, FaceStability, check_faces, judge, perturbed_crops


class PlantedDetector:
    """A stand-in model: its logit is `gain` x (left half brightness - right half brightness) + bias.

    A face whose left half is brighter scores fake, and its mirrored copy scores real: the
    planted case of a verdict that flips under one perturbation."""

    def __init__(self, gain: float, bias: float = 0.0) -> None:
        self.config = ModelConfig(threshold=0.5, uncertain_margin=0.1, temperature=1.0)
        self.gain, self.bias, self.calls = gain, bias, []

    def classify(self, crops):
        self.calls.append(len(crops))
        arrays = np.stack([np.asarray(c, dtype=np.float32) / 255.0 for c in crops])
        half = arrays.shape[2] // 2
        return self.gain * (arrays[:, :, :half].mean(axis=(1, 2, 3)) - arrays[:, :, half:].mean(axis=(1, 2, 3))) + self.bias

    def p_fake_from_logits(self, logits):
        return torch.sigmoid(torch.as_tensor(logits, dtype=torch.float32)).numpy()


def planted_picture(face_side: int = 120) -> tuple[Image.Image, Face]:
    """A grey picture holding one 'face' whose left half is bright and right half dark."""
    picture = np.full((400, 400, 3), 128, dtype=np.uint8)
    x1, y1 = 140, 140
    picture[y1:y1 + face_side, x1:x1 + face_side // 2] = 230
    picture[y1:y1 + face_side, x1 + face_side // 2:x1 + face_side] = 30
    image = Image.fromarray(picture)
    box = (float(x1), float(y1), float(x1 + face_side), float(y1 + face_side))
    return image, Face(box=box, prob=0.999, landmarks=None, crop_box=square_crop_box(box, image.size, 0.3))


def face_result(detector, image: Image.Image, face: Face, index: int = 0) -> FaceResult:
    crop = crop_face(image, face.crop_box, detector.config.input_size)
    p = float(detector.p_fake_from_logits(detector.classify([crop]))[0])
    return FaceResult(index, face, crop, 0.0, p, detector.config.verdict(p))


def test_planted_face_whose_copies_disagree_is_cant_tell():
    detector = PlantedDetector(gain=20.0)
    image, face = planted_picture()
    result = face_result(detector, image, face)
    assert result.label == "fake"  # on its own the planted face is called fake...
    (stability,) = check_faces(detector, image, [result], AbstainRules())
    assert "flip" in stability.flipped  # ...its mirror image is called real...
    assert stability.verdict == display.CANT_TELL  # ...so the answer is "can't tell"
    assert stability.low < 0.5 < stability.high and "flips under" in stability.reasons[0]


def test_stable_face_keeps_its_verdict():
    detector = PlantedDetector(gain=0.0, bias=4.0)  # every copy scores the same, clearly fake
    image, face = planted_picture()
    (stability,) = check_faces(detector, image, [face_result(detector, image, face)], AbstainRules())
    assert stability.flipped == [] and stability.verdict == display.LIKELY_MANIPULATED
    assert set(stability.p_fake_by_change) == set(PERTURBATIONS) and len(PERTURBATIONS) == 11


def test_all_faces_all_copies_in_one_forward_pass():
    detector = PlantedDetector(gain=20.0)
    image, face = planted_picture()
    other = Face(box=(10.0, 10.0, 70.0, 70.0), prob=0.99, landmarks=None, crop_box=square_crop_box((10, 10, 70, 70), image.size))
    faces = [face_result(detector, image, face), face_result(detector, image, other, 1)]
    detector.calls.clear()
    assert len(check_faces(detector, image, faces, AbstainRules())) == 2
    assert detector.calls == [2 * len(PERTURBATIONS)]


def test_a_crowd_is_scored_in_passes_of_bounded_size():
    from detector.stability import FACES_PER_PASS

    detector = PlantedDetector(gain=20.0)
    image, face = planted_picture()
    faces = [face_result(detector, image, face, i) for i in range(FACES_PER_PASS + 2)]
    detector.calls.clear()
    checks = check_faces(detector, image, faces, AbstainRules())
    assert detector.calls == [FACES_PER_PASS * len(PERTURBATIONS), 2 * len(PERTURBATIONS)]
    assert len({tuple(c.p_fake_by_change.values()) for c in checks}) == 1  # same face, same copies, same scores


def test_a_pictures_crops_and_all_their_copies_are_scored_in_one_call(detector, astronaut):
    from detector.stability import analyze_checked

    calls, classify = [], detector.classify
    detector.classify = lambda crops: (calls.append(len(crops)), classify(crops))[1]
    try:
        checked = analyze_checked(detector, astronaut, AbstainRules())
    finally:
        del detector.classify  # the instance attribute goes: the method is back
    faces = checked.result.faces
    assert faces and calls == [len(faces) * (1 + len(PERTURBATIONS))]  # no pass for the face's crop alone
    plain = detector.analyze(astronaut)
    assert [f.p_fake for f in faces] == pytest.approx([f.p_fake for f in plain.faces], abs=1e-5)
    for together, apart in zip(checked.checks, check_faces(detector, astronaut, faces, AbstainRules())):
        assert together.p_fake_by_change == pytest.approx(apart.p_fake_by_change, abs=1e-5)


def test_a_crowds_copies_are_still_scored_in_bounded_calls():
    from detector.inference import ImageResult
    from detector.stability import FACES_PER_PASS, analyze_checked

    class Crowd(PlantedDetector):
        def analyze(self, image, extra=None):
            image, face = planted_picture()
            faces = [face_result(self, image, face, i) for i in range(FACES_PER_PASS + 2)]
            more = extra(image, [f.face for f in faces]) if extra else None
            return ImageResult(faces, 0.0, 0.0, [], None if more is None else self.p_fake_from_logits(self.classify(more)))

    crowd = Crowd(gain=20.0)
    checks = analyze_checked(crowd, planted_picture()[0], AbstainRules()).checks
    assert crowd.calls[FACES_PER_PASS + 2:] == [FACES_PER_PASS * len(PERTURBATIONS), 2 * len(PERTURBATIONS)]
    assert len(checks) == FACES_PER_PASS + 2 and all("flip" in c.flipped for c in checks)


def test_tolerated_disagreement_is_a_measured_setting():
    p_fake_by_change = {name: 0.9 for name in PERTURBATIONS} | {"flip": 0.2}
    strict = judge(0.9, "fake", p_fake_by_change, 100, 500, 0.99, False, 0.5, AbstainRules(max_disagree=0))
    lenient = judge(0.9, "fake", p_fake_by_change, 100, 500, 0.99, False, 0.5, AbstainRules(max_disagree=1))
    assert strict[0] == display.CANT_TELL and lenient[0] == display.LIKELY_MANIPULATED
    assert strict[2] == lenient[2] == ["flip"]


def test_blur_and_detector_confidence_floors():
    stable = {name: 0.9 for name in PERTURBATIONS}
    rules = AbstainRules(min_face_px=30, min_sharpness=50.0, min_face_prob=0.97)
    assert judge(0.9, "fake", stable, 100, 10.0, 0.99, False, 0.5, rules)[0] == display.TOO_BLURRED
    assert judge(0.9, "fake", stable, 100, 500.0, 0.95, False, 0.5, rules)[0] == display.UNCLEAR_FACE
    # a fallback face (no face detected: whole picture) has no detector confidence to test
    assert judge(0.9, "fake", stable, 100, 500.0, 0.0, True, 0.5, rules)[0] == display.LIKELY_MANIPULATED


def test_perturbed_copies_differ_from_the_original_and_stay_model_sized(astronaut):
    face = Face(box=(180.0, 60.0, 330.0, 250.0), prob=0.99, landmarks=None,
                crop_box=square_crop_box((180, 60, 330, 250), astronaut.size))
    original = np.asarray(crop_face(astronaut, face.crop_box, 224), dtype=np.float32)
    crops = perturbed_crops(astronaut, face, 224, 0.3)
    assert len(crops) == len(PERTURBATIONS) and all(c.size == (224, 224) for c in crops)
    for name, crop in zip(PERTURBATIONS, crops):
        assert np.abs(np.asarray(crop, dtype=np.float32) - original).mean() > 0.3, name


def test_copies_built_on_two_threads_are_the_copies_built_on_one(monkeypatch, astronaut):
    import threading

    from detector import stability

    face = Face(box=(180.0, 60.0, 330.0, 250.0), prob=0.99, landmarks=None,
                crop_box=square_crop_box((180, 60, 330, 250), astronaut.size))
    seen = set()
    jpeg = stability.PIXEL_CHANGES["jpeg90"]
    monkeypatch.setitem(stability.PIXEL_CHANGES, "jpeg90", lambda region: (seen.add(threading.get_ident()), jpeg(region))[1])
    monkeypatch.setenv("DFX_THREADS", "1")
    alone = perturbed_crops(astronaut, face, 224, 0.3)
    assert seen == {threading.get_ident()}  # one free core: built in the calling thread
    monkeypatch.setenv("DFX_THREADS", "2")
    seen.clear()
    side_by_side = perturbed_crops(astronaut, face, 224, 0.3)
    assert seen and threading.get_ident() not in seen  # two: built by the pool's threads
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(alone, side_by_side))  # same pixels, same order


def test_twenty_pixel_face_is_too_small_to_judge(shipped_detector, astronaut):
    rules = AbstainRules.for_checkpoint(shipped_detector.checkpoint)
    if rules.min_face_px is None:
        pytest.skip(f"the shipped model has no size limit: {rules.source}")
    assert rules.min_face_px > 20
    small = astronaut.resize((astronaut.width * 20 // 150, astronaut.height * 20 // 150), Image.BICUBIC)
    scale = small.width / astronaut.width
    box = tuple(v * scale for v in (180.0, 60.0, 330.0, 210.0))  # the astronaut's face, 20 px wide
    face = Face(box=box, prob=0.99, landmarks=None, crop_box=square_crop_box(box, small.size))
    (stability,) = check_faces(shipped_detector, small, [face_result(shipped_detector, small, face)], rules)
    assert round(stability.face_px) == 20
    assert stability.verdict == display.TOO_SMALL and not stability.judged
    assert stability.line().startswith("too small to judge") and "P(fake)" not in stability.line()


def test_rules_file_round_trip_and_what_a_new_model_inherits(tmp_path):
    assert AbstainRules.for_checkpoint(tmp_path).measured is False
    config = {"name": "m", "version": "1.0.0", "architecture": "tf_efficientnet_lite0", "input_size": 224, "crop_margin": 0.3}
    (tmp_path / "config.json").write_text(json.dumps(config))
    measured = AbstainRules(min_face_px=40, min_sharpness=9.0, max_disagree=2, measured=True, model="m 1.0.0",
                            model_input="tf_efficientnet_lite0 224 px, crop margin 0.3")
    (tmp_path / "abstain.json").write_text(measured.to_json())
    rules = AbstainRules.for_checkpoint(tmp_path)
    assert rules.min_face_px == 40 and rules.max_disagree == 2 and rules.measured
    # a new model shipped into the folder, same backbone and input: only the size limit carries over
    (tmp_path / "config.json").write_text(json.dumps({**config, "version": "2.0.0"}))
    carried = AbstainRules.for_checkpoint(tmp_path)
    assert not carried.measured and carried.min_face_px == 40
    assert carried.min_sharpness is None and carried.max_disagree == 0 and "m 1.0.0" in carried.source
    assert "too small to judge" in carried.summary()
    # another input size: nothing carries over
    (tmp_path / "config.json").write_text(json.dumps({**config, "version": "2.0.0", "input_size": 256}))
    stale = AbstainRules.for_checkpoint(tmp_path)
    assert not stale.measured and stale.min_face_px is None and "m 1.0.0" in stale.source


def test_json_never_claims_certainty():
    stability = FaceStability(0.99999, {"flip": 0.0}, ["flip"], 100.0, 300.0, 0.99, display.CANT_TELL, ["x"])
    data = stability.to_dict()
    assert 0 < data["p_fake_low"] and data["p_fake_high"] < 1
    assert data["verdict_words"] == "can't tell" and data["flips"] is True


def test_shipped_limits_and_their_evidence_read_as_tables(shipped_detector):
    from detector.stability import evidence_tables

    rules = AbstainRules.for_checkpoint(shipped_detector.checkpoint)
    if not rules.measured:
        pytest.skip("the shipped model has no measured abstain.json yet")
    tables = evidence_tables(rules)
    assert [row["face size (px)"] for row in tables["size"]][:6] == ["24", "32", "48", "64", "96", "128"]
    kinds = {(row["data"], row["pictures"]) for row in tables["selective"]}
    assert {("validation", "all"), ("validation", "original"), ("validation", "screenshot")} <= kinds
    if "test_before" in rules.evidence:
        assert {("test", "original"), ("test", "screenshot")} <= kinds
    assert all(row["verdict given, after"].endswith("%") for row in tables["selective"])
    assert "48 px" not in AbstainRules().summary() and "too small to judge" in rules.summary()
    assert evidence_tables(AbstainRules()) == {"size": [], "selective": []}


def test_video_track_of_small_faces_is_too_small_to_judge():
    from detector.stability import track_verdict
    from detector.video import Track

    config = ModelConfig(threshold=0.5, uncertain_margin=0.1)
    image, _ = planted_picture()

    def result(side: float, p: float) -> FaceResult:
        face = Face(box=(10.0, 10.0, 10.0 + side, 10.0 + side), prob=0.99, landmarks=None, crop_box=(0, 0, 50, 50))
        return FaceResult(0, face, image, 0.0, p, config.verdict(p))

    small = Track(1, [0, 1, 2], [result(20, 0.9), result(22, 0.9), result(90, 0.9)])
    large = Track(2, [0, 1, 2], [result(80, 0.9), result(85, 0.9), result(90, 0.9)])
    rules = AbstainRules(min_face_px=48, measured=True)
    assert track_verdict(small, config, rules)[0] == display.TOO_SMALL
    assert track_verdict(large, config, rules)[0] == display.LIKELY_MANIPULATED
    assert track_verdict(small, config, AbstainRules())[0] == display.LIKELY_MANIPULATED


def test_headline_face_is_a_judged_one():
    from detector.stability import CheckedImage

    detector = PlantedDetector(gain=0.0, bias=1.0)
    image, face = planted_picture()
    tiny = Face(box=(10.0, 10.0, 30.0, 30.0), prob=0.99, landmarks=None, crop_box=square_crop_box((10, 10, 30, 30), image.size))
    faces = [face_result(detector, image, face), face_result(detector, image, tiny, 1)]
    faces[1].p_fake = 0.99  # the tiny face scores higher...
    rules = AbstainRules(min_face_px=48, measured=True)
    checked = CheckedImage(type("R", (), {"faces": faces})(), check_faces(detector, image, faces, rules), rules)
    assert checked.checks[1].verdict == display.TOO_SMALL
    assert checked.most_suspicious == 0  # ...but the headline is the face that was judged


def planted_clip(detector, frames: int, rules_margin: float = 0.3):
    """A 'video' of `frames` sampled frames of the planted face, with the windows the check needs."""
    from detector.stability import face_window
    from detector.video import SampledFrame, Track, VideoInfo, VideoResult

    image, face = planted_picture()
    sampled, track = [], Track(1)
    for index in range(frames):
        result = face_result(detector, image, face)
        sampled.append(SampledFrame(index, float(index), image, 1.0, [result], [face_window(image, face, rules_margin)]))
        track.frames.append(index)
        track.faces.append(result)
    return VideoResult(VideoInfo(float(frames), 1.0, frames, *image.size, "planted"), sampled, [track], 0.0)


def test_planted_track_whose_verdict_flips_is_cant_tell():
    from detector.stability import check_tracks, track_verdict

    detector = PlantedDetector(gain=20.0)
    clip = planted_clip(detector, 3)
    (track,) = clip.tracks
    assert track_verdict(track, detector.config, AbstainRules())[0] == display.LIKELY_MANIPULATED  # alone: fake...
    checks = check_tracks(detector, clip, AbstainRules())
    assert "flip" in checks[1].flipped and checks[1].low < 0.5 < checks[1].high  # ...mirrored: real...
    verdict, reasons = track_verdict(track, detector.config, AbstainRules(), checks[1])
    assert verdict == display.CANT_TELL and "flips under" in reasons[0]  # ...so the track is "can't tell"
    assert track_verdict(track, detector.config, AbstainRules(max_disagree=len(checks[1].flipped)), checks[1])[0] == display.LIKELY_MANIPULATED
    data = checks[1].to_dict()
    assert data["flips"] and set(data["perturbations"]) == set(PERTURBATIONS) and data["deciding_frames"] == 3


def test_a_video_uses_its_own_measured_tolerance_else_the_photo_s(tmp_path):
    from detector.stability import check_tracks, track_verdict

    detector = PlantedDetector(gain=20.0)
    clip = planted_clip(detector, 3)
    (track,) = clip.tracks
    check = check_tracks(detector, clip, AbstainRules())[1]
    flips = len(check.flipped)
    assert flips >= 1
    # no video tolerance measured: the photo's decides the track
    assert track_verdict(track, detector.config, AbstainRules(max_disagree=flips - 1), check)[0] == display.CANT_TELL
    assert track_verdict(track, detector.config, AbstainRules(max_disagree=flips), check)[0] == display.LIKELY_MANIPULATED
    assert AbstainRules(max_disagree=flips).video_tolerance() == (flips, "the photo's tolerance; none was measured on videos for this model")
    assert AbstainRules(max_disagree=3).video_tolerance_words() == ("more than 3 of the 11 changes "
                                                                    "(the photo's tolerance; none was measured on videos for this model)")
    assert AbstainRules(max_disagree=3, max_disagree_video=1).video_tolerance_words() == "more than 1 of the 11 changes (measured on validation clips)"
    # a measured video tolerance overrides the photo's for tracks, and only for tracks
    lenient_video = AbstainRules(max_disagree=flips - 1, max_disagree_video=flips)
    assert track_verdict(track, detector.config, lenient_video, check)[0] == display.LIKELY_MANIPULATED
    strict_video = AbstainRules(max_disagree=flips, max_disagree_video=flips - 1)
    assert track_verdict(track, detector.config, strict_video, check)[0] == display.CANT_TELL
    photo = judge(0.9, "fake", {name: 0.1 for name in check.flipped}, 100, 500, 0.99, False, 0.5, strict_video)
    assert photo[0] == display.LIKELY_MANIPULATED  # a picture's face still tolerates `max_disagree`
    # it travels in abstain.json beside the checkpoint, like the photo's
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"name": "m", "version": "1.0.0"}))
    (folder / "abstain.json").write_text(json.dumps({"max_disagree": 3, "max_disagree_video": 5, "measured": True, "model": "m 1.0.0"}))
    assert AbstainRules.for_checkpoint(folder).video_tolerance() == (5, "measured on validation clips")
    assert "more than 5 of the changes" in AbstainRules.for_checkpoint(folder).summary()
    assert "flips under any of the changes" in AbstainRules(max_disagree=2, max_disagree_video=0, measured=True).summary()
    assert AbstainRules(max_disagree=2, max_disagree_video=0).video_tolerance_words().startswith("any of the 11 changes")
    (folder / "abstain.json").write_text(json.dumps({"max_disagree": 3, "measured": True, "model": "m 1.0.0"}))
    assert AbstainRules.for_checkpoint(folder).video_tolerance()[0] == 3  # an older file: the photo's


def test_track_check_is_bounded_and_skips_tracks_too_small_to_judge():
    from detector.stability import TRACK_FRAMES, check_tracks

    detector = PlantedDetector(gain=0.0, bias=4.0)  # every copy of every frame clearly fake
    clip = planted_clip(detector, 3 * TRACK_FRAMES)
    detector.calls.clear()
    check = check_tracks(detector, clip, AbstainRules())[1]
    assert sum(detector.calls) == TRACK_FRAMES * len(PERTURBATIONS)  # not 24 frames x 11 copies
    assert len(check.frames_checked) == TRACK_FRAMES and check.deciding == 3 * TRACK_FRAMES and check.flipped == []
    assert check.frames_checked[0] == 0 and check.frames_checked[-1] == 3 * TRACK_FRAMES - 1  # spread over the track
    detector.calls.clear()
    assert check_tracks(detector, clip, AbstainRules(min_face_px=500)) == {} and detector.calls == []


def test_deciding_frames_follow_the_confident_frames_rule():
    from detector.video import confident_frames_score, deciding_frames

    many_fake = np.array([0.9] * 12 + [0.5] * 8)
    assert deciding_frames(many_fake).sum() == 12 and confident_frames_score(many_fake) == pytest.approx(0.9)
    mixed = np.array([0.9, 0.1, 0.5])
    assert deciding_frames(mixed).all() and confident_frames_score(mixed) == pytest.approx(0.5)


def test_video_analysis_rescores_tracks_and_frees_the_windows(detector, tmp_path):
    from detector.analysis import analyze_video_file
    from detector.stability import TRACK_FRAMES
    from tests import videos

    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    analysis = analyze_video_file(detector, data, "two.mp4", max_frames=4, rules=AbstainRules())
    assert analysis.tracks and all(frame.windows == [] for frame in analysis.frames)
    for track, row in zip(analysis.tracks, analysis.to_dict()["tracks"]):
        check = track.stability
        assert set(check.p_fake_by_change) == set(PERTURBATIONS) and 0 < len(check.frames_checked) <= TRACK_FRAMES
        assert check.low <= track.p_fake <= check.high
        assert row["stability"] == check.to_dict() and row["verdict"] == track.verdict
    unchecked = analyze_video_file(detector, data, "two.mp4", max_frames=4, rules=AbstainRules(), stability=False)
    assert all(t.stability is None for t in unchecked.tracks)
    assert all(row["stability"] is None for row in unchecked.to_dict()["tracks"])


def test_video_headline_is_a_judged_track():
    from detector.analysis import TrackAnalysis, VideoAnalysis

    detector = PlantedDetector(gain=20.0)
    loud, quiet = planted_clip(detector, 2).tracks[0], planted_clip(PlantedDetector(gain=0.0, bias=1.0), 2).tracks[0]
    assert loud.score > quiet.score
    tracks = [TrackAnalysis(loud, display.TOO_SMALL, ["small"], []), TrackAnalysis(quiet, display.LIKELY_MANIPULATED, [], [])]
    analysis = VideoAnalysis("clip", "", "m", None, tracks, "", AbstainRules(), detector.config)
    assert analysis.worst is tracks[1]  # the louder track was too small to judge: never the headline over a judged one
    analysis.tracks = tracks[:1]
    assert analysis.worst is tracks[0]


def two_sized_clip(config, small_p: float = 0.95, large_p: float = 0.75):
    """A 'video' of three sampled frames holding two people: track 1 small (20 px faces) and louder,
    track 2 large (90 px faces) and quieter."""
    from detector.video import SampledFrame, Track, VideoInfo, VideoResult

    image, _ = planted_picture()

    def result(side: float, p: float, index: int) -> FaceResult:
        face = Face(box=(10.0, 10.0, 10.0 + side, 10.0 + side), prob=0.99, landmarks=None, crop_box=(0, 0, 50, 50))
        return FaceResult(index, face, image, 0.0, p, config.verdict(p))

    frames = [SampledFrame(i, float(i), image, 1.0, [result(20, small_p, 0), result(90, large_p, 1)]) for i in range(3)]
    small = Track(1, [0, 1, 2], [f.faces[0] for f in frames])
    large = Track(2, [0, 1, 2], [f.faces[1] for f in frames])
    return VideoResult(VideoInfo(3.0, 1.0, 3, *image.size, "planted"), frames, [small, large], 0.0)


def test_a_track_too_small_to_judge_never_decides_the_videos_p_fake():
    from detector.analysis import VideoAnalysis, judge_tracks
    from detector.reporting.report import video_report
    from detector.video import video_to_dict

    config = ModelConfig(threshold=0.5, uncertain_margin=0.1)
    clip = two_sized_clip(config)
    small, large = clip.tracks
    assert small.score > large.score and clip.max_track_score == small.score
    rules = AbstainRules(min_face_px=48, measured=True)
    out = video_to_dict(clip, config, rules)
    assert [t["verdict"] for t in out["tracks"]] == [display.TOO_SMALL, display.LIKELY_MANIPULATED]
    assert out["p_fake"] == pytest.approx(large.score, abs=1e-4) and out["headline_track"] == 2  # the judged track decides
    assert out["label"] == config.verdict(large.score)
    assert out["verdict"] == display.LIKELY_MANIPULATED and out["verdict_words"] == display.verdict_words(display.LIKELY_MANIPULATED)
    assert out["p_fake_max_all_tracks"] == pytest.approx(small.score, abs=1e-4)  # the raw max, under its own name
    analysis = VideoAnalysis("clip", "", "m", clip, judge_tracks(clip, config, rules), "", rules, config)
    assert analysis.worst.id == 2 and analysis.p_fake == pytest.approx(large.score)
    assert analysis.to_dict()["p_fake"] == out["p_fake"]
    assert display.format_probability(large.score, 3) in video_report(analysis).summary
    # Without a size limit the louder track is judged and decides.
    assert video_to_dict(clip, config, AbstainRules())["p_fake"] == pytest.approx(small.score, abs=1e-4)
    # Only the small person: no judged track, so no P(fake) and no label; the report says why, without a number.
    clip.tracks = [small]
    out = video_to_dict(clip, config, rules)
    assert out["p_fake"] is None and out["label"] is None and out["headline_track"] is None
    assert out["verdict"] == display.TOO_SMALL  # what the page leads with: too small to judge, not "no verdict"
    assert out["p_fake_max_all_tracks"] == pytest.approx(small.score, abs=1e-4)
    alone = VideoAnalysis("clip", "", "m", clip, judge_tracks(clip, config, rules), "", rules, config)
    summary = video_report(alone).summary
    assert alone.p_fake is None and "P(fake)" in summary and display.format_probability(small.score, 3) not in summary
    assert display.verdict_words(display.TOO_SMALL) in summary and "20 px" in summary


def test_a_face_too_small_to_judge_never_decides_the_pictures_p_fake():
    from detector.analysis import FaceAnalysis, ImageAnalysis
    from detector.inference import ImageResult

    detector = PlantedDetector(gain=0.0, bias=1.0)
    image, face = planted_picture()
    tiny = Face(box=(10.0, 10.0, 30.0, 30.0), prob=0.99, landmarks=None, crop_box=square_crop_box((10, 10, 30, 30), image.size))
    faces = [face_result(detector, image, face), face_result(detector, image, tiny, 1)]
    faces[1].p_fake = 0.99  # the tiny face scores higher
    rules = AbstainRules(min_face_px=48, measured=True)

    def analysis(results):
        checks = check_faces(detector, image, results, rules)
        return ImageAnalysis("p.png", "", "m", image, ImageResult(results, 0.0, 0.0),
                             [FaceAnalysis(r, c.verdict, 1, c) for r, c in zip(results, checks)], "", rules, detector.config)

    both = analysis(faces)
    out = both.to_dict()
    assert both.p_fake == pytest.approx(faces[0].p_fake) and out["p_fake"] == both.p_fake and out["headline_face"] == 1
    assert out["p_fake_max_all_faces"] == pytest.approx(0.99)  # the raw max, under its own name
    assert out["verdict"] == both.headline_face.verdict == out["faces"][0]["verdict"]
    alone = analysis(faces[1:]).to_dict()
    assert alone["p_fake"] is None and alone["headline_face"] is None and alone["p_fake_max_all_faces"] == pytest.approx(0.99)
    assert alone["verdict"] == display.TOO_SMALL and alone["verdict_words"] == display.verdict_words(display.TOO_SMALL)


def test_the_videos_top_level_verdict_is_the_checked_one_the_page_leads_with():
    """The band on the headline track's score says fake; its stability check flips under more changes than
    videos tolerate, so the page says "can't tell": the JSON's top-level verdict must say the same."""
    from detector.analysis import VideoAnalysis, judge_tracks
    from detector.stability import TrackStability
    from detector.video import video_to_dict

    config = ModelConfig(threshold=0.5, uncertain_margin=0.1)
    clip = two_sized_clip(config, small_p=0.1, large_p=0.95)
    large = clip.tracks[1]
    rules = AbstainRules(max_disagree=1, max_disagree_video=1)
    flips = ["jpeg50", "half", "looser"]
    checks = {2: TrackStability(large.score, dict.fromkeys(flips, 0.3), flips, [0, 1, 2], 3)}
    out = video_to_dict(clip, config, rules, checks)
    assert out["label"] == "fake" and out["headline_track"] == 2
    assert out["verdict"] == display.CANT_TELL == out["tracks"][1]["verdict"]
    page = VideoAnalysis("clip", "", "m", clip, judge_tracks(clip, config, rules, checks), "", rules, config)
    assert page.worst.verdict == out["verdict"] and page.to_dict()["verdict"] == out["verdict"]


# ---- the staged check (issue 16's cost) --------------------------------------------------------------------

def uniform_face(image: Image.Image) -> Face:
    """A 'face' on the planted picture's plain grey background: every copy scores the detector's bias alone."""
    return Face(box=(10.0, 10.0, 70.0, 70.0), prob=0.99, landmarks=None, crop_box=square_crop_box((10, 10, 70, 70), image.size))


def test_a_subset_of_copies_is_the_same_pixels_as_in_the_full_set():
    image, face = planted_picture()
    full = dict(zip(PERTURBATIONS, perturbed_crops(image, face, 64, 0.3)))
    names = ("looser", "jpeg50", "flip")
    for name, crop in zip(names, perturbed_crops(image, face, 64, 0.3, names)):
        assert np.array_equal(np.asarray(crop), np.asarray(full[name])), name


def test_staged_check_stops_after_its_first_stage_when_no_copy_flips():
    detector = PlantedDetector(gain=0.0, bias=4.0)  # clearly fake, every copy too
    image, face = planted_picture()
    rules = AbstainRules(first_stage=["tighter", "flip", "jpeg50"])
    result = face_result(detector, image, face)
    detector.calls.clear()
    (check,) = check_faces(detector, image, [result], rules)
    assert detector.calls == [3]  # one pass, the first stage only
    assert list(check.p_fake_by_change) == ["jpeg50", "flip", "tighter"]  # PERTURBATIONS order
    assert check.verdict == display.LIKELY_MANIPULATED and check.copies_scored == 3 and check.stopped_early
    # nothing claims all 11: the JSON, the line, the table cell and the report row say 3 of 11
    assert check.to_dict()["copies_scored"] == 3 and check.to_dict()["copies_total"] == 11
    assert "3 of 11 copies scored" in check.line() and check.range_cell().endswith("(3 of 11)")
    from detector.reporting.report import stability_row

    assert "3 of 11 changed copies scored" in stability_row(check)


def test_staged_check_scores_the_rest_only_for_a_face_a_first_copy_flips():
    detector = PlantedDetector(gain=20.0, bias=3.0)
    image, face = planted_picture()
    faces = [face_result(detector, image, face), face_result(detector, image, uniform_face(image), 1)]
    assert [f.label for f in faces] == ["fake", "fake"]
    rules = AbstainRules(max_disagree=1, first_stage=["flip", "jpeg90", "tighter"])
    detector.calls.clear()
    planted, uniform = check_faces(detector, image, faces, rules)
    assert detector.calls == [2 * 3, len(PERTURBATIONS) - 3]  # both faces' first stage, then the planted face's rest
    assert uniform.copies_scored == 3 and uniform.verdict == display.LIKELY_MANIPULATED
    # the face that went on gets exactly what the one-pass check gives it
    (one_pass,) = check_faces(detector, image, faces[:1], AbstainRules(max_disagree=1))
    assert list(planted.p_fake_by_change) == list(PERTURBATIONS) and planted.copies_note() == "" and not planted.stopped_early
    assert planted.p_fake_by_change == pytest.approx(one_pass.p_fake_by_change)
    assert (planted.verdict, planted.flipped) == (one_pass.verdict, one_pass.flipped)


def test_staged_check_stops_when_the_rest_cannot_change_the_verdict():
    image, face = planted_picture()
    flipping = PlantedDetector(gain=20.0)
    result = face_result(flipping, image, face)
    flipping.calls.clear()
    (check,) = check_faces(flipping, image, [result], AbstainRules(max_disagree=0, first_stage=["flip", "jpeg90"]))
    assert flipping.calls == [2] and check.verdict == display.CANT_TELL  # already more flips than tolerated
    in_band = PlantedDetector(gain=0.0, bias=0.0)  # P(fake) 0.5: the band's "can't tell" whatever the copies say
    result = face_result(in_band, image, face)
    in_band.calls.clear()
    (check,) = check_faces(in_band, image, [result], AbstainRules(first_stage=["flip", "jpeg90"]))
    assert in_band.calls == [2] and check.verdict == display.CANT_TELL


def test_a_pictures_crops_and_first_stage_copies_are_scored_in_one_call(detector, astronaut):
    from detector.stability import analyze_checked

    first = ["tighter", "scale0.5", "flip"]
    calls, classify = [], detector.classify
    detector.classify = lambda crops: (calls.append(len(crops)), classify(crops))[1]
    try:
        checked = analyze_checked(detector, astronaut, AbstainRules(first_stage=first))
    finally:
        del detector.classify
    faces = checked.result.faces
    assert faces and calls[0] == len(faces) * (1 + len(first))
    going_on = sum(c.copies_scored == len(PERTURBATIONS) for c in checked.checks)
    assert calls[1:] == ([going_on * (len(PERTURBATIONS) - len(first))] if going_on else [])
    for staged, full in zip(checked.checks, check_faces(detector, astronaut, faces, AbstainRules())):
        assert staged.p_fake_by_change == pytest.approx({k: full.p_fake_by_change[k] for k in staged.p_fake_by_change}, abs=1e-5)


def test_the_first_stage_is_read_per_model(tmp_path):
    config = {"name": "dfx-lite0", "version": "2.3.0", "architecture": "tf_efficientnet_lite0", "input_size": 288, "crop_margin": 0.3}
    (tmp_path / "config.json").write_text(json.dumps(config))
    measured = AbstainRules(max_disagree=2, measured=True, model="dfx-lite0 2.3.0")
    (tmp_path / "abstain.json").write_text(measured.to_json())
    assert AbstainRules.for_checkpoint(tmp_path).stages() == (PERTURBATIONS, ())  # written before stages: one pass
    first = ["tighter", "scale0.5", "shift-8%", "jpeg50", "shift+8%", "flip", "looser"]
    (tmp_path / "abstain.json").write_text(AbstainRules(**{**json.loads(measured.to_json()), "first_stage": first}).to_json())
    rules = AbstainRules.for_checkpoint(tmp_path)
    assert set(rules.stages()[0]) == set(first) and len(rules.stages()[1]) == len(PERTURBATIONS) - len(first)
    assert "on the other side of the threshold (4 of them scored only when one of the other 7 does)" in rules.summary()
    (tmp_path / "config.json").write_text(json.dumps({**config, "version": "9.9.9"}))
    assert AbstainRules.for_checkpoint(tmp_path).stages() == (PERTURBATIONS, ())  # another model: all 11 at once
    assert AbstainRules(first_stage=["no such copy"]).stages() == (PERTURBATIONS, ())


# ---- exact reuse: a copy whose input is pixel-identical to one already scored is not scored again ---------------

def face_filling_picture() -> tuple[Image.Image, Face]:
    """The planted face filling its picture (as in DFDC's face crops): the crop square is the whole picture, so the
    shifted and looser squares slide or shrink back into it."""
    image, face = planted_picture()
    x1, y1, x2, y2 = face.crop_box
    picture = image.crop(face.crop_box)
    box = tuple(float(v) for v in (face.box[0] - x1, face.box[1] - y1, face.box[2] - x1, face.box[3] - y1))
    return picture, Face(box=box, prob=0.999, landmarks=None, crop_box=square_crop_box(box, picture.size, 0.3))


def test_copies_identical_to_the_faces_crop_are_found_and_really_are_the_same_pixels():
    from detector.stability import FACE_CROP, face_window, reused_inputs

    image, face = face_filling_picture()
    assert face.crop_box == (0, 0, *image.size)
    same = reused_inputs(face_window(image, face, 0.3), PERTURBATIONS)
    assert same == {"shift+8%": FACE_CROP, "shift-8%": FACE_CROP, "looser": FACE_CROP}
    own = np.asarray(crop_face(image, face.crop_box, 64))
    for name, crop in zip(PERTURBATIONS, perturbed_crops(image, face, 64, 0.3)):
        assert np.array_equal(np.asarray(crop), own) == (name in same), name
    # a face inside a larger picture: every re-framed square differs
    assert reused_inputs(face_window(*planted_picture(), 0.3), PERTURBATIONS) == {}


def test_reused_copies_get_exactly_the_scores_a_forward_pass_gives_them_and_skip_it():
    detector = PlantedDetector(gain=20.0, bias=1.0)
    image, face = face_filling_picture()
    result = face_result(detector, image, face)
    detector.calls.clear()
    (check,) = check_faces(detector, image, [result], AbstainRules())
    assert detector.calls == [len(PERTURBATIONS) - 3]  # shift+8%, shift-8% and looser take the face's score
    every = detector.p_fake_from_logits(detector.classify(perturbed_crops(image, face, detector.config.input_size, 0.3)))
    assert list(check.p_fake_by_change) == list(PERTURBATIONS)
    assert list(check.p_fake_by_change.values()) == [float(p) for p in every]  # exact, not approximately
    assert check.flipped == ["flip"] and check.verdict == display.CANT_TELL  # the mirror still flips it (tolerance 0)


def test_analyze_checked_scores_each_distinct_input_once(detector):
    from detector.stability import analyze_checked

    image, _ = face_filling_picture()
    image = image.resize((320, 320))  # a face crop the size the data sets hold: MTCNN finds the planted face or falls back
    calls, classify = [], detector.classify
    detector.classify = lambda crops: (calls.append(len(crops)), classify(crops))[1]
    try:
        checked = analyze_checked(detector, image, AbstainRules())
    finally:
        del detector.classify
    (face,) = checked.result.faces
    (check,) = checked.checks
    crops = perturbed_crops(image, face.face, detector.config.input_size, detector.config.crop_margin)
    every = detector.p_fake_from_logits(detector.classify(crops))
    reused = [n for n, c in zip(PERTURBATIONS, crops) if np.array_equal(np.asarray(c), np.asarray(face.crop))]
    assert reused and calls == [1 + len(PERTURBATIONS) - len(reused)]
    assert check.p_fake_by_change == pytest.approx(dict(zip(PERTURBATIONS, map(float, every))), abs=1e-5)
    assert all(check.p_fake_by_change[n] == face.p_fake for n in reused)


def test_a_shrunk_video_window_never_reuses_the_faces_own_score():
    from detector.stability import face_window, reused_inputs

    image, face = face_filling_picture()
    assert reused_inputs(face_window(image, face, 0.3, max_side=100), PERTURBATIONS) == {"shift-8%": "shift+8%", "looser": "shift+8%"}


# ---- copies built while others are scored (Detector.scores_as_built): the same copies, the same scores -------------

def test_copy_builders_build_exactly_the_copies(astronaut):
    """The functions the as-built plan hands the scorer give the very pixels window_crops builds, copy by copy."""
    from detector.stability import face_window, window_builders, window_crops

    face = Face(box=(180.0, 60.0, 330.0, 250.0), prob=0.99, landmarks=None,
                crop_box=square_crop_box((180, 60, 330, 250), astronaut.size))
    window = face_window(astronaut, face, 0.3)
    for names in (PERTURBATIONS, ("jpeg70", "looser", "scale1.5")):
        built = window_crops(window, 288, names)
        for name, builder, crop in zip(names, window_builders(window, 288, names), built, strict=True):
            assert np.array_equal(np.asarray(builder()), np.asarray(crop)), name


def test_checked_analysis_is_the_same_whether_copies_are_built_first_or_while_scored(monkeypatch, detector, astronaut):
    """Every face's score, every copy's P(fake), the verdicts and the calls: identical (==, not approximately) with the
    copies built before scoring and built by the scorer's cores while it scores, one stage or two, one core or two."""
    from detector.stability import analyze_checked

    class BothStages(AbstainRules):
        def rest_needed(self, verdict, flipped) -> bool:
            return True

    assert detector.scores_as_built(), detector.scorer_note
    picture = astronaut.resize((480, 480))

    def checked(as_built: bool, rules: AbstainRules):
        monkeypatch.setattr(detector, "scores_as_built", lambda: as_built)
        calls, classify = [], detector.classify
        detector.classify = lambda crops: (calls.append(sum(callable(c) for c in crops)), classify(crops))[1]
        try:
            result = analyze_checked(detector, picture, rules)
        finally:
            del detector.classify
        return calls, [(f.logit, f.p_fake) for f in result.result.faces], [(c.p_fake_by_change, c.verdict) for c in result.checks]

    for cores in ("1", "2"):
        monkeypatch.setenv("DFX_THREADS", cores)
        for rules in (AbstainRules(), BothStages(first_stage=["tighter", "scale0.5", "flip"])):
            stages = 2 if rules.stages()[1] else 1
            calls, *after = checked(True, rules)
            assert len(calls) == stages and all(calls), calls  # every stage's copies handed over unbuilt
            before_calls, *before = checked(False, rules)
            assert len(before_calls) == stages and not any(before_calls)  # built first
            assert after == before
