"""Moved to `detector.training.train` (issue 15): `python -m detector.train` still runs it, after a note on stderr."""

if __name__ == "__main__":
    from detector.moved import forward

    forward("detector.train")
