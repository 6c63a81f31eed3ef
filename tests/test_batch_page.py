"""The Batch page, driven headless with AppTest: several uploads, one scan, the table and downloads."""

import io

import pandas as pd

from tests.conftest import SAMPLES
from tests.test_app import page


def test_batch_page_scans_several_uploads(monkeypatch, tmp_path):
    monkeypatch.delenv("DFX_BATCH_FOLDERS", raising=False)
    at = page("batch").run()
    assert not at.exception, at.exception
    assert [r.options for r in at.radio] == [["Upload files"]]  # no folder offered unless configured
    uploads = [(name, (SAMPLES / name).read_bytes(), "image/jpeg") for name in ("astronaut.jpg", "two_faces.jpg", "rocket_no_face.jpg")]
    uploads.append(("broken.jpg", (SAMPLES / "astronaut.jpg").read_bytes()[:2000], "image/jpeg"))
    at.file_uploader[0].set_value(uploads).run()
    at.button(key="batch_scan").click().run()
    assert not at.exception, at.exception
    summary = " ".join(m.value for m in at.markdown)
    assert "**4** files: **3** faces, 1 files without a face, 1 failed" in summary
    table = at.dataframe[0].value
    assert list(table["file"]).count("two_faces.jpg") == 2 and "astronaut.jpg" in set(table["file"])
    assert list(table["p_fake"]) == sorted(table["p_fake"], reverse=True)  # most suspicious first
    from detector.display import format_probability

    assert list(table["p_fake_text"]) == [format_probability(p) for p in table["p_fake"]]  # never "1.00" / "0.00"
    assert all(str(t).startswith("data:image/jpeg;base64,") for t in table["thumbnail"])
    from detector.display import VERDICT_WORDS

    assert set(table["verdict_words"]) <= set(VERDICT_WORDS.values())  # the app's words, not 'fake'/'real'
    assert "verdict" not in table.columns
    # the same verdict as the image page: after the stability check
    from detector.imageio import decode_image
    from detector.inference import Detector
    from detector.stability import analyze_checked

    checked = analyze_checked(Detector(), decode_image((SAMPLES / "astronaut.jpg").read_bytes()))
    row = table[table["file"] == "astronaut.jpg"].iloc[0]
    assert row["verdict_words"] == checked.checks[0].words()
    failures = at.dataframe[1].value
    assert list(failures["file"]) == ["broken.jpg"] and "corrupt" in failures["error"][0]
    # filters: only faces at or above 0.5, then only file names with 'astro'
    at.slider(key="batch_min").set_value(0.5).run()
    assert all(at.dataframe[0].value["p_fake"] >= 0.5)
    at.slider(key="batch_min").set_value(0.0).run()
    at.text_input(key="batch_text").set_value("astro").run()
    assert set(at.dataframe[0].value["file"]) == {"astronaut.jpg"}
    downloads = {b.proto.label: b for b in at.get("download_button")}
    assert set(downloads) == {"Results (Parquet)", "Results (CSV)"}


def test_batch_page_scans_an_allowed_folder_only(monkeypatch, tmp_path):
    allowed = tmp_path / "tips"
    allowed.mkdir()
    (allowed / "a.jpg").write_bytes((SAMPLES / "astronaut.jpg").read_bytes())
    monkeypatch.setenv("DFX_BATCH_FOLDERS", str(allowed))
    at = page("batch").run()
    at.radio(key="batch_source").set_value("Folder on this server").run()
    assert [str(o) for o in at.selectbox(key="batch_folder").options] == [str(allowed.resolve())]
    at.button(key="batch_scan").click().run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["file"]) == [str(allowed.resolve() / "a.jpg")]


def test_scan_in_app_refuses_a_folder_not_on_the_list(detector, tmp_path, monkeypatch):
    from detector.errors import DetectorError
    from detector.scan import scan_in_app

    monkeypatch.setenv("DFX_BATCH_FOLDERS", str(tmp_path / "allowed"))
    try:
        scan_in_app(detector, folder=tmp_path)
    except DetectorError as exc:
        assert "not a folder this app is allowed to scan" in str(exc)
    else:
        raise AssertionError("an unlisted folder was scanned")
    result = scan_in_app(detector, uploads=[("a.jpg", (SAMPLES / "astronaut.jpg").read_bytes())])
    assert pd.read_parquet(io.BytesIO(result.parquet_bytes()))["file"].tolist() == ["a.jpg"]
    assert result.file_bytes("a.jpg")[:2] == b"\xff\xd8"
