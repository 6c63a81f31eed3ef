"""benchmarks.bench_explain --model: another checkpoint's explanation cost, stored under its own version."""

import json


def test_model_option_measures_that_checkpoint_and_names_the_result_by_version(tiny_checkpoint, tmp_path, monkeypatch):
    from benchmarks import bench_explain, common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    data = bench_explain.main(["--model", str(tiny_checkpoint)])
    assert data["model"] == "test-model 0.0.1" and data["input_px"] == 224
    assert set(data["methods"]) == {"Grad-CAM", "LIME", "Saliency", "SHAP"} and data["four_maps_s"] > 0
    stored = json.loads((tmp_path / "explain_0.0.1.json").read_text())
    assert stored["model"] == "test-model 0.0.1" and not (tmp_path / "explain.json").exists()
