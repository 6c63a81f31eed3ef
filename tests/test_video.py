"""Videos built by the tests: tracking, verdicts, the CLI and every kind of broken file."""

import json

import numpy as np
import pytest
from PIL import Image

from detector import predict
from detector.errors import InputError
from detector.faces import Face
from detector.inference import FaceResult
from detector.video import (
    SampledFrame,
    Track,
    analyze_video,
    colour_histogram,
    confident_frames_score,
    link_tracks,
    sample_times,
    shot_changed,
)
from tests import videos


def test_sampling_is_even_and_capped():
    times = sample_times(60.0, 1.0, 32)
    assert len(times) == 32 and times[0] > 0 and times[-1] < 60
    assert np.allclose(np.diff(times), 60 / 32)
    assert len(sample_times(4.0, 1.0, 32)) == 4


def test_confident_frames_rule():
    assert confident_frames_score(np.array([0.9] * 15 + [0.1] * 5)) == pytest.approx(0.9)
    assert confident_frames_score(np.array([0.05] * 19 + [0.6])) == pytest.approx(0.05)
    assert confident_frames_score(np.array([0.4, 0.6])) == pytest.approx(0.5)


def test_moving_face_is_one_track(tmp_path, detector):
    path = videos.moving_face(tmp_path / "moving.mp4")
    result = analyze_video(detector, path, sample_fps=2.0, max_frames=8)
    assert len(result.frames) == 8
    assert len(result.tracks) == 1 and len(result.tracks[0].frames) == 8
    assert result.max_track_score == pytest.approx(result.tracks[0].score)


@pytest.mark.parametrize("seconds", [2.0, 3.0])
def test_moving_face_at_the_default_rate_is_one_track(tmp_path, detector, seconds):
    # At 1 frame per second the face moves 1.1-1.7 face sizes between samples; it used to split into one track
    # per sampled frame, so one person read as two or three in the report.
    result = analyze_video(detector, videos.moving_face(tmp_path / "moving.mp4", seconds=seconds))
    assert len(result.frames) == int(seconds)
    assert len(result.tracks) == 1 and result.tracks[0].frames == list(range(int(seconds)))


def _planted_frame(index: int, seconds: float, boxes: list[tuple[float, float, float]], shot: int = 0,
                   crop: np.ndarray | None = None) -> SampledFrame:
    """A sampled frame whose faces are squares (left, top, side), each with the same crop (flat grey unless given)."""
    image = np.zeros((8, 8, 3), np.uint8)
    crop = Image.fromarray(np.full((32, 32, 3), 128, np.uint8) if crop is None else crop)
    faces = [FaceResult(i, Face(box=(x, y, x + side, y + side), prob=0.99, landmarks=None, crop_box=(0, 0, 8, 8)),
                        crop, 0.0, 0.5, "uncertain") for i, (x, y, side) in enumerate(boxes)]
    return SampledFrame(index, seconds, image, 1.0, faces, shot=shot)


def _link(frames: list[SampledFrame]) -> list[Track]:
    tracks, next_id = [], 1
    for frame in frames:
        next_id = link_tracks(tracks, frame, next_id)
    return tracks


def test_the_reach_of_a_track_grows_with_the_time_between_samples():
    # 2 face sizes apart: too far for frames 0.5 s apart, within reach 1 s apart
    assert len(_link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 0.5, [(200, 0, 100)])])) == 2
    assert len(_link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 1.0, [(200, 0, 100)])])) == 1
    # 4 face sizes in one second is another face
    assert len(_link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 1.0, [(400, 0, 100)])])) == 2
    # and so after a long gap (a long video sampled 32 times): the reach stops growing at 3 face sizes
    assert len(_link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 18.0, [(400, 0, 100)])])) == 2
    assert len(_link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 18.0, [(240, 0, 100)])])) == 1


def test_after_a_shot_change_only_an_overlapping_face_continues_a_track():
    near = [_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 1.0, [(170, 0, 100)], shot=1)]
    assert len(_link(near)) == 2  # within reach in one shot; another person after a cut
    near[1].shot = 0
    assert len(_link(near)) == 1
    overlapping = [_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 1.0, [(20, 0, 100)], shot=1)]
    assert len(_link(overlapping)) == 1  # the same place after a cut (IoU 0.67): the same person


