"""The candidate gate (scripts.judge_candidate): R1-R4 on two folders of exported validation robustness runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.robustness import CONDITIONS, ONE_CLASS, TWO_CLASS
from scripts import judge_candidate as jc
from scripts.compare_operating_points import load_runs

SETS = (*TWO_CLASS, *ONE_CLASS)


def export(folder, set_name, condition, reals, fakes, threshold=0.5, fake_cut=0.6):
    """One run export as `benchmarks.robustness --export-dir` writes it (the fields the gate reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [{"path": f"real/{i}.jpg", "label": 0, "score": float(s)} for i, s in enumerate(reals)]
    items += [{"path": f"fake/{i}.jpg", "label": 1, "score": float(s)} for i, s in enumerate(fakes)]
    run = {"id": f"{set_name}-{condition}", "created": "2026-11-27T00:00:00Z", "model_name": "m", "model_version": folder.name,
           "data": f"{set_name}/val @ {condition}", "threshold": threshold, "metrics": {},
           "info": {"set": set_name, "condition": condition, "fake_cut": fake_cut}, "scores": items}
    (folder / f"m_{set_name}_val_{condition}.json").write_text(json.dumps(run))


def model_folder(folder, seed=0, fake_shift=None, reals_shift=0.0, n=60):
    """Every set under every condition (fakes overlap reals: AUC about 0.9) and the real-only group scenes.
    `fake_shift` maps 'set@condition' to a shift of that cell's fake scores; `reals_shift` moves the group reals."""
    rng = np.random.default_rng(seed)
    fake_shift = fake_shift or {}
    for set_name in SETS:
        for condition in CONDITIONS:
            reals, fakes = rng.random(n) * 0.6, 0.3 + rng.random(n) * 0.7
            export(folder, set_name, condition, reals, np.clip(fakes + fake_shift.get(f"{set_name}@{condition}", 0.0), 0, 1))
    export(folder, "real_groups", "group", np.clip(rng.random(400) * 0.7 + reals_shift, 0, 1), [])
    return load_runs(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return model_folder(tmp_path_factory.mktemp("ref"))


def test_the_same_model_is_not_a_candidate_only_because_it_gains_nothing(reference):
    verdict = jc.judge(reference, reference, n_boot=20)
    assert not verdict["R1"] and verdict["R2"] and verdict["R3"] and verdict["R4"]
    assert not verdict["passes"]
    assert verdict["paired_mean_auc"]["plain"]["difference"] == 0.0


def test_a_model_that_separates_the_codec_cells_and_keeps_the_rest_passes(tmp_path, reference):
    gain = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}  # every codec fake above every real
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=gain), n_boot=20)
    assert verdict["R1"] and verdict["R2"] and verdict["R3"] and verdict["R4"] and verdict["passes"]
    assert verdict["paired_mean_auc"]["h264_crf23"]["low"] > 0.0
    assert jc.judge(reference, model_folder(tmp_path / "cand"), aims=("plain",), n_boot=20)["R1"] is False


def test_a_gain_bought_with_real_group_faces_called_fake_fails_r4(tmp_path, reference):
    gain = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=gain, reals_shift=0.1), n_boot=20)
    assert verdict["R1"] and not verdict["R4"] and not verdict["passes"]
    assert verdict["group_reals"]["cand"]["threshold"] > verdict["group_reals"]["ref"]["threshold"] + 0.01


def test_a_set_whose_fakes_fall_below_the_matched_cut_fails_r3(tmp_path, reference):
    shift = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC} | {"dfdc@plain": -0.3}
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=shift), n_boot=20)
    assert not verdict["R3"] and not verdict["passes"]
    assert verdict["matched"]["threshold"]["plain_recall_change"]["dfdc"] < -jc.SET_RECALL_DROP
    assert verdict["R3_sets_checked"] == list(TWO_CLASS)  # 60 fakes each: every two-class set is checked


def test_small_sets_are_not_checked_one_by_one(tmp_path):
    ref = model_folder(tmp_path / "ref", n=10)
    assert jc.matched_recall(ref, ref)[2] == []


def test_the_cli_prints_the_rule_and_refuses_a_folder_without_group_scenes(tmp_path, capsys):
    model_folder(tmp_path / "ref")
    assert jc.main(["judge", str(tmp_path / "ref"), str(tmp_path / "ref"), "--boot", "20"]) == 0
    out = capsys.readouterr().out
    assert "R1 FAIL R2 pass R3 pass R4 pass" in out and "not a shipping candidate" in out
    (tmp_path / "ref" / "m_real_groups_val_group.json").unlink()
    assert jc.main(["judge", str(tmp_path / "ref"), str(tmp_path / "ref")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "real_groups@group" in err[0]
    assert jc.main(["judge", str(tmp_path / "nothing"), str(tmp_path / "ref")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_score_refuses_a_folder_that_is_not_a_checkpoint(tmp_path, capsys):
    assert jc.main(["score", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a checkpoint folder" in err[0]
    assert not (tmp_path / "out").exists()


def test_real_faces_in_video_frames_are_reported_beside_the_rule(tmp_path, reference, capsys):
    gain = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}
    cand = model_folder(tmp_path / "cand", fake_shift=gain)  # the same real faces (same seed), codec fakes higher
    beside = jc.video_reals(reference, cand)
    assert set(beside) == set(jc.CODEC) and beside["h264_crf23"]["reals"] == 60 * len(TWO_CLASS)
    crf23 = beside["h264_crf23"]
    assert crf23["real_shares"]["ref"] == crf23["real_shares"]["cand"]
    for ref_recall, cand_recall in crf23["matched_mean_recall"].values():
        assert cand_recall > ref_recall
    assert jc.video_reals(reference, reference)["h264_crf40"]["matched_mean_recall"]["threshold"][0] == \
        jc.video_reals(reference, reference)["h264_crf40"]["matched_mean_recall"]["threshold"][1]
    assert "video_reals" not in jc.judge(reference, cand, n_boot=5)  # not part of the verdict
    assert jc.main(["judge", str(tmp_path / "cand"), str(tmp_path / "cand"), "--boot", "5", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["beside_the_rule"]["video_reals"]) == set(jc.CODEC) and printed["passes"] is False
