"""The test-time scoring study turns stored view logits into one score per picture, as the app does."""

from __future__ import annotations

import numpy as np
import pytest


def test_the_study_scores_a_picture_by_its_most_suspicious_face_under_each_variant():
    from benchmarks.tta_study import VARIANTS, VIEWS, cell_logits

    quiet, loud = np.zeros(len(VIEWS)), np.zeros(len(VIEWS))
    quiet[:2] = [1.0, -3.0]  # crop, mirror
    loud[:2], loud[2:] = [0.5, 0.5], 2.0  # its 11 changed copies all at 2
    cell = {"temperature": 2.0, "records": [
        {"path": "a", "label": 1, "px": [120.0, 60.0], "views": [quiet.tolist(), loud.tolist()]},
        {"path": "b", "label": 0, "px": [], "views": []},  # no face: not scored
    ]}
    assert set(VARIANTS) >= {"crop", "flip_logit_mean", "copies_logit_mean"}
    labels, logits, paths = cell_logits(cell, "crop")
    assert paths == ["a"] and labels.tolist() == [1] and logits.tolist() == [1.0]
    assert cell_logits(cell, "flip_logit_mean")[1].tolist() == [0.5]  # max(mean(1, -3), mean(.5, .5))
    assert cell_logits(cell, "copies_logit_mean")[1].tolist() == [2.0]
    assert cell_logits(cell, "copies_logit_mean", min_px=100)[1].tolist() == [0.0]  # the 60 px face left out
    p = np.mean(1 / (1 + np.exp(-np.array([1.0, -3.0]) / 2.0)))
    assert cell_logits(cell, "flip_prob_mean", min_px=100)[1][0] == pytest.approx(2.0 * np.log(p / (1 - p)))
