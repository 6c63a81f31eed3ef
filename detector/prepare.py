"""Moved to `detector.training.prepare` (issue 15): `python -m detector.prepare` still runs it, after a note on stderr."""

if __name__ == "__main__":
    from detector.moved import forward

    forward("detector.prepare")
