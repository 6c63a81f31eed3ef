"""The candidate gate (scripts.judge_candidate): R1-R4 on two folders of exported validation robustness runs.

Rule 1 reads real faces in still group scenes only; rule 2 (the default) reads them there and in H.264 frames."""

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


def model_folder(folder, seed=0, fake_shift=None, reals_shift=0.0, n=60, codec_reals_shift=0.0, group_fake_cut=0.9):
    """Every set under every condition (fakes overlap reals: AUC about 0.9) and the real-only group scenes.
    `fake_shift` maps 'set@condition' to a shift of that cell's fake scores; `reals_shift` moves the group reals,
    `codec_reals_shift` the real faces of the H.264 cells. The group scenes' likely-manipulated cut is
    `group_fake_cut` (0.9: none of the unshifted group reals reach it)."""
    rng = np.random.default_rng(seed)
    fake_shift = fake_shift or {}
    for set_name in SETS:
        for condition in CONDITIONS:
            reals, fakes = rng.random(n) * 0.6, 0.3 + rng.random(n) * 0.7
            reals = np.clip(reals + (codec_reals_shift if condition in jc.CODEC else 0.0), 0, 1)
            export(folder, set_name, condition, reals, np.clip(fakes + fake_shift.get(f"{set_name}@{condition}", 0.0), 0, 1))
    export(folder, "real_groups", "group", np.clip(rng.random(400) * 0.7 + reals_shift, 0, 1), [], fake_cut=group_fake_cut)
    return load_runs(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return model_folder(tmp_path_factory.mktemp("ref"))


@pytest.mark.parametrize("rule", [1, 2])
def test_the_same_model_is_not_a_candidate_only_because_it_gains_nothing(reference, rule):
    verdict = jc.judge(reference, reference, n_boot=20, rule=rule)
    assert not verdict["R1"] and verdict["R2"] and verdict["R3"] and verdict["R4"]
    assert not verdict["passes"]
    assert verdict["paired_mean_auc"]["plain"]["difference"] == 0.0


@pytest.mark.parametrize("rule", [1, 2])
def test_a_model_that_separates_the_codec_cells_and_keeps_the_rest_passes(tmp_path, reference, rule):
    gain = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}  # every codec fake above every real
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=gain), n_boot=20, rule=rule)
    assert verdict["R1"] and verdict["R2"] and verdict["R3"] and verdict["R4"] and verdict["passes"]
    assert verdict["paired_mean_auc"]["h264_crf23"]["low"] > 0.0
    assert jc.judge(reference, model_folder(tmp_path / "cand"), aims=("plain",), n_boot=20)["R1"] is False


def test_without_an_aim_every_condition_is_read_by_r2(tmp_path, reference):
    loss = {f"{s}@h264_crf40": -0.3 for s in SETS}  # the codec cells get worse
    worse = model_folder(tmp_path / "cand", fake_shift=loss)
    assert jc.judge(reference, worse, n_boot=20)["R2"]  # aimed at H.264 (the default), R2 does not read them
    verdict = jc.judge(reference, worse, aims=(), n_boot=20)
    assert verdict["aims"] == [] and verdict["R1"] and not verdict["R2"] and not verdict["passes"]
    assert jc.judge(reference, reference, aims=(), n_boot=20)["passes"]


def test_a_gain_bought_with_real_group_faces_called_fake_fails_r4(tmp_path, reference):
    gain = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=gain, reals_shift=0.1), n_boot=20, rule=1)
    assert verdict["R1"] and not verdict["R4"] and not verdict["passes"]
    assert verdict["group_reals"]["cand"]["threshold"] > verdict["group_reals"]["ref"]["threshold"] + 0.01


