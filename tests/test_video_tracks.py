"""benchmarks.video_tracks on clips composed from the bundled samples (no ../shared needed)."""

from __future__ import annotations

import json
import shutil

from benchmarks import video_tracks
from tests.conftest import SAMPLES


def test_composed_clips_are_linked_every_way_and_summarised(tmp_path):
    for name in video_tracks.SETS:
        folder = tmp_path / name / "val" / "real"
        folder.mkdir(parents=True)
        shutil.copy(SAMPLES / "astronaut.jpg", folder / "a.jpg")
        shutil.copy(SAMPLES / "astronaut_selfblended.jpg", folder / "b.jpg")
    out = tmp_path / "tracks.json"
    assert video_tracks.main(["--data", str(tmp_path), "--clips", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["summary"]) == set(video_tracks.SETTINGS) and result["crowd_link_seconds_30_faces_8_frames"] > 0
    for by_kind in result["clips"].values():
        assert set(by_kind) == set(video_tracks.KINDS) and all(len(rows) == 1 for rows in by_kind.values())
    walk = result["clips"]["as shipped"]["walk"][0]
    assert walk["people"] == 1 and not walk["merged"]
    # a cut to another wall: the shot test keeps the two people apart as shipped
    assert not result["clips"]["as shipped"]["cut, new wall"][0]["merged"]


def test_too_few_pictures_is_one_stderr_line_and_exit_2(tmp_path, capsys):
    assert video_tracks.main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and not (tmp_path / "x.json").exists()
