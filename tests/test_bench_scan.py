"""benchmarks/bench_scan.py's memory analysis: per-process lives, restarts and slopes (no model, no Ray)."""

from __future__ import annotations

import os

from benchmarks.bench_scan import actor_pids, descends_from, lives, rss_parts


def sample(t: float, done: int, workers: dict[str, float], cpu: dict[str, float]) -> dict:
    return {"t": t, "done": done, "driver_mb": 600.0, "driver_anon_mb": 300.0, "workers_mb": workers,
            "workers_parts_mb": {pid: {"RssAnon": mb - 400, "RssFile": 400.0, "RssShmem": 0.0} for pid, mb in workers.items()},
            "workers_cpu_s": cpu}


def test_lives_fit_each_actor_and_judge_per_own_file():
    # Two actors share 10,000 files evenly; "a" grows 3 MB per 1,000 files of the scan, "b" is flat.
    samples = [sample(t, t * 10, {"a": 1000 + 3 * t / 100, "b": 950.0}, {"a": t / 2, "b": t / 2}) for t in range(0, 1001, 5)]
    result = lives(samples)
    a, b, driver = result["processes"]["a"], result["processes"]["b"], result["processes"]["driver"]
    assert abs(a["mb_per_1000_files"] - 3.0) < 0.01 and abs(a["anon_mb_per_1000_files"] - 3.0) < 0.01
    assert a["share_of_files_est"] == 0.5 and abs(a["mb_per_1000_own_files_est"] - 6.0) < 0.05  # stricter
    assert b["mb_per_1000_files"] == 0 and driver["mb_per_1000_files"] == 0
    assert a["warm_from_files"] == 500 and not a["killed"] and not b["killed"]
    assert result["flat"] is False  # 6 MB per 1,000 own files is over the 5 MB line
    slower = [sample(t, t * 10, {"a": 1000 + 2 * t / 100, "b": 950.0}, {"a": t / 2, "b": t / 2}) for t in range(0, 1001, 5)]
    assert lives(slower)["flat"] is True  # 4 MB per 1,000 own files
    assert lives(slower[:30])["flat"] is False  # 1,450 files after warm-up: too short to judge anything


def test_a_replaced_actor_is_its_own_life_and_marked_killed():
    first = [sample(t, t * 10, {"a": 1000.0}, {"a": float(t)}) for t in range(0, 400, 5)]
    second = [sample(t, t * 10, {"c": 990.0}, {"c": float(t - 400)}) for t in range(410, 1001, 5)]
    result = lives(first + second)["processes"]
    assert result["a"]["killed"] and not result["c"]["killed"]
    assert result["a"]["files_to"] == 3950 and result["c"]["files_from"] == 4100
    assert "share_of_files_est" not in result["c"]  # a restart makes the CPU split meaningless


def test_rss_parts_and_actor_ancestry():
    parts = rss_parts("self")
    assert parts["VmRSS"] > 0 and parts["RssAnon"] > 0
    assert rss_parts(2**22 + 12345) is None  # a pid that has gone
    assert descends_from(os.getpid(), os.getppid()) and not descends_from(os.getppid(), os.getpid())
    assert actor_pids() == []  # this test process started no Ray actors