def test_a_set_whose_fakes_fall_below_the_matched_cut_fails_r3(tmp_path, reference):
    shift = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC} | {"dfdc@plain": -0.3}
    verdict = jc.judge(reference, model_folder(tmp_path / "cand", fake_shift=shift), n_boot=20, rule=1)
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
    assert "rule 2: R1 FAIL R2 pass R3 pass R4 pass" in out and "not a shipping candidate" in out
    assert "real faces of h264_crf40 (weight 0.25)" in out
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
    assert "video_reals" not in jc.judge(reference, cand, n_boot=5, rule=1)  # not part of rule 1's verdict
    assert jc.main(["judge", str(tmp_path / "cand"), str(tmp_path / "cand"), "--boot", "5", "--json", "--rule", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["beside_the_rule"]["video_reals"]) == set(jc.CODEC) and printed["passes"] is False
    assert jc.main(["judge", str(tmp_path / "cand"), str(tmp_path / "cand"), "--boot", "5", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rule"] == 2 and "beside_the_rule" not in printed and set(printed["populations"]) == set(jc.POPULATIONS)


GAIN = {f"{s}@{c}": 0.4 for s in SETS for c in jc.CODEC}


def test_rule_2_weighs_real_faces_in_video_frames_as_much_as_still_group_scenes(tmp_path, reference):
    """Fewer real video faces called fake, a few more still group faces: rule 1 refuses, rule 2 takes the trade."""
    cand = model_folder(tmp_path / "cand", fake_shift=GAIN, reals_shift=0.01, codec_reals_shift=-0.2)
    assert not jc.judge(reference, cand, n_boot=20, rule=1)["R4"]
    verdict = jc.judge(reference, cand, n_boot=20)
    assert verdict["R3"] and verdict["R4"] and verdict["passes"]
    crf23 = verdict["populations"]["h264_crf23"]
    assert crf23["shares"]["cand"]["threshold"] < crf23["shares"]["ref"]["threshold"]
    assert verdict["weighted"]["threshold"]["share_rise"] < 0 < verdict["populations"]["still"]["shares"]["cand"]["threshold"] \
        - verdict["populations"]["still"]["shares"]["ref"]["threshold"]


def test_rule_2_does_not_let_video_frames_buy_away_still_photos(tmp_path, reference):
    cand = model_folder(tmp_path / "cand", fake_shift=GAIN, reals_shift=0.05, codec_reals_shift=-0.2)
    verdict = jc.judge(reference, cand, n_boot=20)
    assert verdict["weighted"]["threshold"]["share_rise"] < 0  # on average fewer real faces flagged...
    assert not verdict["R4"] and not verdict["passes"]  # ...but the still group faces rose by more than 0.03
    stretched = model_folder(tmp_path / "stretched", fake_shift=GAIN | {"dfdc@plain": -0.3}, codec_reals_shift=-0.2)
    verdict = jc.judge(reference, stretched, n_boot=20)
    assert not verdict["R3"] and verdict["weighted"]["threshold"]["plain_recall_change"]["dfdc"] < -jc.SET_RECALL_DROP


def test_rule_2_holds_real_group_faces_to_the_issue_target(tmp_path):
    """A model that calls 3 % of real group faces likely manipulated fails rule 2's R4 even against itself."""
    model = model_folder(tmp_path / "m", group_fake_cut=0.679)
    assert jc.judge(model, model, n_boot=5, rule=2)["populations"]["still"]["shares"]["ref"]["likely manipulated"] > jc.STILL_LIKELY_CAP
    assert not jc.judge(model, model, n_boot=5, rule=2)["R4"] and jc.judge(model, model, n_boot=5, rule=1)["R4"]


def test_rule_2_refuses_folders_without_real_faces_in_video_frames(tmp_path, capsys):
    model_folder(tmp_path / "m")
    for set_name in TWO_CLASS:  # the one-class sets' codec cells stay: R1 and R2 can be read, rule 2's reals cannot
        for path in (tmp_path / "m").glob(f"m_{set_name}_val_h264*"):
            path.unlink()
    assert jc.main(["judge", str(tmp_path / "m"), str(tmp_path / "m"), "--boot", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "h264_crf23" in err[0] and "--rule 1" in err[0]
    assert jc.main(["judge", str(tmp_path / "m"), str(tmp_path / "m"), "--rule", "1", "--boot", "5"]) == 0