def test_a_face_that_jumps_must_look_like_the_tracks_face():
    rng = np.random.default_rng(0)
    warm = np.clip(rng.normal((200, 140, 110), 20, (32, 32, 3)), 0, 255).astype(np.uint8)  # two different "faces"
    cold = np.clip(rng.normal((90, 120, 200), 20, (32, 32, 3)), 0, 255).astype(np.uint8)
    lit = np.clip(warm.astype(int) + 25, 0, 255).astype(np.uint8)  # the first in brighter light
    first = _planted_frame(0, 0.0, [(0, 0, 100)], crop=warm)
    assert len(_link([first, _planted_frame(1, 1.0, [(170, 0, 100)], crop=cold)])) == 2  # within reach, someone else
    assert len(_link([first, _planted_frame(1, 1.0, [(170, 0, 100)], crop=lit)])) == 1
    assert len(_link([first, _planted_frame(1, 1.0, [(40, 0, 100)], crop=cold)])) == 1  # overlapping boxes: no look needed


def test_shot_changes_are_told_from_a_face_moving_in_one_shot():
    from PIL import Image

    face = Image.open(videos.SAMPLES / "astronaut.jpg").crop((120, 0, 360, 240)).resize((200, 200))

    def frame(wall, left):
        canvas = Image.new("RGB", (480, 270), wall)
        canvas.paste(face, (left, 30))
        return colour_histogram(canvas)

    grey, blue = (90, 90, 90), (40, 70, 140)
    assert not shot_changed(frame(grey, 10), frame(grey, 250))
    assert not shot_changed(frame(blue, 10), frame(blue, 250))
    assert shot_changed(frame(grey, 10), frame(blue, 10)) and shot_changed(frame(blue, 10), frame((205, 185, 150), 250))


def test_an_interview_cut_between_two_people_is_two_tracks(tmp_path, detector):
    result = analyze_video(detector, videos.interview_cut(tmp_path / "cut.mp4"))
    assert [f.shot for f in result.frames] == [0, 0, 1, 1]
    assert [t.frames for t in result.tracks] == [[0, 1], [2, 3]]


def test_a_much_smaller_face_nearby_starts_its_own_track():
    tracks = _link([_planted_frame(0, 0.0, [(0, 0, 100)]), _planted_frame(1, 1.0, [(120, 0, 50)])])
    assert [t.frames for t in tracks] == [[0], [1]]


def test_two_faces_moving_side_by_side_keep_their_tracks():
    frames = [_planted_frame(i, float(i), [(100 * i, 0, 100), (100 * i + 250, 0, 100)]) for i in range(4)]
    tracks = _link(frames)
    assert len(tracks) == 2
    assert all(t.frames == [0, 1, 2, 3] for t in tracks)
    assert all(len({f.index for f in t.faces}) == 1 for t in tracks)  # no swapping between the two people


def test_two_people_are_two_tracks_from_bytes(tmp_path, detector):
    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    result = analyze_video(detector, data, "two.mp4", sample_fps=1.0, max_frames=3)
    assert len(result.tracks) == 2
    lefts = sorted(t.faces[0].face.box[0] for t in result.tracks)
    assert lefts[0] < 320 < lefts[1]
    assert all(len(t.frames) == 3 for t in result.tracks)


def test_no_face_and_one_frame(tmp_path, detector):
    empty = analyze_video(detector, videos.no_face(tmp_path / "rocket.mp4"))
    assert empty.tracks == [] and empty.max_track_score is None and any("No face" in n for n in empty.notes)
    single = analyze_video(detector, videos.one_frame(tmp_path / "one.mp4"))
    assert len(single.frames) == 1 and len(single.tracks) == 1


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("zero.mp4", lambda p: p.write_bytes(b""), "empty"),
        ("random.mp4", lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a video|no decodable|could not"),
        ("truncated.mp4", None, "not a video|no decodable|could not"),
        ("image.mov", lambda p: p.write_bytes((videos.SAMPLES / "astronaut.jpg").read_bytes()), "no video stream|not a video|no decodable"),
    ],
)
def test_broken_videos_are_clear_errors(tmp_path, detector, name, make, message):
    path = tmp_path / name
    if make is None:
        whole = videos.moving_face(tmp_path / "whole.mp4").read_bytes()
        path.write_bytes(whole[:200])
    else:
        make(path)
    with pytest.raises(InputError, match=message):
        analyze_video(detector, path, name)


