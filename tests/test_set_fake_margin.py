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
