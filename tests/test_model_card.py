"""The model card is written from the checkpoint's own config: a model averaged from training arms lists each arm."""

from __future__ import annotations

import json

from scripts.write_model_card import recipe_lines, training_section

REFRAMED = {"recipe": "reframed: ...", "streams": {"real:dfdc": 0.5, "fake:sbi": 0.5}, "lr": 0.0001, "batch_size": 128,
            "optimizer": "AdamW", "crop_margin": 0.3, "init": "m 2.0.0"}


def test_one_arm_reads_as_one_recipe_sentence():
    lines = recipe_lines({**REFRAMED, "samples_per_epoch": 6144, "epochs_run": 3, "seed": 1})
    assert any("6144 samples per epoch, 3 epochs" in line for line in lines) and not any(line.startswith("| arm") for line in lines)


def test_averaged_arms_get_one_row_each_and_the_mix_names_them():
    arms = {"cpu_c1": {"from": "m 2.0.0", "pictures": "all", "epochs": "5 x 6,144", "hardware": "CPU", "history": "h1.json"},
            "gpu_g1": {"from": "cpu_c1 epoch 2", "pictures": "subset", "epochs": "12 x 20,480", "hardware": "H200", "history": "h2.json"}}
    training = {**REFRAMED, "arms": arms, "weight_mix": {"old": "cpu_c1 best", "new": "gpu_g1 best", "alpha": 0.5, "candidates": {"0.5": 0.93}}}
    text = "\n".join(training_section(json.loads(json.dumps(training))))
    assert "trained in 2 arms" in text
    assert "| cpu_c1 | m 2.0.0 | all | 5 x 6,144 | CPU | `h1.json` |" in text and "| gpu_g1 | cpu_c1 epoch 2 |" in text
    assert "of cpu_c1 best and gpu_g1 best" in text and "kept alpha 0.5" in text


def test_one_arm_mixed_with_its_start_reads_as_one_arm():
    arms = {"gpu_r288": {"from": "m 2.1.0", "pictures": "all", "epochs": "12 x 16,384 at 288 px", "hardware": "H200", "history": "h.json"}}
    text = "\n".join(recipe_lines({**REFRAMED, "arms": arms}))
    assert "trained in one arm whose weights were averaged with the starting weights" in text and "1 arms" not in text
    assert "AdamW (lr 0.0001), BCE" in text and "| gpu_r288 | m 2.1.0 |" in text


