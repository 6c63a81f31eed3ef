"""scripts.match_threshold: a candidate's threshold matched to a reference's false alarms on real group faces."""

from __future__ import annotations

import json
import shutil

import pytest

from detector.checkpoint import CONFIG_FILE
from detector.config import ModelConfig
from scripts.match_threshold import main, matched_threshold


def export(folder, version: str, threshold: float, reals: list, fakes: list = (), split: str = "val",
           population: tuple[str, str] = ("real_groups", "group")) -> dict:
    """One exported run as benchmarks.robustness writes it (only the fields the tool reads)."""
    items = [{"label": 0, "score": s} for s in reals] + [{"label": 1, "score": s} for s in fakes]
    run = {"model_version": version, "threshold": threshold, "scores": items,
           "info": {"set": population[0], "condition": population[1], "split": split}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"m_{version}_{population[0]}_{split}_{population[1]}.json").write_text(json.dumps(run))
    return run


def model_folder(tmp_path, tiny_checkpoint, fake_margin: float | None = 0.3):
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)  # the fixture is shared by the session: write a copy
    config = ModelConfig.load(folder / CONFIG_FILE)
    config.fake_margin, config.temperature = fake_margin, 1.25
    (folder / CONFIG_FILE).write_text(config.to_json())
    return folder, config


REF_REALS = [0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.7, 0.9]  # 2 of 10 at or above 0.6
CAND_REALS = [0.05, 0.1, 0.2, 0.3, 0.52, 0.53, 0.61, 0.62, 0.8, 0.95]  # 6 of 10 at or above 0.5


def test_the_matched_threshold_flags_no_more_real_faces_than_the_reference(tmp_path):
    ref = export(tmp_path / "ref", "1.0.0", 0.6, REF_REALS, fakes=[0.99])
    cand = export(tmp_path / "cand", "2.0.0", 0.5, CAND_REALS + [None])  # a face not found is not counted
    evidence = matched_threshold(ref, cand)
    assert evidence["reference_share"] == 0.2 and evidence["share_at_old_threshold"] == 0.6
    assert evidence["share_at_value"] == 0.2
    assert 0.62 < evidence["value"] <= 0.8  # just above the third-highest real face
    assert evidence["faces"] == {"reference": 10, "candidate": 10}


def test_write_stores_the_threshold_and_its_evidence_and_clears_fake_margin(tmp_path, tiny_checkpoint, capsys):
    folder, before = model_folder(tmp_path, tiny_checkpoint)
    weights = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != CONFIG_FILE}
    export(tmp_path / "ref", "1.0.0", 0.6, REF_REALS)
    export(tmp_path / "cand", before.version, 0.5, CAND_REALS)
    code = main([str(folder), "--reals", str(tmp_path / "cand"), "--reference", str(tmp_path / "ref"), "--write"])
    assert code == 0 and "10 real faces" in capsys.readouterr().out
    after = ModelConfig.load(folder / CONFIG_FILE)
    assert 0.62 < after.threshold <= 0.8
    assert after.fake_margin is None and after.temperature == 1.25 and after.uncertain_margin == before.uncertain_margin
    stored = after.training["calibration"]["threshold_matched"]
    assert stored["value"] == after.threshold and stored["reference_share"] == 0.2 and "match_threshold" in stored["method"]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != CONFIG_FILE} == weights


def test_without_write_the_config_is_untouched(tmp_path, tiny_checkpoint):
    folder, before = model_folder(tmp_path, tiny_checkpoint)
    config_bytes = (folder / CONFIG_FILE).read_bytes()
    export(tmp_path / "ref", "1.0.0", 0.6, REF_REALS)
    export(tmp_path / "cand", before.version, 0.5, CAND_REALS)
    assert main([str(folder), "--reals", str(tmp_path / "cand"), "--reference", str(tmp_path / "ref")]) == 0
    assert (folder / CONFIG_FILE).read_bytes() == config_bytes


@pytest.mark.parametrize("problem, words", [
    ("test split", "test export"),
    ("other version", "version"),
    ("no population", "no export of"),
])
def test_bad_input_is_one_stderr_line_and_exit_2_with_the_config_untouched(tmp_path, tiny_checkpoint, capsys, problem, words):
    folder, before = model_folder(tmp_path, tiny_checkpoint)
    config_bytes = (folder / CONFIG_FILE).read_bytes()
    export(tmp_path / "ref", "1.0.0", 0.6, REF_REALS)
    version = "9.9.9" if problem == "other version" else before.version
    split = "test" if problem == "test split" else "val"
    population = ("real_groups", "plain") if problem == "no population" else ("real_groups", "group")
    export(tmp_path / "cand", version, 0.5, CAND_REALS, split=split, population=population)
    code = main([str(folder), "--reals", str(tmp_path / "cand"), "--reference", str(tmp_path / "ref"), "--write"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and words in err[0]
    assert (folder / CONFIG_FILE).read_bytes() == config_bytes
