"""The staged check's study (benchmarks/staged_copies.py): the engine's rule re-judged on stored records, no model run."""

from __future__ import annotations

import json

import pytest

from benchmarks.common import RESULTS, ROOT
from benchmarks.staged_copies import flip_order, judge_split, staged_copies
from detector.stability import PERTURBATIONS, AbstainRules


def stored(split: str) -> dict:
    return json.loads((RESULTS / f"abstain_faces_{split}.json").read_text())


def face(p_fake: float, label: str, flips: tuple[str, ...] = ()) -> dict:
    """A stored-record face at threshold 0.5 whose copies all agree with it except `flips`."""
    other = 0.1 if p_fake >= 0.5 else 0.9
    copies = {name: (other if name in flips else p_fake) for name in PERTURBATIONS}
    return {"p_fake": p_fake, "label": label, "copies": copies, "face_px": 200.0, "sharpness": 100.0, "face_prob": 0.99, "fallback": False}


def test_a_face_goes_on_to_all_11_copies_only_when_a_first_copy_flips_its_verdict():
    rules, first = AbstainRules(max_disagree=2), ("flip", "tighter")
    assert set(staged_copies(face(0.9, "fake"), first, rules, 0.5)) == set(first)
    assert set(staged_copies(face(0.9, "fake", ("jpeg50", "jpeg70", "jpeg90")), first, rules, 0.5)) == set(first)  # the approximation
    assert len(staged_copies(face(0.9, "fake", ("flip",)), first, rules, 0.5)) == len(PERTURBATIONS)
    assert set(staged_copies(face(0.55, "uncertain", ("flip",)), first, rules, 0.5)) == set(first)  # "can't tell" anyway
    assert set(staged_copies(face(0.9, "fake", ("flip", "tighter", "jpeg50")), first, AbstainRules(max_disagree=1), 0.5)) == set(first)


def test_all_11_first_changes_nothing_and_one_copy_first_misses_faces():
    rules, val = AbstainRules(max_disagree=2), stored("val")
    full = judge_split(val["records"], PERTURBATIONS, rules, val["threshold"])
    assert full["verdicts_changed"] == 0 and full["second_pass"] == 0 and full["mean_copies_scored"] == len(PERTURBATIONS)
    assert judge_split(val["records"], ("scale1.5",), rules, val["threshold"])["missed_open_faces"]["faces"] > 0


def test_the_shipped_first_stage_is_the_one_chosen_from_the_stored_validation_records():
    study = json.loads((RESULTS / "staged_copies.json").read_text())
    val = stored("val")
    assert val["model"] == study["model"]
    shipped = AbstainRules.for_checkpoint(ROOT / "assets" / "models" / "dfx-lite0")
    if shipped.model != study["model"]:
        pytest.skip(f"the stored study is of {study['model']}, the shipped model is {shipped.model}: re-run "
                    "scripts.measure_abstain all and benchmarks.staged_copies for it")
    assert shipped.max_disagree == study["tolerance"]
    rules = AbstainRules(**{**shipped.__dict__, "first_stage": None})  # the study measures against the full check
    order = flip_order(val["records"], rules, val["threshold"])
    k = next(k for k in range(1, len(order) + 1)
             if judge_split(val["records"], tuple(order[:k]), rules, val["threshold"])["missed_open_faces"]["faces"] == 0)
    assert order[:k] == study["chosen"]["first_stage"] and study["chosen"]["adopted"]
    assert shipped.first_stage == order[:k]  # what the app runs: the model folder's abstain.json
    chosen = study["sweep"][k - 1]
    assert chosen["val"]["verdicts_changed"] <= 1 and chosen["test"]["verdicts_changed"] <= 1  # the adoption rule


def test_measure_abstain_writes_a_first_stage_only_when_it_meets_the_adoption_rule():
    from scripts.measure_abstain import staged_check

    def records(*faces: dict) -> dict:
        return {"threshold": 0.5, "records": [{"file": f"f{i}", "kind": "original", "label": 1, "face": f} for i, f in enumerate(faces)]}

    rules = AbstainRules(max_disagree=2)
    val = records(face(0.9, "fake", ("flip",)), face(0.9, "fake"))
    first, evidence = staged_check(val, val, rules)
    assert first == ["flip"] and evidence["adopted"] and "changes" not in evidence["sweep"][0]["val"]
    # on test, two faces flipped by three copies the first stage does not hold: 2 changed verdicts, all 11 stay
    test = records(*[face(0.9, "fake", ("jpeg50", "jpeg70", "jpeg90"))] * 2)
    first, evidence = staged_check(val, test, rules)
    assert first is None and not evidence["adopted"] and evidence["sweep"][0]["test"]["verdicts_changed"] == 2
