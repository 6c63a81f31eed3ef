"""One analysis object for every surface: the CLI's JSON and the page read the same thing."""

import json

import pytest

from detector.analysis import analyze_image_bytes, file_kind
from detector.errors import InputError
from tests.conftest import jpeg_bytes


def test_file_kind_names_the_supported_types():
    assert file_kind("a.JPG") == "image" and file_kind("clip.webm") == "video"
    with pytest.raises(InputError, match=r"notes.txt: '.txt' is not a supported image type \(.jpg"):
        file_kind("notes.txt", ("image",))
    with pytest.raises(InputError, match="no extension"):
        file_kind("README")


def test_analysis_carries_faces_verdicts_and_the_explained_class(detector, astronaut):
    data = jpeg_bytes(astronaut)
    analysis = analyze_image_bytes(detector, data, "astronaut.jpg", stability=False)
    assert analysis.faces and len(analysis.sha256) == 64 and analysis.provenance is None
    for face in analysis.faces:
        predicted = 1 if face.result.p_fake >= detector.config.threshold else 0
        assert face.explains == predicted and face.target(other=True) == 1 - predicted
        assert face.stability is None and face.verdict
    out = analysis.to_dict()
    json.dumps(out)  # serialisable as it is
    assert out["faces"][0]["p_fake"] == pytest.approx(analysis.faces[0].result.p_fake, abs=1e-4)
    assert [k for k in out] == ["file", "kind", "width", "height", "faces", "p_fake", "verdict", "verdict_words", "headline_face", "p_fake_max_all_faces", "notes", "what_this_means", "seconds"]


def test_predict_json_is_the_analysis(detector, astronaut, tmp_path):
    from detector.predict import predict_file

    path = tmp_path / "astronaut.png"
    astronaut.save(path)
    from_cli = predict_file(detector, path, stability=False)
    direct = analyze_image_bytes(detector, path.read_bytes(), path.name, stability=False, provenance=True).to_dict(file=str(path))
    assert "provenance" in direct
    from_cli.pop("seconds"), direct.pop("seconds")
    assert from_cli == direct


def test_video_analysis_is_what_the_cli_prints(detector, tmp_path):
    from detector.analysis import analyze_video_file
    from detector.predict import predict_file
    from tests import videos

    path = videos.two_people(tmp_path / "two.mp4")
    from_cli = predict_file(detector, path, max_frames=3)
    analysis = analyze_video_file(detector, path.read_bytes(), path.name, max_frames=3, provenance=True)
    direct = analysis.to_dict(file=str(path))
    from_cli.pop("seconds"), direct.pop("seconds")
    assert from_cli == direct
    assert list(direct)[:2] == ["file", "kind"] and {"tracks", "faces", "provenance", "what_this_means"} <= set(direct)
    assert analysis.sha256 and analysis.size_bytes == path.stat().st_size and analysis.provenance is not None
    assert [t["verdict"] for t in direct["tracks"]] == [t.verdict for t in analysis.tracks]


def test_video_analysis_judges_tracks_and_names_the_class_each_map_explains(detector, tmp_path):
    from detector import display
    from detector.analysis import analyze_video_file
    from detector.stability import AbstainRules
    from tests import videos

    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    analysis = analyze_video_file(detector, data, "two.mp4", max_frames=4, rules=AbstainRules(min_face_px=10_000))
    assert len(analysis.tracks) == 2 and analysis.provenance is None
    assert analysis.worst.p_fake == max(t.p_fake for t in analysis.tracks)  # every track too small: the loudest leads...
    assert analysis.p_fake is None and analysis.to_dict()["p_fake"] is None  # ...but gives the video no P(fake)
    assert [t.id for t in analysis.by_suspicion()] == [t.id for t in sorted(analysis.tracks, key=lambda t: -t.p_fake)]
    for track in analysis.tracks:
        assert track.verdict == display.TOO_SMALL and "median face" in track.reasons[0]  # the rules passed in are used
        assert len(track.suspicious) == 3 and track.low <= track.p_fake_mean <= track.high
        p = [frame.face.p_fake for frame in track.suspicious]
        assert p == sorted(p, reverse=True) and p[0] == track.high
        for frame in track.suspicious:
            assert frame.explains == (1 if frame.face.p_fake >= detector.config.threshold else 0)
            assert frame.time in analysis.frame_times(track)
    lenient = analyze_video_file(detector, data, "two.mp4", max_frames=4, rules=AbstainRules())
    assert all(t.verdict != display.TOO_SMALL for t in lenient.tracks)
    assert lenient.p_fake == lenient.worst.p_fake == max(t.p_fake for t in lenient.tracks)


def test_video_analysis_checks_the_file_type(detector):
    from detector.analysis import analyze_video_file

    with pytest.raises(InputError, match=r"clip.txt: '.txt' is not a supported video type"):
        analyze_video_file(detector, b"not a video", "clip.txt")
    with pytest.raises(InputError, match="photo.jpg: '.jpg' is not a supported video type"):
        analyze_video_file(detector, b"\xff\xd8", "photo.jpg")