def test_card_states_the_false_alarms_the_band_leaves(tmp_path):
    from scripts.write_model_card import card

    calibration = {"temperature": 1.6, "threshold": 0.535, "uncertain_margin": 0.13, "ece_before": 0.05, "ece_after": 0.06,
                   "val_false_alarm_rate": 0.1097, "false_alarm_budget": 0.02, "margin_for_false_alarm_budget": 0.25, "val_false_alarm_rate_at_that_margin": 0.0656}
    config = {"name": "m", "version": "2.1.0", "architecture": "tf_efficientnet_lite0", "input_size": 224, "mean": [0.5] * 3,
              "std": [0.5] * 3, "threshold": 0.535, "uncertain_margin": 0.13, "temperature": 1.6,
              "training": {**REFRAMED, "samples_per_epoch": 1, "epochs_run": 1, "seed": 0, "calibration": calibration}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    text = card(tmp_path, None)
    assert "at or above the symmetric band's upper edge: 11.0%" in text and "6.6% with a band of ±0.25, the band a 2% budget" in text
    assert "Likely manipulated' only from" not in text


def test_card_says_a_threshold_was_moved_to_the_previous_models_false_alarms(tmp_path):
    from scripts.write_model_card import card

    calibration = {"temperature": 1.6, "threshold": 0.519, "uncertain_margin": 0.09, "ece_before": 0.05, "ece_after": 0.06,
                   "val_false_alarm_rate": 0.1086, "false_alarm_budget": 0.02, "margin_for_false_alarm_budget": 0.25,
                   "val_false_alarm_rate_at_that_margin": 0.0548,
                   "threshold_matched": {"value": 0.5767, "old_threshold": 0.519, "reference_share": 0.1069,
                                         "share_at_old_threshold": 0.1476, "faces": {"reference": 393, "candidate": 393}}}
    config = {"name": "m", "version": "2.4.0", "architecture": "tf_efficientnet_lite0", "input_size": 288, "mean": [0.5] * 3,
              "std": [0.5] * 3, "threshold": 0.5767, "uncertain_margin": 0.09, "temperature": 1.6,
              "training": {**REFRAMED, "samples_per_epoch": 1, "epochs_run": 1, "seed": 0, "calibration": calibration}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    text = card(tmp_path, None)
    assert "decision threshold 0.5767 (moved from Youden's J on calibrated validation scores, 0.5190" in text
    assert "at most 10.7% of 393 real faces in validation group scenes" in text and "14.8% reached the Youden threshold" in text
    assert "upper edge around the Youden threshold 0.5190: 10.9%" in text  # the band's record belongs to the old threshold
    del calibration["threshold_matched"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert "(Youden's J on calibrated validation scores)" in card(tmp_path, None)


def test_card_states_a_raised_upper_edge_and_its_evidence():
    from scripts.write_model_card import fake_margin_sentence

    evidence = {"budget": 0.02, "val_group_faces": 300, "val_rate_at_uncertain_margin": 0.09, "val_rate_at_fake_margin": 0.02}
    config = {"threshold": 0.5, "uncertain_margin": 0.1, "fake_margin": 0.35, "training": {"calibration": {"fake_margin": evidence}}}
    text = fake_margin_sentence(config)
    assert "only from 0.850" in text and "at most 2% of 300 real faces" in text and "9.0% reached" in text
    assert fake_margin_sentence({"threshold": 0.5, "uncertain_margin": 0.1}) == ""


def test_card_states_the_bound_rule_when_the_margin_was_chosen_by_it():
    from scripts.write_model_card import fake_margin_sentence

    evidence = {"budget": 0.02, "confidence": 0.9, "layouts": 3, "val_group_faces": 5800, "val_group_pictures": 1937,
                "val_rate_at_uncertain_margin": 0.08, "val_rate_at_fake_margin": 0.015, "val_upper_bound": {"0.8": 0.0178, "0.9": 0.0192, "0.95": 0.0204}}
    config = {"threshold": 0.535, "uncertain_margin": 0.13, "fake_margin": 0.34, "training": {"calibration": {"fake_margin": evidence}}}
    text = fake_margin_sentence(config)
    assert "only from 0.875" in text and "1937 distinct pictures, 3 layout(s)" in text
    assert "90% Clopper-Pearson upper bound on that share is 1.92%, within the 2% budget" in text and "weighed" not in text
    evidence.update(mix="test-pool", val_effective_pictures=1800.6)
    assert "3 layout(s) each, each set weighed to its share of the test pool (effective 1801 pictures))" in fake_margin_sentence(config)


def test_card_states_the_tta_setting_when_the_config_has_one(tmp_path):
    from scripts.write_model_card import card, tta_sentence

    config = {"name": "m", "version": "2.2.0", "architecture": "tf_efficientnet_lite0", "input_size": 224, "mean": [0.5] * 3,
              "std": [0.5] * 3, "threshold": 0.5, "uncertain_margin": 0.1, "temperature": 1.0, "tta": "flip",
              "training": {**REFRAMED, "samples_per_epoch": 1, "epochs_run": 1, "seed": 0}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert '`tta` "flip"' in card(tmp_path, None) and "horizontal mirror" in card(tmp_path, None)
    assert tta_sentence({**config, "tta": "none"}) == "" and tta_sentence({k: v for k, v in config.items() if k != "tta"}) == ""


def test_card_says_when_the_app_withholds_the_models_verdict(tmp_path):
    from scripts.write_model_card import abstain_section

    (tmp_path / "config.json").write_text(json.dumps({"name": "m", "version": "2.4.0", "architecture": "a", "input_size": 288}))
    assert abstain_section(tmp_path) == []  # no measured limits beside the weights: nothing to say
    limits = {"min_face_px": 160, "max_disagree": 1, "max_disagree_video": 3, "measured": False, "model": "m 2.4.0"}
    (tmp_path / "abstain.json").write_text(json.dumps(limits))
    assert abstain_section(tmp_path) == []  # the default rules of an unmeasured model are not its measurement
    limits["measured"] = True
    limits["evidence"] = {"test_after": {"all": {"coverage": 0.4167, "accuracy_given": 0.93},
                                         "screenshot": {"coverage": 0.0667, "accuracy_given": 1.0}}}
    (tmp_path / "abstain.json").write_text(json.dumps(limits))
    text = "\n".join(abstain_section(tmp_path))
    assert "## When it does not judge" in text and "faces under 160 px are *too small to judge*" in text
    assert "more than 1 of its 11 changed copies" in text and "a video track when its verdict flips under more than 3" in text
    assert "screenshot 7% (100% of those right)" in text and "all 42%" in text
    (tmp_path / "abstain.json").write_text(json.dumps({**limits, "max_disagree_video": 0}))
    assert "flips under any of the changes" in "\n".join(abstain_section(tmp_path))  # not "more than 0"
    (tmp_path / "abstain.json").write_text(json.dumps({**limits, "model": "m 2.3.0"}))
    assert abstain_section(tmp_path) == []  # limits measured on another version are not this model's


def test_card_names_the_test_sets_it_lost_against_the_model_it_replaced(tmp_path):
    from scripts.write_model_card import card

    def model(folder, version, aucs):
        folder.mkdir()
        config = {"name": "m", "version": version, "architecture": "tf_efficientnet_lite0", "input_size": 224, "mean": [0.5] * 3,
                  "std": [0.5] * 3, "threshold": 0.5, "uncertain_margin": 0.1, "temperature": 1.0,
                  "training": {**REFRAMED, "samples_per_epoch": 1, "epochs_run": 1, "seed": 0},
                  "metrics": {"test": {k: {"n": 50, "auc": v} for k, v in aucs.items()}}}
        (folder / "config.json").write_text(json.dumps(config))
        return folder

    old = model(tmp_path / "old", "1.0.0", {"swaps/test": 0.835, "gan/test": 0.95})
    new = model(tmp_path / "new", "2.0.0", {"swaps/test": 0.795, "gan/test": 0.94, "new/test": 0.9})
    text = card(new, None, old)
    assert "## Against the model it replaced (m 1.0.0)" in text
    assert "| swaps/test | 50 | 0.8350 | 0.7950 | -0.0400 |" in text and "| new/test | 50 | – | 0.9000 | – |" in text
    limits = text[text.index("## Known limits"):]
    assert "Lower than m 1.0.0 on swaps/test: AUC 0.835 -> 0.795 (50 pictures)." in limits
    assert "gan/test" not in limits  # a loss of 0.01 is not named
    assert "Against the model it replaced" not in card(new, None)


def test_the_shipped_card_names_its_loss_against_the_model_it_replaced():
    from tests.conftest import ROOT

    shipped = (ROOT / "assets/models/dfx-lite0/MODEL_CARD.md").read_text()
    previous = json.loads((ROOT / "assets/models/dfx-lite0-2.3.0/config.json").read_text())
    current = json.loads((ROOT / "assets/models/dfx-lite0/config.json").read_text())
    assert f"## Against the model it replaced (dfx-lite0 {previous['version']})" in shipped
    lost = [k for k, m in current["metrics"]["test"].items() if m["auc"] <= previous["metrics"]["test"][k]["auc"] - 0.02]
    assert all(f"Lower than dfx-lite0 {previous['version']} on {k}:" in shipped for k in lost)
