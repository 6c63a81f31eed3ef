"""Training jobs: crop cache (prepare), augmentation and self-blended fakes, fine-tuning, calibration.

May import the inference core (detector.*) and detector.evaluation metrics; nothing imports it at run time.
"""
