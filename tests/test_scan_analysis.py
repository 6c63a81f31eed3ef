"""A batch scan's rows are the analysis every other surface shows (issue 15: one analysis object).

detector/scan.py turns detector.analysis's ImageAnalysis / VideoAnalysis into rows and judges
nothing itself: these tests compare its rows with the analysis of the same file, face by face, and
change a rule in detector/ to see the scan follow it.
"""

from __future__ import annotations

import io
import json
import shutil

import pytest
from PIL import Image

from detector import display
from detector.analysis import analyze_image, analyze_video_file
from detector.imageio import decode_image
from detector.scan import ScanWorker, to_table
from detector.stability import face_size
from tests import videos
from tests.conftest import SAMPLES


def three_faces() -> bytes:
    """two_faces.jpg (two faces of about 109 px) with a third face of about 36 px pasted in its corner (PNG)."""
    canvas = Image.open(SAMPLES / "two_faces.jpg").convert("RGB")
    small = Image.open(SAMPLES / "astronaut.jpg").convert("RGB").crop((100, 0, 360, 260)).resize((91, 91))
    canvas.paste(small, (canvas.width - small.width - 5, canvas.height - small.height - 5))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


PICTURE, NAME = three_faces(), "three_faces.png"


@pytest.fixture(scope="module")
def limited(tiny_checkpoint, tmp_path_factory):
    """The tiny test model with a measured size limit of 48 px, so the 36 px face is too small and the 109 px ones are not."""
    from detector.inference import Detector

    folder = tmp_path_factory.mktemp("limited") / "test-model"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "abstain.json").write_text(json.dumps({"min_face_px": 48, "max_disagree": 1, "measured": True,
                                                     "model": "test-model 0.0.1"}))
    limited = Detector(folder, device="cpu")
    sizes = sorted(face_size(f.face) for f in limited.analyze(decode_image(PICTURE)).faces)
    assert len(sizes) == 3 and sizes[0] < 48 < sizes[1], sizes  # the picture holds one face under the limit
    return limited


def rows_expected(analysis, checked: bool) -> list[dict]:
    """What the analysis says about each face, in the scan's column names (written out here, not from scan.py)."""
    expected = []
    for face in analysis.faces:
        result, check = face.result, face.stability
        row = {"face": face.index + 1, "p_fake": result.p_fake, "logit": result.logit, "verdict": result.label,
               "face_prob": result.face.prob, "fallback": result.face.fallback, "too_small": face.too_small,
               "box": tuple(result.box), "final_verdict": face.verdict if checked else None,
               "p_fake_low": check.low if checked else None, "p_fake_high": check.high if checked else None,
               "flips": bool(check.flipped) if checked else None, "stability_summary": check.line() if checked else None}
        expected.append(row)
    return expected


def scanned(worker: ScanWorker, name: str, data: bytes) -> list[dict]:
    """The rows as a results folder stores them (every column, None where empty)."""
    return to_table(worker.scan_data(name, data)).to_pylist()


def as_compared(row: dict) -> dict:
    return {**{k: row.get(k) for k in ("face", "p_fake", "logit", "verdict", "face_prob", "fallback", "too_small", "final_verdict",
                                   "p_fake_low", "p_fake_high", "flips", "stability_summary")},
            "box": (row["x1"], row["y1"], row["x2"], row["y2"])}


def assert_same(rows: list[dict], expected: list[dict]) -> None:
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        got = as_compared(row)
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float) or key == "box":
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-5), (key, got[key], value)  # float32 columns
            else:
                assert got[key] == value, (key, got[key], value)


@pytest.mark.parametrize("stability", [True, False])
def test_scan_rows_are_the_image_analysis(limited, stability):
    rows = scanned(ScanWorker(detector=limited, stability=stability), NAME, PICTURE)
    analysis = analyze_image(limited, decode_image(PICTURE), NAME, stability=stability)
    assert [r["status"] for r in rows] == ["face"] * 3 and {r["kind"] for r in rows} == {"image"}
    assert_same(rows, rows_expected(analysis, stability))
    # One face is under the limit: flagged in both modes; with the check it is not judged, the other one is.
    assert [r["too_small"] for r in rows].count(True) == 1
    small = next(r for r in rows if r["too_small"])
    other = next(r for r in rows if not r["too_small"])
    if stability:
        assert small["final_verdict"] == display.TOO_SMALL and other["final_verdict"] not in display.NOT_JUDGED
        assert small["stability_summary"].startswith(display.verdict_words(display.TOO_SMALL))
    else:
        assert small["final_verdict"] is None and small["verdict"] in ("real", "fake", "uncertain")
    assert all(r["sha256"] == analysis.sha256 or not analysis.sha256 for r in rows)


def test_a_rule_changed_in_detector_changes_the_scan(limited, monkeypatch):
    """The scan reads the size rule from detector.stability: change it there and every row follows."""
    import detector.stability as stability

    monkeypatch.setattr(stability, "too_small", lambda face_px, rules: True)
    rows = scanned(ScanWorker(detector=limited, stability=True), NAME, PICTURE)
    assert [(r["too_small"], r["final_verdict"]) for r in rows] == [(True, display.TOO_SMALL)] * 3
    monkeypatch.setattr(stability, "too_small", lambda face_px, rules: False)
    rows = scanned(ScanWorker(detector=limited, stability=True), NAME, PICTURE)
    assert not any(r["too_small"] for r in rows) and display.TOO_SMALL not in {r["final_verdict"] for r in rows}


def test_scan_rows_are_the_video_analysis(detector, tmp_path):
    data = videos.moving_face(tmp_path / "moving.mp4").read_bytes()
    for stability in (False, True):
        rows = scanned(ScanWorker(detector=detector, stability=stability, sample_fps=2.0, max_frames=8), "moving.mp4", data)
        analysis = analyze_video_file(detector, data, "moving.mp4", sample_fps=2.0, max_frames=8, stability=stability)
        assert len(rows) == len(analysis.tracks) >= 1
        for row, track in zip(rows, analysis.tracks):
            frame = track.suspicious[0]
            assert (row["face"], row["verdict"], row["n_frames"], row["too_small"]) == (
                track.id, detector.config.verdict(track.p_fake), len(track.track.faces), track.verdict == display.TOO_SMALL)
            assert row["p_fake"] == pytest.approx(track.p_fake) and row["frame_time"] == pytest.approx(frame.time)
            assert (row["x1"], row["y1"], row["x2"], row["y2"]) == pytest.approx(tuple(frame.face.box))
            assert row["final_verdict"] == (track.verdict if stability else None)
            if stability and track.stability is not None:
                assert (row["p_fake_low"], row["p_fake_high"]) == pytest.approx((track.stability.low, track.stability.high))


def test_headline_face_is_the_most_suspicious_judged_one(limited):
    """The page's "most suspicious face" and the report's headline are one property: when the face with
    the highest P(fake) is too small to judge, both name the other face."""
    from detector.reporting.report import image_report

    analysis = analyze_image(limited, decode_image(PICTURE), NAME)
    small = next(f for f in analysis.faces if f.too_small)
    first, second = (f for f in analysis.faces if not f.too_small)
    small.result.p_fake, first.result.p_fake, second.result.p_fake = 0.99, 0.30, 0.40  # the small face scores highest
    assert small.verdict == display.TOO_SMALL and not small.judged and first.judged and second.judged
    assert analysis.headline_face is second
    assert analysis.by_suspicion() == [second, first, small]
    assert f"Most suspicious: face #{second.index + 1}:" in image_report(analysis).summary
