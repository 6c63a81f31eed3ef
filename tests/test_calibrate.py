"""The uncertain band (accuracy rule) and the false alarms on real faces it leaves, reported beside it."""

from __future__ import annotations

import numpy as np

from detector.training.calibrate import FALSE_ALARM_BUDGET, MAX_MARGIN, calibration_summary, false_alarm_margin


def test_false_alarm_margin_keeps_real_faces_under_the_budget():
    rng = np.random.default_rng(0)
    reals = rng.uniform(0.0, 0.6, 500)  # a sixth of the real faces just above a threshold of 0.5
    labels = np.zeros(500, dtype=int)
    margin = false_alarm_margin(labels, reals, 0.5)
    assert (reals >= 0.5 + margin).mean() <= FALSE_ALARM_BUDGET
    assert (reals >= 0.5 + margin - 0.01).mean() > FALSE_ALARM_BUDGET  # and no wider than needed
    assert false_alarm_margin(np.zeros(10, dtype=int), np.full(10, 0.99), 0.5) == MAX_MARGIN  # capped when no band is enough


def test_summary_reports_false_alarms_beside_the_accuracy_band():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(400, dtype=int), np.ones(400, dtype=int)]
    logits = np.r_[rng.normal(-2.0, 1.2, 400), rng.normal(2.0, 1.2, 400)]
    summary = calibration_summary(labels, logits)
    # accurate enough with no band, but ~5 % of the reals over the line: the band stays the accuracy rule's,
    # and what a 2 % budget would need (here: the cap, still not enough) is reported as it is
    assert summary["uncertain_margin"] == 0.0 and summary["val_false_alarm_rate"] > FALSE_ALARM_BUDGET
    assert summary["margin_for_false_alarm_budget"] == MAX_MARGIN
    assert FALSE_ALARM_BUDGET < summary["val_false_alarm_rate_at_that_margin"] < summary["val_false_alarm_rate"]
