"""The OpenMP wait settings reach torch from every entry point, and the thread count follows the free cores
(issue 19: 20-30x slower next to one busy process)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Records OMP_WAIT_POLICY at the moment torch is first imported, then imports the module named in argv[1].
PROBE = """
import importlib, os, sys
seen = {}
class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "policy" not in seen:
            seen["policy"] = f'{os.environ.get("OMP_WAIT_POLICY")}/{os.environ.get("GOMP_SPINCOUNT")}'
sys.meta_path.insert(0, Probe())
importlib.import_module(sys.argv[1])
print(seen.get("policy", "torch not imported"))
"""


def policy_when_torch_loads(module: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "DFX_THREADS", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE, module], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", ["detector.inference", "benchmarks.bench_explain"])
def test_entry_points_set_a_short_spin_before_torch(module):
    assert policy_when_torch_loads(module) == "None/20000"


def test_a_users_own_policy_is_kept_and_empty_means_openmp_default():
    assert policy_when_torch_loads("detector.inference", OMP_WAIT_POLICY="PASSIVE") == "PASSIVE/None"
    assert policy_when_torch_loads("detector.inference", GOMP_SPINCOUNT="1000") == "None/1000"
    assert policy_when_torch_loads("detector.inference", OMP_WAIT_POLICY="") == "None/None"


TORCH_BEARING = ("torch", "torchvision", "timm", "facenet_pytorch", "captum", "pytorch_grad_cam", "lime",
                 "detector", "xai", "pages", "benchmarks", "scripts", "tests")


def test_every_package_and_the_app_import_the_policy_before_anything_that_loads_torch():
    """Packages run with -m import their __init__ first; app.py runs as a script; pytest loads conftest first."""
    for path in ("app.py", "detector/__init__.py", "xai/__init__.py", "benchmarks/__init__.py",
                 "scripts/__init__.py", "tests/conftest.py"):
        names = []
        for node in ast.parse((ROOT / path).read_text()).body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names.append(node.module or "")
        assert "detector.threads" in names, path
        before = names[:names.index("detector.threads")]
        assert not [n for n in before if n.split(".")[0] in TORCH_BEARING], path


def test_thread_count(monkeypatch):
    from detector.threads import available_cores, cpu_threads_now, thread_count

    monkeypatch.setenv("DFX_THREADS", "1")
    assert thread_count() == 1 and cpu_threads_now() == 1
    monkeypatch.setenv("DFX_THREADS", "not a number")
    assert thread_count() == max(1, min(8, available_cores()))
    monkeypatch.delenv("DFX_THREADS")
    assert 1 <= cpu_threads_now() <= thread_count() <= 8


def test_threads_follow_the_free_cores():
    from detector.threads import CpuWatch, threads_for

    assert [threads_for(free, 2) for free in (2.0, 1.6, 1.4, 1.0, 0.2, -1.0)] == [2, 2, 1, 1, 1, 1]
    assert threads_for(30.0, 8) == 8
    # 1.8 CPU-seconds in 1 s on our cores, 1.0 of them ours: others kept 0.8 cores busy
    assert CpuWatch.elsewhere_between((0.0, 10.0, 5.0), (1.0, 11.8, 6.0)) == pytest.approx(0.8)
    assert CpuWatch.elsewhere_between((0.0, 10.0, 5.0), (1.0, 11.0, 6.0)) == 0.0  # only our own work


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) > 4,
                    reason="Linux only; saturating more than 4 cores is too much load for a test")
def test_a_model_forward_uses_one_thread_when_other_programs_hold_every_core(monkeypatch, detector, astronaut):
    import time

    import torch

    from detector.threads import available_cores, busy_elsewhere

    crop = astronaut.resize((detector.config.input_size,) * 2)
    monkeypatch.setenv("DFX_THREADS", "2")
    detector.classify([crop])
    assert torch.get_num_threads() == 2  # a fixed count is kept
    monkeypatch.delenv("DFX_THREADS")
    spinners = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
                for _ in range(available_cores())]
    try:
        busy_elsewhere()
        time.sleep(1.5)  # three of the watch's half-second samples
        assert busy_elsewhere() >= available_cores() - 0.5
        detector.classify([crop])  # the forward hook re-reads the free cores in this thread
        assert torch.get_num_threads() == 1
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
