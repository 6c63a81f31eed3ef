"""Maintenance scripts: python -m scripts.<name>."""

# Before torch: the OpenMP wait policy only counts if set before torch loads (detector/threads.py).
import detector.threads  # noqa: F401
