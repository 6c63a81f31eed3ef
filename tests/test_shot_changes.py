"""benchmarks.shot_changes on pictures made here (no ../shared needed)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from benchmarks import shot_changes


def test_pans_of_one_picture_are_one_shot_and_different_walls_are_cuts(tmp_path):
    rng = np.random.default_rng(0)
    walls = [(40, 70, 140), (205, 185, 150), (30, 140, 60)]
    for name in shot_changes.SETS:
        folder = tmp_path / name / "val" / "real"
        folder.mkdir(parents=True)
        for i, wall in enumerate(walls):
            picture = np.full((120, 160, 3), wall, np.uint8)
            picture[30:90, 50:110] = rng.integers(0, 256, (60, 60, 3))  # the same "face" texture on each wall
            Image.fromarray(picture).save(folder / f"{i}.jpg")
    out = tmp_path / "shots.json"
    assert shot_changes.main(["--data", str(tmp_path), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["sets"]) == set(shot_changes.SETS)
    assert all(r["pictures"] == 3 and r["pans_taken_for_cuts"] == 0 and r["cuts_missed"] == 0 for r in result["sets"].values())


def test_missing_pictures_are_one_stderr_line_and_exit_2(tmp_path, capsys):
    assert shot_changes.main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no pictures in") and not (tmp_path / "x.json").exists()
