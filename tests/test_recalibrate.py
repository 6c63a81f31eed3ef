"""scripts.recalibrate --write end to end on a tiny planted model folder and validation bank (no ../shared)."""

from __future__ import annotations

import json
import shutil

from PIL import Image

from tests.conftest import SAMPLES


def planted_bank(root, astronaut) -> None:
    """Four real and four fake validation pictures with their face boxes, as detector.training.sources writes them."""
    fake = Image.open(SAMPLES / "astronaut_selfblended.jpg").convert("RGB")
    records = []
    for label, name, source in ((0, "real", astronaut), (1, "fake", fake)):
        (root / "toy" / "val" / name).mkdir(parents=True)
        for i in range(4):
            file = f"toy/val/{name}/{i}.jpg"
            source.crop((100 + 10 * i, 0, 340 + 10 * i, 240)).save(root / file, quality=90)
            records.append({"file": file, "dataset": "toy", "label": label, "split": "val",
                            "faces": [{"box": [60.0, 40.0, 180.0, 200.0], "landmarks": None}]})
    (root / "sources").mkdir()
    (root / "sources" / "sources.json").write_text(json.dumps({"records": records}))


def test_write_sets_the_chosen_modes_calibration_and_clears_fake_margin(tmp_path, tiny_checkpoint, astronaut, capsys):
    from detector.checkpoint import CONFIG_FILE
    from detector.config import ModelConfig
    from scripts.recalibrate import main

    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)  # the fixture is shared by the session: write a copy
    config = ModelConfig.load(folder / CONFIG_FILE)
    config.fake_margin = 0.3  # chosen on the old scores: --write must clear it
    (folder / CONFIG_FILE).write_text(config.to_json())
    weights = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != CONFIG_FILE}
    planted_bank(tmp_path, astronaut)

    args = [str(folder), "--sources", str(tmp_path / "sources"), "--root", str(tmp_path), "--workers", "0", "--write", "flip"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    modes = {r["tta"]: r for r in (json.loads(line) for line in out if line.startswith("{"))}
    assert set(modes) == {"none", "flip"} and modes["flip"]["n"] == 16  # 8 pictures, plain + reframed
    assert "fake_margin was reset" in out[-1]
    written = ModelConfig.load(folder / CONFIG_FILE)
    flip = modes["flip"]
    assert written.tta == "flip" and written.fake_margin is None
    assert round(written.temperature, 4) == flip["temperature"] and round(written.threshold, 4) == flip["threshold"]
    assert written.uncertain_margin == flip["uncertain_margin"]
    assert written.training["calibration"]["tta"] == "flip" and "tta=flip" in written.training["calibration"]["method"]
    # Only config.json changes: the weights stay as they were.
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != CONFIG_FILE} == weights


def test_missing_sources_are_refused_in_one_line(tmp_path, capsys):
    from scripts.recalibrate import main

    assert main([str(tmp_path), "--sources", str(tmp_path / "none"), "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
