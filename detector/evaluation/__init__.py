"""Evaluation jobs: score a model on labelled folders, store runs, and the numbers and figures of a run.

May import the inference core (detector.*); never detector.training or detector.reporting.
"""
