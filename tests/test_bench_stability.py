"""benchmarks/bench_stability.py --staged: the three checks it times side by side do what their names say."""

from __future__ import annotations

from detector.stability import PERTURBATIONS, AbstainRules


def test_staged_variants_time_the_shipped_the_one_pass_and_the_forced_second_stage(detector, astronaut):
    from benchmarks.bench_stability import jpeg, staged_variants

    first = ["flip", "tighter"]
    tasks = staged_variants(detector, astronaut, jpeg(astronaut), AbstainRules(first_stage=first))
    calls, classify = [], detector.classify
    detector.classify = lambda crops: (calls.append(len(crops)), classify(crops))[1]
    try:
        counted = {}
        for name in ("app checked, 11 in one pass", "app checked, both stages", "model checked, 11 in one pass", "model checked"):
            calls.clear()
            result = tasks[name]()
            checks = result.checks
            counted[name] = (list(calls), [c.copies_scored for c in checks])
    finally:
        del detector.classify
    faces = len(counted["app checked, 11 in one pass"][1])
    assert faces and counted["app checked, 11 in one pass"] == ([faces * (1 + len(PERTURBATIONS))], [len(PERTURBATIONS)] * faces)
    assert counted["model checked, 11 in one pass"] == ([faces * (1 + len(PERTURBATIONS))], [len(PERTURBATIONS)] * faces)
    # forced: the first stage with the faces' crops, then every face's other 9 in a second call
    assert counted["app checked, both stages"] == ([faces * (1 + len(first)), faces * (len(PERTURBATIONS) - len(first))],
                                                   [len(PERTURBATIONS)] * faces)
    calls_shipped, scored = counted["model checked"]
    assert calls_shipped[0] == faces * (1 + len(first)) and set(scored) <= {len(first), len(PERTURBATIONS)}
