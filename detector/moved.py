"""Old command paths that still work: `python -m detector.evaluate` (and train, calibrate, prepare)
moved into the job rooms in issue 15. Each old module forwards to the new one, unchanged arguments and
exit code, after one line on stderr naming the new path, so scripts and notes written before the move
keep running and say what to update."""

from __future__ import annotations

import runpy
import sys

MOVED = {
    "detector.evaluate": "detector.evaluation.evaluate",
    "detector.train": "detector.training.train",
    "detector.calibrate": "detector.training.calibrate",
    "detector.prepare": "detector.training.prepare",
}


def forward(old: str) -> None:
    """Run the command's new module as `__main__` (its SystemExit, and so its exit code, passes through).

    runpy with alter_sys=True gives the new module sys.argv[0] and __main__'s spec, so its --help
    reads the same and a spawn worker pool (detector.training.prepare) re-imports the new module."""
    new = MOVED[old]
    print(f"note: `python -m {old}` has moved to `python -m {new}`; running that", file=sys.stderr)
    runpy.run_module(new, run_name="__main__", alter_sys=True)
