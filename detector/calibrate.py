"""Moved to `detector.training.calibrate` (issue 15): `python -m detector.calibrate` still runs it, after a note on stderr."""

if __name__ == "__main__":
    from detector.moved import forward

    forward("detector.calibrate")
