"""benchmarks.bench_latency --model: every model timed in one run, plain and checked, with its input size."""

import json


def test_compare_times_each_model_plain_and_checked_and_names_its_input_size(tiny_checkpoint, tmp_path, monkeypatch):
    from benchmarks import bench_latency, common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    data = bench_latency.main(["--model", str(tiny_checkpoint), "--rounds", "2"])
    key = str(tiny_checkpoint)
    assert set(data["median_s"]) == {f"{key} analyze", f"{key} analyze_checked"}
    assert all(len(t) == 2 and min(t) > 0 for t in data["times_s"].values())
    stored = json.loads((tmp_path / "latency_models.json").read_text())
    assert stored["rounds"] == 2 and stored["median_s"] == data["median_s"]


def test_interleaved_takes_the_calls_in_turn_every_round():
    from benchmarks.common import interleaved

    order = []
    times = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=3)
    assert order == ["a", "b"] * 3 and all(len(t) == 3 and min(t) >= 0 for t in times.values())
