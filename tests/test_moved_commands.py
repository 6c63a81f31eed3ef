"""The old command paths (`python -m detector.evaluate`, train, calibrate, prepare) still run the moved
commands: same output, same exit code, and one line on stderr naming the new path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from detector.moved import MOVED
from tests.conftest import ROOT


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_prints_the_new_ones_help(old):
    before, after = run(old, "--help"), run(MOVED[old], "--help")
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout and "usage:" in before.stdout
    note = before.stderr.strip().splitlines()
    assert len(note) == 1 and f"python -m {MOVED[old]}" in note[0] and "Traceback" not in before.stderr


def test_old_path_keeps_the_exit_code_of_a_failure(tmp_path):
    missing = str(tmp_path / "no-such-folder")
    before, after = run("detector.evaluate", missing), run("detector.evaluation.evaluate", missing)
    assert after.returncode != 0 and before.returncode == after.returncode
    assert before.stderr.splitlines()[1:] == after.stderr.splitlines()  # the note, then the same error
    assert run("detector.train", "--no-such-option").returncode == 2  # argparse's usage error, passed through