def test_zero_frame_video_is_refused(tmp_path, detector):
    import cv2

    path = tmp_path / "zero_frames.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    writer.release()
    with pytest.raises(InputError):
        analyze_video(detector, path, path.name)


def test_stop_button_stops(tmp_path, detector):
    path = videos.moving_face(tmp_path / "moving.mp4")
    calls = []
    result = analyze_video(detector, path, sample_fps=2.0, max_frames=8, progress=lambda d, t: calls.append(d), should_stop=lambda: len(calls) >= 2)
    assert result.stopped and len(result.frames) == 2


def test_predict_cli_video_json(tmp_path, tiny_checkpoint, capsys):
    path = videos.two_people(tmp_path / "two.mp4")
    bad = tmp_path / "bad.webm"
    bad.write_bytes(b"\x1aE\xdf\xa3 not really")
    assert predict.main([str(path), str(bad), "--model", str(tiny_checkpoint), "--json", "--max-frames", "3"]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert len(out) == 1 and out[0]["kind"] == "video"
    assert {"faces", "tracks", "p_fake", "label"} <= set(out[0])
    assert len(out[0]["tracks"]) == 2 and all(len(t["p_fake_per_frame"]) == 3 for t in out[0]["tracks"])
    assert {"box", "p_fake", "frame", "time"} <= set(out[0]["faces"][0])
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "bad.webm" in err[0] and "Traceback" not in captured.err


def test_predict_cli_video_text_leads_with_the_json_verdict(tmp_path, tiny_checkpoint, capsys):
    path = videos.two_people(tmp_path / "two.mp4")
    args = [str(path), "--model", str(tiny_checkpoint), "--max-frames", "3"]
    assert predict.main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0]
    assert predict.main(args) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "provenance:" not in line]
    assert lines[0].startswith(f"{path}: 2 track(s) over 3 frames: {out['verdict_words']}")
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["track 1", "track 2"]
    assert all(t["verdict_words"] in line for t, line in zip(out["tracks"], lines[1:]))


def test_video_text_of_tracks_too_small_to_judge_gives_reasons_not_no_face():
    from detector import display

    small = {"track": 1, "verdict": display.TOO_SMALL, "verdict_words": display.verdict_words(display.TOO_SMALL),
             "reasons": ["median face 40 px, below the 96 px this model needs"], "p_fake": 0.9}
    result = {"tracks": [small], "frames_sampled": 3, "p_fake": None, "verdict": display.TOO_SMALL,
              "verdict_words": small["verdict_words"]}
    text = predict.video_lines("clip.mp4", result)
    assert text.splitlines()[0] == "clip.mp4: 1 track(s) over 3 frames: too small to judge"
    assert "below the 96 px" in text and "0.9" not in text and "no face" not in text
    empty = {"tracks": [], "frames_sampled": 3, "p_fake": None, "verdict": None, "verdict_words": None}
    assert predict.video_lines("clip.mp4", empty).endswith("no face found")


