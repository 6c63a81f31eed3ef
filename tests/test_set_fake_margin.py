import json
from types import SimpleNamespace

import numpy as np
import pytest

from scripts.set_fake_margin import (
    UNREACHABLE,
    choose_margin,
    cost_on_runs,
    faces_by_picture,
    main,
    rate_at,
    upper_bound,
)


def test_cost_on_runs_counts_faces_at_or_above_each_cut(tmp_path):
    scores = [{"label": 1, "score": s} for s in (0.95, 0.7, 0.6, None)] + [{"label": 0, "score": s} for s in (0.1, 0.65)]
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"data": "toy/test", "scores": scores}))
    cost = cost_on_runs([path], old_cut=0.6, new_cut=0.9)["toy/test"]
    assert cost["fakes_likely_manipulated"] == [1.0, 1 / 3] and cost["reals_likely_manipulated"] == [0.5, 0.0]
    assert cost["n_fake"] == 3 and cost["n_real"] == 2


def test_a_folder_without_a_config_is_refused_in_one_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_upper_bound_is_clopper_pearson():
    # No hit in n: the exact one-sided bound is 1 - (1 - c)^(1/n).
    assert upper_bound(0, 393, 0.9) == pytest.approx(1 - 0.1 ** (1 / 393))
    # 7 of 393 (1.78 %, the plain rule's validation rate for 2.1.0) is not 90 %-sure to be under 2 %.
    assert 0.02 < upper_bound(7, 393, 0.9) < 0.03
    # Monotone in the count (fractional counts included) and in the confidence; n = 0 says nothing.
    assert upper_bound(3, 393, 0.9) < upper_bound(3.5, 393, 0.9) < upper_bound(4, 393, 0.9) < upper_bound(4, 393, 0.95)
    assert upper_bound(0, 0, 0.9) == 1.0 and upper_bound(5, 5, 0.9) == 1.0


def pictures(scores: list[float]) -> list[np.ndarray]:
    return [np.array([s]) for s in scores]


def test_the_bound_picks_a_larger_margin_than_the_plain_rate():
    # 400 real pictures: 8 score 0.70 and 6 score 0.80, the rest 0.2. Threshold 0.5, budget 2 %.
    val = pictures([0.2] * 386 + [0.70] * 8 + [0.80] * 6)
    plain = choose_margin(val, 0.5, 0.02, None, 0.1, 0.49)
    bound = choose_margin(val, 0.5, 0.02, 0.9, 0.1, 0.49)
    # The plain rule clears the eight at 0.70 (then 1.5 % remain); the 0.9 bound on 6/400 is 2.6 %, so it
    # must clear the 0.80s too.
    assert plain == 0.21 and rate_at(val, 0.5 + plain) == 0.015
    assert bound == 0.31 and rate_at(val, 0.5 + bound) == 0.0 and upper_bound(0, 400, 0.9) <= 0.02


def test_no_margin_is_returned_when_the_budget_cannot_be_met():
    # 50 pictures: even with no hit the 0.9 bound is 4.5 %, above a 2 % budget at every margin.
    assert choose_margin(pictures([0.1] * 50), 0.5, 0.02, 0.9, 0.1, 0.49) is None
    assert choose_margin(pictures([0.1] * 50), 0.5, 0.02, None, 0.1, 0.49) == 0.1


def test_faces_count_once_per_picture_and_only_from_80_px():
    records = [
        {"path": "scene0:a.jpg", "score": 0.9, "face_px": 120.0},
        {"path": "scene4:a.jpg", "score": 0.1, "face_px": 118.0},  # the same picture in another layout
        {"path": "scene1:b.jpg", "score": 0.95, "face_px": 79.9},  # too small: the target is for faces >= 80 px
        {"path": "scene2:c.jpg", "score": None, "face_px": 60.0},
        {"path": "scene3:d.jpg", "score": 0.2},  # an older record without a size is kept
    ]
    val = list(faces_by_picture(records).values())
    assert sorted(len(p) for p in val) == [1, 2]
    # a.jpg is called fake in one of its two layouts (0.5), d.jpg in none: mean over the 2 pictures.
    assert rate_at(val, 0.8) == 0.25


