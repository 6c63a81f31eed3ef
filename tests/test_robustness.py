"""The robustness suite's conditions are deterministic project code, and its runs make a model x condition matrix."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.robustness import CONDITIONS, group_scenes, reframe
from detector.evaluation.run_metrics import condition_frame, false_alarm_frame


@pytest.mark.parametrize("condition", [c for c in CONDITIONS if c != "group"])
def test_each_condition_is_deterministic_and_does_what_it_says(astronaut, condition):
    first = np.asarray(reframe(astronaut, condition, "set/test/real/a.jpg"))
    again = np.asarray(reframe(astronaut, condition, "set/test/real/a.jpg"))
    assert np.array_equal(first, again)
    w, h = astronaut.size
    expected = {"plain": (h, w), "jpeg60": (h, w), "half": (h // 2, w // 2), "up175": (round(h * 1.75), round(w * 1.75)), "canvas": (720, 1280),
                "h264_crf23": (h // 2 * 2, w // 2 * 2), "h264_crf40": (h // 2 * 2, w // 2 * 2)}
    if condition in expected:
        assert first.shape[:2] == expected[condition]
    if condition == "post":
        assert first.shape[0] > h and first.shape[1] >= w
    if condition != "plain":
        other = np.asarray(reframe(astronaut, condition, "set/test/real/b.jpg"))
        assert condition in ("half", "up175", "jpeg60", "h264_crf23", "h264_crf40") or not np.array_equal(first, other)


def test_a_video_frame_loses_more_the_higher_its_crf_and_keeps_the_picture():
    from benchmarks.robustness import reframe

    rng = np.random.default_rng(0)
    # smooth shapes plus fine texture: what a codec keeps and what it throws away
    y, x = np.mgrid[0:120, 0:161]
    picture = np.clip(np.stack([x, y, (x + y) // 2], -1) + rng.normal(0, 12, (120, 161, 3)), 0, 255).astype(np.uint8)
    from PIL import Image

    errors = {}
    for crf in (23, 40):
        frame = np.asarray(reframe(Image.fromarray(picture), f"h264_crf{crf}", "k")).astype(float)
        assert frame.shape == (120, 160, 3)  # 4:2:0 needs even sides: the odd column goes
        errors[crf] = np.abs(frame - picture[:, :160]).mean()
    assert 0.5 < errors[23] < errors[40] < 40  # lossy, more so at 40, and still the same picture


def test_group_scenes_place_every_picture_without_overlap(tmp_path, astronaut):
    items = []
    for i in range(7):
        path = tmp_path / f"{i}.jpg"
        astronaut.crop((100 + 5 * i, 0, 400, 300)).save(path)
        items.append((path, i % 2))
    scenes = group_scenes(items, "toy")
    placed = [p for _, rects in scenes for p in rects]
    assert sum(len(rects) for _, rects in scenes) >= 6 and all(3 <= len(rects) <= 6 for _, rects in scenes[:1])
    for scene, rects in scenes:
        assert scene.size == (1600, 900)
        for i, (a, _, _) in enumerate(rects):
            for b, _, _ in rects[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert {label for _, label, _ in placed} == {0, 1}
    again = group_scenes(items, "toy")
    assert [r for _, r in again] == [r for _, r in scenes]


def summary(version: str, set_name: str, condition: str, labels, scores, threshold=0.5, created="2026-01-01") -> dict:
    from detector.evaluation.evaluate import compute_metrics

    metrics = {**compute_metrics(labels, scores, threshold), "n_unscored": 1}
    return {"created": created, "model_version": version, "threshold": threshold, "metrics": metrics,
            "info": {"condition": condition, "set": set_name}}


def test_condition_matrix_and_false_alarms_from_runs():
    rows = [
        summary("1", "dfdc", "plain", [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]),
        summary("1", "dfdc", "canvas", [0, 0, 1, 1], [0.1, 0.9, 0.8, 0.2]),
        summary("2", "dfdc", "canvas", [0, 0, 1, 1], [0.1, 0.3, 0.2, 0.9]),
        summary("2", "real_groups", "group", [0, 0, 0, 0], [0.1, 0.7, 0.2, 0.3]),
        {"created": "2026-01-01", "model_version": "1", "threshold": 0.5, "metrics": {"auc": 0.9, "n": 2}, "info": {}},
    ]
    frame = condition_frame(rows)
    assert list(frame.columns) == ["plain", "canvas"]  # the suite's order, only conditions that were run
    assert frame.loc["dfdc · 1", "plain"] == 1.0 and frame.loc["dfdc · 1", "canvas"] == 0.5
    assert frame.loc["dfdc · 2", "canvas"] == 0.75 and np.isnan(frame.loc["dfdc · 2", "plain"])
    alarms = false_alarm_frame(rows)
    assert len(alarms) == 1 and alarms.iloc[0]["called fake"] == 0.25 and alarms.iloc[0]["real faces scored"] == 4
    assert np.isnan(alarms.iloc[0]["likely manipulated"])  # a run stored before the verdict's upper edge was


def test_verdict_shares_count_real_faces_at_or_above_the_upper_edge():
    from benchmarks.robustness import verdict_shares

    records = [{"label": 0, "score": s} for s in (0.1, 0.7, 0.86, 0.9, None)] + [{"label": 1, "score": 0.99}]
    shares = verdict_shares(records, 0.86)
    assert shares == {"fake_cut": 0.86, "reals_likely_manipulated": 0.5, "reals_counted": 4}
    assert verdict_shares([{"label": 1, "score": 0.9}], 0.5)["reals_likely_manipulated"] is None


def test_verdict_shares_with_final_verdicts_count_what_the_pages_show():
    from benchmarks.robustness import verdict_shares

    records = [{"label": 0, "score": s, "verdict": v, "face_px": px} for s, v, px in (
        (0.95, "likely_manipulated", 120), (0.9, "cant_tell", 120), (0.2, "no_sign_found", 90), (0.3, "no_sign_found", 100),
        (0.99, "likely_manipulated", 60))]  # under 80 px: not counted
    records.append({"label": 1, "score": 0.9, "verdict": "cant_tell"})
    shares = verdict_shares(records, 0.86)
    assert shares["reals_counted"] == 4 and shares["reals_likely_manipulated"] == 0.5
    assert shares["reals_final_likely_manipulated"] == 0.25  # the "can't tell" face is not a false alarm any more
    assert shares["reals_final_verdicts"] == {"cant_tell": 0.25, "likely_manipulated": 0.25, "no_sign_found": 0.5}
    assert shares["fakes_final_verdicts"] == {"cant_tell": 1.0}


def test_checked_runs_keep_the_matrix_and_add_the_final_false_alarms():
    rows = [summary("2", "dfdc", "canvas", [0, 0, 1, 1], [0.1, 0.3, 0.2, 0.9]),
            summary("2", "real_groups", "group", [0, 0, 0, 0], [0.1, 0.7, 0.2, 0.3])]
    checked = summary("2", "dfdc", "canvas", [0, 0, 1, 1], [0.9, 0.3, 0.2, 0.1])  # a different AUC must not replace the cell
    checked["info"]["checked"] = True
    group = summary("2", "real_groups", "group", [0, 0, 0, 0], [0.1, 0.7, 0.2, 0.3])
    group["info"].update(checked=True, reals_final_likely_manipulated=0.0)
    val = summary("2", "dfdc", "canvas", [0, 0, 1, 1], [0.9, 0.3, 0.2, 0.1])
    val["info"]["split"] = "val"
    frame = condition_frame([*rows, checked, group, val])
    assert frame.loc["dfdc · 2", "canvas"] == 0.75 and frame.loc["dfdc (val) · 2", "canvas"] == 0.0  # never mixed with test
    alarms = false_alarm_frame([*rows, group])
    after = alarms["likely manipulated after the check"]
    assert np.isnan(after.iloc[0]) and after.iloc[1] == 0.0  # a plain run has no final verdicts
    assert list(alarms["condition"]) == ["group", "group · checked"]


def test_checked_scoring_stores_each_face_verdict_with_the_same_scores(tmp_path, astronaut, detector):
    from benchmarks.robustness import score_groups, score_pictures
    from detector.display import VERDICT_WORDS
    from detector.stability import AbstainRules

    items = []
    for i in range(3):
        path = tmp_path / "set" / f"{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        astronaut.crop((60 + 10 * i, 0, 420, 360)).save(path)
        items.append((path, i % 2))
    rules = AbstainRules.for_checkpoint(detector.checkpoint)
    plain = score_groups(detector, items, "toy", tmp_path)
    checked = score_groups(detector, items, "toy", tmp_path, rules=rules)
    assert [r["score"] for r in checked] == [r["score"] for r in plain]
    found = [r for r in checked if r["score"] is not None]
    assert found and all(r["verdict"] in VERDICT_WORDS for r in found) and all("verdict" not in r for r in plain)
    pictures = score_pictures(detector, items[:1], "plain", tmp_path, rules=rules)
    assert pictures[0]["verdict"] in VERDICT_WORDS
    # every scored face carries its head turn (benchmarks.false_alarm_study bins by it): the astronaut looks ahead
    assert all(abs(r["turn"]) < 0.5 for r in found) and abs(pictures[0]["turn"]) < 0.5
    assert pictures[0]["face_px"] > 64 and all(r["face_px"] > 0 for r in found)  # the size the app's size limit measures