def test_video_page(tmp_path):
    from streamlit.testing.v1 import AppTest

    from detector.analysis import VideoAnalysis
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/analyze_video.py").run()
    assert not at.exception
    at.file_uploader[0].set_value(("two.mp4", videos.two_people(tmp_path / "two.mp4").read_bytes(), "video/mp4")).run()
    assert not at.exception, at.exception
    assert not at.metric  # no delta arrow styling on a probability
    assert any(m.value.startswith("**Video verdict") and "P(fake)" in m.value for m in at.markdown)
    assert any("not trained on" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == 2  # two tracks
    assert "range over frames" in table.columns and "1.00" not in " ".join(table["P(fake) mean"])
    assert len(at.get("plotly_chart")) == 1
    analysis = at.session_state["video_analysis"]  # the page drew the one analysis object, not its own numbers
    assert isinstance(analysis, VideoAnalysis) and analysis.provenance is not None
    assert list(table["verdict"]) == [t.words() for t in analysis.tracks]
    # the tracks' flip tolerance is named with where it comes from (the model's measured one, else the photo's)
    assert any(analysis.rules.video_tolerance_words() in c.value for c in at.caption)
    assert not any("Shot changes" in c.value for c in at.caption)  # one still shot
    at.file_uploader[0].set_value(("cut.mp4", videos.interview_cut(tmp_path / "cut.mp4").read_bytes(), "video/mp4")).run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 2 and any(c.value.startswith("Shot changes (cuts) seen at 2.5 s") for c in at.caption)
    at.file_uploader[0].set_value(("clip.txt", b"nope", "text/plain")).run()
    assert not at.exception and any("cannot be analysed" in e.value for e in at.error)
    at.file_uploader[0].set_value(("broken.mp4", b"\x00\x00\x00\x18ftypmp42 broken", "video/mp4")).run()
    assert not at.exception and any("cannot be analysed" in e.value for e in at.error)


def test_size_and_resolution_limits(tmp_path, detector, monkeypatch):
    import detector.video as video

    data = videos.moving_face(tmp_path / "m.mp4").read_bytes()
    monkeypatch.setattr(video, "MAX_VIDEO_BYTES", 1000)
    with pytest.raises(InputError, match="larger than"):
        analyze_video(detector, data, "big.mp4")
    with pytest.raises(InputError, match="are refused"):
        analyze_video(detector, tmp_path / "m.mp4", "big.mp4")
    monkeypatch.setattr(video, "MAX_VIDEO_BYTES", 10**9)
    monkeypatch.setattr(video, "MAX_VIDEO_PIXELS", 320 * 240)
    with pytest.raises(InputError, match="640x360"):
        analyze_video(detector, data, "wide.mp4")


def test_tracks_are_numbered_and_coloured_apart_on_thumbnails_and_the_report_frame(tmp_path, detector):
    """Issue 19: thumbnails and the report frame did not mark which person is which; two tracks were two similar blues."""
    from detector.reporting.draw import TRACK_PALETTE, draw_tracks, track_colour
    from detector.reporting.report import video_report

    first = [np.array(c, float) for _, c in TRACK_PALETTE[:4]]
    assert min(np.linalg.norm(a - b) for i, a in enumerate(first) for b in first[i + 1:]) > 100
    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    result = analyze_video(detector, data, "two.mp4", sample_fps=1.0, max_frames=3)
    frame = result.frames[0]
    drawn = np.asarray(draw_tracks(frame, result.tracks)).astype(int)
    for track in result.tracks:
        x1, y1, x2, y2 = (round(v * frame.scale) for v in track.faces[0].face.box)
        edge = drawn[min(y2, drawn.shape[0] - 1) - 1, x1 + (x2 - x1) // 2]  # bottom edge of the box
        assert np.abs(edge - np.array(track_colour(track.id))).max() < 40, (track.id, edge)
    from detector.analysis import analyze_video_file

    analysis = analyze_video_file(detector, data, "two.mp4", sample_fps=1.0, max_frames=3)
    assert [len(t.frames) for t in analysis.result.tracks] == [len(t.frames) for t in result.tracks]
    overview = video_report(analysis).overview
    assert np.abs(np.asarray(overview).astype(int) - np.asarray(frame.thumbnail).astype(int)).max() > 100  # boxes drawn


def test_shot_changes_reach_the_json_the_report_and_the_page(tmp_path, detector):
    from detector import display
    from detector.analysis import analyze_video_file
    from detector.reporting.report import video_report

    analysis = analyze_video_file(detector, videos.interview_cut(tmp_path / "cut.mp4").read_bytes(), "cut.mp4", stability=False)
    assert analysis.result.shot_changes == [2.5]
    assert analysis.to_dict()["shot_changes_s"] == [2.5]
    assert display.shot_changes_words([2.5]) in video_report(analysis).summary
    still = analyze_video_file(detector, videos.moving_face(tmp_path / "m.mp4").read_bytes(), "m.mp4", stability=False)
    assert still.to_dict()["shot_changes_s"] == [] and "Shot changes" not in video_report(still).summary