def test_group_faces_carry_their_size_and_false_alarms_count_only_80_px(tmp_path, monkeypatch):
    import benchmarks.robustness as robustness

    def face(x, size, p):
        return SimpleNamespace(box=(x, 10.0, x + size * 0.8, 10.0 + size), p_fake=p, logit=0.0, face=SimpleNamespace(turn=None))

    placed = [((0, 0, 300, 300), 0, str(tmp_path / "big.jpg")), ((400, 0, 700, 300), 0, str(tmp_path / "small.jpg"))]
    monkeypatch.setattr(robustness, "group_scenes", lambda items, seed: [(None, placed)])
    detector = SimpleNamespace(analyze=lambda scene: SimpleNamespace(faces=[face(20, 100, 0.7), face(420, 70, 0.9)], seconds=0.2))
    records = robustness.score_groups(detector, [], "toy", tmp_path)
    # Both faces are scored (the AUC cells stay comparable); the size is the box's longest side.
    assert [(r["score"], r["face_px"]) for r in records] == [(0.7, 100.0), (0.9, 70.0)]
    # The 70 px face would be a false alarm at 0.8, but the target is for faces of at least 80 px.
    assert robustness.verdict_shares(records, 0.8) == {"fake_cut": 0.8, "reals_likely_manipulated": 0.0, "reals_counted": 1}
    assert list(faces_by_picture(records)) == ["big.jpg"] and faces_by_picture(records)["big.jpg"].tolist() == [0.7]


def test_layouts_get_their_own_seed_and_layout_0_is_the_suites():
    from benchmarks.robustness import layout_seed

    assert layout_seed("real_groups", 0) == "real_groups"
    assert len({layout_seed("real_groups", k) for k in range(3)}) == 3


def planted(tmp_path, monkeypatch, scores: list[float], threshold: float = 0.5):
    """A model folder and data folder whose validation group scenes score `scores` (one face per picture)."""
    import benchmarks.robustness as robustness
    import detector.inference as inference
    from detector.config import ModelConfig

    folder, data = tmp_path / "model", tmp_path / "data"
    folder.mkdir()
    data.mkdir()
    (folder / "config.json").write_text(ModelConfig(threshold=threshold, uncertain_margin=0.1).to_json())
    monkeypatch.setattr(inference, "Detector", lambda model: object())
    monkeypatch.setattr(robustness, "test_items", lambda data, name, limit, split: [("p", 0)] * len(scores))
    monkeypatch.setattr(robustness, "score_groups", lambda det, items, name, data, layout=0: [
        {"path": f"scene{i}:toy/val/real/p{i}.jpg", "score": s, "label": 0, "face_px": 120.0} for i, s in enumerate(scores)])
    return folder, data


def test_write_sets_the_smallest_margin_for_the_budget_and_keeps_the_evidence(tmp_path, monkeypatch):
    from detector.config import ModelConfig

    # 100 real faces: 10 score 0.65 (inside a 0.1 band's reach), 1 scores 0.95; the rest are low.
    folder, data = planted(tmp_path, monkeypatch, [0.2] * 89 + [0.65] * 10 + [0.95])
    assert main([str(folder), "--data", str(data), "--budget", "0.02", "--test-runs", "--write"]) == 0
    config = ModelConfig.load(folder / "config.json")
    # 0.65 must be cleared (11 % > 2 %) but 0.95 may stay (1 %): the first grid margin above 0.15.
    assert config.fake_margin == 0.16 and config.band() == (0.4, 0.66)
    evidence = config.training["calibration"]["fake_margin"]
    assert evidence["val_rate_at_uncertain_margin"] == 0.11 and evidence["val_rate_at_fake_margin"] == 0.01
    assert evidence["confidence"] is None and evidence["val_group_pictures"] == 100
    # A budget the symmetric band already meets leaves the band symmetric (no fake_margin key).
    assert main([str(folder), "--data", str(data), "--budget", "0.5", "--test-runs", "--write"]) == 0
    assert ModelConfig.load(folder / "config.json").fake_margin is None


