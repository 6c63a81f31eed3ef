"""Moved to `detector.evaluation.evaluate` (issue 15): `python -m detector.evaluate` still runs it, after a note on stderr."""

if __name__ == "__main__":
    from detector.moved import forward

    forward("detector.evaluate")
