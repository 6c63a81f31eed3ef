import json
import shutil
import struct
import zlib

import pytest

from detector import predict
from tests.conftest import SAMPLES


def png_bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


def test_json_shape(tiny_checkpoint, capsys):
    files = [str(SAMPLES / "astronaut.jpg"), str(SAMPLES / "two_faces.jpg"), str(SAMPLES / "rocket_no_face.jpg")]
    assert predict.main(files + ["--model", str(tiny_checkpoint), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["file"] for r in out] == files
    assert [len(r["faces"]) for r in out] == [1, 2, 0]
    face = out[0]["faces"][0]
    assert {"box", "p_fake", "label", "fallback", "face_prob", "landmarks"} <= set(face)
    assert 0.0 <= face["p_fake"] <= 1.0 and face["label"] in ("real", "fake", "uncertain")
    assert out[2]["p_fake"] is None and out[2]["notes"]
    assert all("not trained on" in r["what_this_means"] for r in out)


def test_json_keys_of_the_stability_check(tiny_checkpoint, capsys):
    files = [str(SAMPLES / "two_faces.jpg")]
    assert predict.main(files + ["--model", str(tiny_checkpoint), "--json"]) == 0
    faces = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0]["faces"]
    for face in faces:
        assert {"p_fake_text", "verdict", "verdict_words", "stability"} <= set(face)
        check = face["stability"]
        assert set(check) == {"verdict", "verdict_words", "reasons", "p_fake_low", "p_fake_high", "flips",
                              "flipped_under", "perturbations", "copies_scored", "copies_total", "face_px", "sharpness"}
        assert check["verdict"] == face["verdict"] and len(check["perturbations"]) == check["copies_scored"] == check["copies_total"] == 11
        assert 0 < check["p_fake_low"] <= face["p_fake"] <= check["p_fake_high"] < 1
        assert face["verdict_words"] in ("likely manipulated", "no sign of manipulation found", "can't tell",
                                         "too small to judge", "too blurred to judge", "not clearly a face: not judged")
    assert predict.main(files + ["--model", str(tiny_checkpoint), "--json", "--no-stability"]) == 0
    faces = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0]["faces"]
    assert all(f["stability"] is None and f["verdict"] for f in faces)


def test_text_output_says_when_a_staged_check_scored_fewer_copies():
    check = {"p_fake_low": 0.2, "p_fake_high": 0.4, "perturbations": dict.fromkeys("abcdefg", 0.3), "copies_total": 11}
    assert "across 7 of 11 changes; staged check" in predict.spread({"stability": check})
    assert predict.spread({"stability": {**check, "copies_total": 7}}).endswith("across 7 changes)")


def test_text_output_uses_verdict_words(tiny_checkpoint, capsys):
    assert predict.main([str(SAMPLES / "astronaut.jpg"), "--model", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "P(fake) " in out and "range " in out and "1.00" not in out and "0.00" not in out
    files = [str(SAMPLES / "two_faces.jpg"), str(SAMPLES / "rocket_no_face.jpg")]
    assert predict.main(files + ["--model", str(tiny_checkpoint), "--json"]) == 0
    pictures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert predict.main(files + ["--model", str(tiny_checkpoint)]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith(tuple(files)) and "provenance:" not in line]
    two, none = pictures
    assert heads[0] == f"{files[0]}: 2 face(s): {two['verdict_words']} (face {two['headline_face']})"
    assert heads[1] == f"{files[1]}: 0 face(s)" and none["verdict"] is None


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.jpg", b""),
        ("truncated.jpg", None),
        ("random.png", bytes(range(256)) * 40),
        ("bomb.png", png_bomb()),
        ("notes.txt", b"hello"),
        ("archive.jpg", b"PK\x03\x04" + bytes(100)),
    ],
)
def test_bad_input_one_line_nonzero_exit_others_processed(tmp_path, tiny_checkpoint, capsys, name, content):
    bad = tmp_path / name
    if content is None:
        data = (SAMPLES / "astronaut.jpg").read_bytes()
        content = data[: len(data) // 3]
    bad.write_bytes(content)
    good = tmp_path / "good.jpg"
    shutil.copy(SAMPLES / "astronaut.jpg", good)
    code = predict.main([str(bad), str(good), "--model", str(tiny_checkpoint), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and name in err[0]
    assert "Traceback" not in captured.err
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert [r["file"] for r in out] == [str(good)] and len(out[0]["faces"]) == 1


def test_cli_subprocess_has_no_traceback(tmp_path, tiny_checkpoint):
    import subprocess
    import sys

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "detector.predict", str(bad), "--model", str(tiny_checkpoint)],
        capture_output=True, text=True, cwd=SAMPLES.parent.parent, timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "bad.jpg" in proc.stderr and "Traceback" not in proc.stderr
