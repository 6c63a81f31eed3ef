"""benchmarks/bench_stability.py --staged: the checks it times side by side do what their names say."""

from __future__ import annotations

import pytest

from detector.stability import PERTURBATIONS, AbstainRules


def test_staged_variants_time_the_shipped_check_the_forced_second_stage_and_reuse(detector, astronaut):
    from benchmarks.bench_stability import jpeg, staged_variants

    first = ["flip", "looser"]
    found = detector.analyze(astronaut).faces[0]
    filling = astronaut.crop(found.face.crop_box)  # the face filling its picture: its looser square is its own crop
    tasks = staged_variants(detector, astronaut, jpeg(astronaut), AbstainRules(first_stage=first), filling)
    calls, classify = [], detector.classify
    detector.classify = lambda crops: (calls.append(len(crops)), classify(crops))[1]
    try:
        counted, checks = {}, {}
        for name in ("model checked, both stages", "model checked", "app checked", "filling checked", "filling checked, no reuse"):
            calls.clear()
            checks[name] = tasks[name]().checks
            counted[name] = (list(calls), [c.copies_scored for c in checks[name]])
    finally:
        del detector.classify
    faces = len(counted["model checked"][1])
    # forced: the first stage with the faces' crops, then every face's other 9 in a second call
    assert faces and counted["model checked, both stages"] == ([faces * (1 + len(first)), faces * (len(PERTURBATIONS) - len(first))],
                                                               [len(PERTURBATIONS)] * faces)
    for name in ("model checked", "app checked"):  # as shipped: the first stage, then the rest only where needed
        shipped, scored = counted[name]
        assert shipped[0] == len(scored) * (1 + len(first)) and set(scored) <= {len(first), len(PERTURBATIONS)}
    # the face-filling picture: its looser copy takes the face's score instead of a forward pass, with the same result
    (reused_calls, _), (all_calls, _) = counted["filling checked"], counted["filling checked, no reuse"]
    assert reused_calls[0] == all_calls[0] - 1
    for reused, scored in zip(checks["filling checked"], checks["filling checked, no reuse"]):
        assert reused.p_fake_by_change == pytest.approx(scored.p_fake_by_change, abs=1e-6) and reused.verdict == scored.verdict


def test_profile_times_each_phase_of_a_checked_analysis_and_puts_every_function_back(detector, astronaut):
    import detector.stability as stability
    from benchmarks.profile_stability import profile

    before = (stability.plan_copies, stability.judge, detector.face_finder.find)
    found = profile(detector, astronaut, rounds=2)
    phases = found["phases_s"]
    assert {"face finding (MTCNN)", "the rule (judge)", "sharpness"} <= set(phases)
    assert "scoring, crops built while scored" in phases  # the shipped path: copies built by the scoring cores
    assert 0 < phases["face finding (MTCNN)"] < found["checked_s"] and found["plain_s"] > 0
    assert (stability.plan_copies, stability.judge, detector.face_finder.find) == before
