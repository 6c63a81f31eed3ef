"""Comparing models at matched false alarms on real faces in group scenes (scripts.compare_operating_points)."""

from __future__ import annotations

import json

import numpy as np

from scripts import compare_operating_points as cop


def write_run(folder, set_name, condition, reals, fakes, threshold=0.5, fake_cut=None):
    folder.mkdir(parents=True, exist_ok=True)
    items = [{"label": 0, "score": s} for s in reals] + [{"label": 1, "score": s} for s in fakes]
    info = {"set": set_name, "condition": condition, **({"fake_cut": fake_cut} if fake_cut is not None else {})}
    (folder / f"m_{set_name}_{condition}.json").write_text(json.dumps({"threshold": threshold, "info": info, "scores": items}))


def test_the_matched_cut_lets_exactly_the_allowed_share_of_real_faces_through():
    reals = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    assert ((reals >= cop.matched_cut(reals, 0.2)).sum()) == 2
    assert ((reals >= cop.matched_cut(reals, 0.0)).sum()) == 0
    assert ((reals >= cop.matched_cut(reals, 0.25)).sum()) == 2  # 2.5 faces: at most 2
    with_missing = np.append(reals, -np.inf)  # a face not found is not a real face scored
    assert ((with_missing >= cop.matched_cut(with_missing, 0.2)).sum()) == 2


def test_a_model_with_a_shifted_calibration_but_the_same_ranks_ties(tmp_path, capsys):
    rng = np.random.default_rng(0)
    reals, group_reals, fakes = rng.random(200) * 0.6, rng.random(100) * 0.7, 0.3 + rng.random(200) * 0.7
    write_run(tmp_path / "a", "real_groups", "group", group_reals, [], threshold=0.5, fake_cut=0.6)
    write_run(tmp_path / "a", "dfdc", "plain", reals, fakes)
    # Model b: the same ranking, squashed scores (another calibration): its own cut would call far more fakes.
    write_run(tmp_path / "b", "real_groups", "group", group_reals**2, [], threshold=0.2, fake_cut=0.25)
    write_run(tmp_path / "b", "dfdc", "plain", reals**2, fakes**2)
    # Model c: ranks fakes better (every fake higher).
    write_run(tmp_path / "c", "real_groups", "group", group_reals, [], threshold=0.5, fake_cut=0.6)
    write_run(tmp_path / "c", "dfdc", "plain", reals, np.minimum(fakes + 0.2, 1.0))
    assert cop.main([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c"), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    a, b, c = (table[f"likely manipulated | {tmp_path / m}"] for m in "abc")
    assert np.isclose(a["reals_share"], (group_reals >= 0.6).mean()) and b["reals_share"] == a["reals_share"]
    assert a["mean_recall"] == b["mean_recall"]  # ranks decide, calibration does not
    assert c["mean_recall"] > a["mean_recall"]
    assert set(a["recall"]) == {"dfdc@plain"}
    assert "threshold | " + str(tmp_path / "a") in table


def test_a_folder_without_the_group_scene_reals_is_refused_with_one_line(tmp_path, capsys):
    write_run(tmp_path / "a", "dfdc", "plain", [0.1], [0.9])
    assert cop.main([str(tmp_path / "a"), str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "real_groups" in err[0]
