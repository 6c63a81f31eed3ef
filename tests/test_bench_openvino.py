"""benchmarks/bench_openvino.py: its ways of running crops score every crop, in order, whatever the free cores."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest


def fake_run(seen: list):
    """A 'runtime' whose logit for a crop is its mean pixel, noting which thread ran it (and taking a little time, as
    a forward pass does, so that the second worker's run starts while the first is busy)."""

    def run(part: np.ndarray) -> np.ndarray:
        seen.append((threading.get_ident(), len(part)))
        time.sleep(0.02)
        return part.reshape(len(part), -1).mean(axis=1)

    return run


@pytest.mark.parametrize("cores", ["1", "2"])
def test_runs_over_the_free_cores_keep_the_crops_order(monkeypatch, cores):
    from benchmarks.bench_openvino import one_by_one, over_free_cores

    monkeypatch.setenv("DFX_THREADS", cores)  # the thread policy's fixed count (detector/threads.py)
    pixels = np.random.default_rng(0).random((7, 3, 4, 4), dtype=np.float32)
    seen: list = []
    score = over_free_cores([fake_run(seen), fake_run(seen)])
    np.testing.assert_array_equal(score(pixels), pixels.reshape(7, -1).mean(axis=1))
    assert [n for _, n in seen] == [1] * 7  # one crop per run
    assert len({thread for thread, _ in seen}) == int(cores)  # side by side only when two cores are free
    seen.clear()
    np.testing.assert_array_equal(one_by_one(fake_run(seen))(pixels), pixels.reshape(7, -1).mean(axis=1))
    assert len(seen) == 7


def test_summary_ratios_compare_each_way_with_the_app_s_scorer():
    from benchmarks.bench_openvino import APP, SHAPES, summarise

    times = {APP: {shape: [0.010 * n] * 3 for shape, n in SHAPES.items()},
             "twice as fast": {shape: [0.005 * n] * 3 for shape, n in SHAPES.items()}}
    summary = summarise(times)
    assert all(r == pytest.approx(2.0) for r in summary["app_over_way"]["twice as fast"].values())
    assert all(ms == pytest.approx(10.0) for ms in summary["per_crop_ms"][APP].values())
    assert summary["face_needing_all_11_ms"][APP] == pytest.approx(120.0)  # the check's calls of 8 then 4 crops