def test_confidence_writes_the_bound_rule_and_prints_one_table(tmp_path, monkeypatch, capsys):
    from detector.config import ModelConfig

    # 400 faces: 8 at 0.70, 6 at 0.80. Plain clears the 0.70s; the 0.9 bound on 6/400 (2.6 %) does not allow the 0.80s.
    folder, data = planted(tmp_path, monkeypatch, [0.2] * 386 + [0.70] * 8 + [0.80] * 6)
    assert main([str(folder), "--data", str(data), "--confidence", "0.9", "--test-runs", "--write"]) == 0
    config = ModelConfig.load(folder / "config.json")
    assert config.fake_margin == 0.31
    evidence = config.training["calibration"]["fake_margin"]
    assert evidence["confidence"] == 0.9 and evidence["val_upper_bound"]["0.9"] <= 0.02
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("| rule")))
    table = lines[first : lines.index(next(line for line in lines if line.startswith("(old edge")))]
    # The chosen cut per source set follows: one planted set, its 400 pictures, nothing left at 0.81.
    assert "| toy | 400 | 0.00% | – | – |" in lines
    rules = ["| current config", "| plain", "| bound@0.8", "| bound@0.9 (chosen)", "| bound@0.95"]
    assert [line.split(" | ")[0] for line in table[2:]] == rules
    # The current config's edge (the symmetric band, 0.1) reaches 3.5 % of the planted faces.
    assert "| 0.10 |" in table[2] and "| 3.50% |" in table[2] and "| 0.21 |" in table[3] and "| 0.31 |" in table[5]


def test_a_budget_the_bound_cannot_meet_exits_3_and_writes_nothing(tmp_path, monkeypatch, capsys):
    folder, data = planted(tmp_path, monkeypatch, [0.1] * 50)
    before = (folder / "config.json").read_text()
    assert main([str(folder), "--data", str(data), "--confidence", "0.9", "--test-runs", "--write"]) == UNREACHABLE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no margin") and "--limit 0" in err[-1]
    assert (folder / "config.json").read_text() == before


