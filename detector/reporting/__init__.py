"""Reporting: the saved HTML/PDF report and the face boxes drawn on a picture.

May import the inference core (detector.*); never detector.training or detector.evaluation.
"""
