"""benchmarks.bench_memory --model: the sidebar's picker switches the model before the uploads are measured."""

import json

import pytest

from detector.checkpoint import MODELS_DIR


@pytest.mark.skipif(not (MODELS_DIR / "dfx-lite0-2.1.0").is_dir(), reason="needs the shipped dfx-lite0-2.1.0 checkpoint")
def test_model_option_picks_that_model_and_stores_its_own_result(tmp_path, monkeypatch):
    from benchmarks import bench_memory, common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    data = bench_memory.main(["--model", "dfx-lite0-2.1.0", "--analyses", "1"])
    stored = json.loads((tmp_path / "memory_dfx-lite0-2.1.0.json").read_text())
    assert stored["model"] == "dfx-lite0-2.1.0" and stored["analyses"] == 1
    assert "v2.1.0" in stored["model_shown"] and "224 px" in stored["model_shown"]  # the picker did switch
    assert 0 < data["rss_loaded_mb"] <= data["peak_rss_mb"] and not (tmp_path / "memory.json").exists()



def test_steps_benchmark_measures_every_step_in_both_modes(tmp_path, monkeypatch, tiny_checkpoint):
    """bench_memory_steps: every page step in both modes, stored under the checkpoint's version."""
    from benchmarks import bench_memory_steps, common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(bench_memory_steps, "PAGE_MAPS", {"LIME": {"samples": 16, "segments": 20}, "SHAP": {"samples": 4, "segments": 20}})
    data = bench_memory_steps.main(["--model", str(tiny_checkpoint), "--rounds", "1"])
    assert set(data["median"]) == {"model as loaded", "stand-ins"}
    for steps in data["median"].values():
        assert list(steps) == ["checked analysis", "LIME", "SHAP"]
        assert all(v["peak_over_start_mb"] >= 0 and v["seconds"] > 0 for v in steps.values())
    assert json.loads((tmp_path / "memory_steps_0.0.1.json").read_text())["rounds"] == 1