def test_a_confidence_outside_its_range_is_refused(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--confidence", "1.5"])
    assert exit_info.value.code == 2




def test_test_pool_mix_reweighs_sets_and_the_bound_uses_the_effective_sample():
    from scripts.set_fake_margin import effective_n, set_weights

    # Validation: 90 pictures of set a (none called fake), 10 of set b (half called fake): 5 % pooled.
    pictures = {f"a/val/real/{i}.jpg": np.array([0.1]) for i in range(90)}
    pictures |= {f"b/val/real/{i}.jpg": np.array([0.9 if i % 2 else 0.1]) for i in range(10)}
    weights = set_weights(pictures, {"a": 50, "b": 50})  # the test pool is half b
    assert rate_at(list(pictures.values()), 0.5) == 0.05
    assert rate_at(list(pictures.values()), 0.5, weights) == pytest.approx(0.25)
    # Uneven weights carry less evidence than as many equal ones: 1 / (0.5^2/90 + 0.5^2/10) = 36 pictures.
    assert effective_n(100, None) == 100 and effective_n(100, weights) == pytest.approx(36.0)
    # A set the test pool lacks weighs nothing.
    assert set_weights(pictures, {"a": 1})[-1] == 0.0


def test_records_are_reused_only_for_the_same_model_and_settings(tmp_path, monkeypatch, capsys):
    import benchmarks.robustness as robustness

    folder, data = planted(tmp_path, monkeypatch, [0.2] * 386 + [0.70] * 8 + [0.80] * 6)
    records = tmp_path / "records.json"
    args = [str(folder), "--data", str(data), "--test-runs", "--records", str(records)]
    assert main(args) == 0 and records.is_file()
    # Scoring now would give other scores: a matching file must be read instead.
    monkeypatch.setattr(robustness, "score_groups", lambda det, items, name, data, layout=0: [
        {"path": f"scene{i}:toy/val/real/p{i}.jpg", "score": 0.99, "label": 0, "face_px": 120.0} for i in range(400)])
    capsys.readouterr()
    assert main(args) == 0 and '"fake_margin": 0.21' in capsys.readouterr().out
    # Other settings (two layouts) do not match the file: scored again, every face at 0.99 cannot be cleared.
    assert main([*args, "--layouts", "2"]) == UNREACHABLE


def test_the_test_pool_mix_counts_real_test_files_per_set(tmp_path):
    from scripts.set_fake_margin import test_pool_mix

    for name, split, label, n in (("dfdc", "test", "real", 3), ("dfdc", "test", "fake", 5), ("stylegan1_ffhq", "test", "real", 2),
                                  ("stylegan1_ffhq", "val", "real", 7), ("sd21_faces", "test", "fake", 4)):
        folder = tmp_path / name / split / label
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"{i}.jpg").write_bytes(b"")  # counted, never opened
    assert test_pool_mix(tmp_path) == {"dfdc": 3, "stylegan1_ffhq": 2}


def test_write_with_the_test_pool_mix_records_it_and_refuses_data_without_a_test_pool(tmp_path, monkeypatch, capsys):
    import benchmarks.robustness as robustness
    from detector.config import ModelConfig

    real_test_items = robustness.test_items
    folder, data = planted(tmp_path, monkeypatch, [0.2] * 100)
    monkeypatch.setattr(robustness, "test_items", real_test_items)  # the test pool is counted from the planted data folder
    assert main([str(folder), "--data", str(data), "--test-runs", "--mix", "test-pool"]) == 2
    assert "no real test picture" in capsys.readouterr().err.splitlines()[-1]
    # Two validation sets, dfdc clean and stylegan1_ffhq with 10 of 50 high; the test pool is half and half.
    scores = {f"dfdc/val/real/{i}.jpg": 0.2 for i in range(150)} | {f"stylegan1_ffhq/val/real/{i}.jpg": 0.8 if i < 10 else 0.2 for i in range(50)}
    monkeypatch.setattr(robustness, "score_groups", lambda det, items, name, data, layout=0: [
        {"path": f"scene{i}:{path}", "score": s, "label": 0, "face_px": 100.0} for i, (path, s) in enumerate(scores.items())])
    for name in ("dfdc", "stylegan1_ffhq"):
        (data / name / "test" / "real").mkdir(parents=True)
        (data / name / "test" / "real" / "a.jpg").write_bytes(b"")
    assert main([str(folder), "--data", str(data), "--test-runs", "--budget", "0.06", "--write"]) == 0
    assert ModelConfig.load(folder / "config.json").fake_margin is None  # pooled: 5 %, the band already meets 6 %
    assert main([str(folder), "--data", str(data), "--test-runs", "--budget", "0.06", "--mix", "test-pool", "--write"]) == 0
    config = ModelConfig.load(folder / "config.json")
    evidence = config.training["calibration"]["fake_margin"]
    # Weighed half and half, stylegan1_ffhq's 20 % counts for 10 %: the 0.8s must be cleared.
    assert config.fake_margin == 0.31 and evidence["mix"] == "test-pool" and evidence["val_rate_at_uncertain_margin"] == 0.1
    assert evidence["val_effective_pictures"] == pytest.approx(1 / (0.25 / 150 + 0.25 / 50), abs=0.1)
