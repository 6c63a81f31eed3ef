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
    assert [k for k in out] == ["file", "kind", "width", "height", "faces", "p_fake", "notes", "what_this_means", "seconds"]


def test_predict_json_is_the_analysis(detector, astronaut, tmp_path):
    from detector.predict import predict_file

    path = tmp_path / "astronaut.png"
    astronaut.save(path)
    from_cli = predict_file(detector, path, stability=False)
    direct = analyze_image_bytes(detector, path.read_bytes(), path.name, stability=False, provenance=True).to_dict(file=str(path))
    assert "provenance" in direct
    from_cli.pop("seconds"), direct.pop("seconds")
    assert from_cli == direct
