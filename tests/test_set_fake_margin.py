import json

from scripts.set_fake_margin import cost_on_runs, main


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


def test_write_sets_the_smallest_margin_for_the_budget_and_keeps_the_evidence(tmp_path, monkeypatch):
    import benchmarks.robustness as robustness
    import detector.inference as inference
    from detector.config import ModelConfig

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(ModelConfig(threshold=0.5, uncertain_margin=0.1).to_json())
    data = tmp_path / "data"
    data.mkdir()
    # 100 real faces: 10 score 0.65 (inside a 0.1 band's reach), 1 scores 0.95; the rest are low.
    scores = [0.2] * 89 + [0.65] * 10 + [0.95]
    monkeypatch.setattr(inference, "Detector", lambda model: object())
    monkeypatch.setattr(robustness, "test_items", lambda data, name, limit, split: [("p", 0)] * 100)
    monkeypatch.setattr(robustness, "score_groups", lambda det, items, name, data: [{"score": s, "label": 0} for s in scores])
    assert main([str(folder), "--data", str(data), "--budget", "0.02", "--write"]) == 0
    config = ModelConfig.load(folder / "config.json")
    # 0.65 must be cleared (11 % > 2 %) but 0.95 may stay (1 %): the first grid margin above 0.15.
    assert config.fake_margin == 0.16 and config.band() == (0.4, 0.66)
    evidence = config.training["calibration"]["fake_margin"]
    assert evidence["val_rate_at_uncertain_margin"] == 0.11 and evidence["val_rate_at_fake_margin"] == 0.01
    # A budget the symmetric band already meets leaves the band symmetric (no fake_margin key).
    assert main([str(folder), "--data", str(data), "--budget", "0.5", "--write"]) == 0
    assert ModelConfig.load(folder / "config.json").fake_margin is None
