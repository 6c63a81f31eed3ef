"""The false-alarm study's tables: counts per head-turn bin and per face size, from planted records."""

import json

from benchmarks.false_alarm_study import main, size_table, turn_table


def group_record(label, score, turn, verdict=None):
    return {"set": "real_groups", "condition": "group", "split": "val", "label": label, "score": score, "turn": turn,
            "threshold": 0.5, "fake_cut": 0.8, "verdict": verdict}


def test_turn_table_counts_each_face_in_the_bin_of_its_absolute_turn():
    records = [group_record(0, 0.9, 0.1, "likely_manipulated"), group_record(0, 0.6, -0.15), group_record(0, 0.2, 0.7),
               group_record(0, 0.85, -1.4, "cant_tell"), group_record(1, 0.95, 0.05), group_record(1, 0.4, 0.3),
               group_record(0, None, 0.1), {**group_record(0, 0.99, None)}]
    rows = {row["turn"]: row for row in turn_table(records)}
    assert rows["0-0.2"] == {**rows["0-0.2"], "reals": 2, "reals_at_threshold": 2, "reals_at_fake_cut": 1,
                             "reals_likely_manipulated_checked": 1, "fakes": 1, "fakes_at_fake_cut": 1}
    assert rows["0.6-0.8"]["reals"] == 1 and rows["0.6-0.8"]["reals_at_threshold"] == 0
    assert rows["1-inf"]["reals_at_fake_cut"] == 1 and rows["1-inf"]["reals_likely_manipulated_checked"] == 0
    assert rows["0.2-0.4"]["fakes"] == 1 and rows["0.2-0.4"]["fakes_at_fake_cut"] == 0
    assert sum(row["reals"] for row in rows.values()) == 4  # unscored faces and faces without landmarks are left out


def size_record(set_name, label, native, small):
    by_size = {"native": native, **{str(s): native for s in (200, 160, 128, 112, 96, 80)}, "64": small}
    return {"set": set_name, "condition": "sizes", "split": "test", "label": label, "face_px": 220.0,
            "threshold": 0.5, "fake_cut": 0.8, "by_size": by_size}


def test_size_table_shows_false_alarms_appearing_when_faces_shrink_and_where_they_come_from():
    records = [size_record("dfdc", 0, 0.1, 0.9), size_record("stylegan1_ffhq", 0, 0.85, 0.85),
               size_record("dfdc", 0, 0.1, 0.6), size_record("dfdc", 1, 0.9, 0.3)]
    rows = {row["size"]: row for row in size_table(records)}
    assert rows["native"]["reals_at_fake_cut"] == 1 and rows["native"]["false_alarms_by_set"] == {"stylegan1_ffhq": 1}
    assert rows["64"]["reals_at_fake_cut"] == 2 and rows["64"]["reals_at_threshold"] == 3
    assert rows["64"]["false_alarms_by_set"] == {"dfdc": 1, "stylegan1_ffhq": 1}
    assert rows["native"]["fakes_at_fake_cut"] == 1 and rows["64"]["fakes_at_fake_cut"] == 0


def test_report_reads_both_kinds_of_records_and_writes_its_tables(tmp_path, capsys):
    files = tmp_path / "groups.jsonl", tmp_path / "sizes.jsonl"
    files[0].write_text("\n".join(json.dumps(group_record(0, 0.9, 0.1)) for _ in range(3)))
    files[1].write_text(json.dumps(size_record("dfdc", 0, 0.1, 0.9)))
    assert main(["report", *map(str, files), "--json", str(tmp_path / "out.json")]) == 0
    printed = capsys.readouterr().out
    assert "face size sweep (test)" in printed and "real_groups @ group (val)" in printed
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["sizes (test)"][-1]["reals_at_fake_cut"] == 1
    assert out["real_groups @ group (val)"][0]["reals_at_fake_cut"] == 3


def test_scoring_without_the_shared_data_is_one_clear_error(tmp_path, capsys):
    assert main(["sizes", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def shrunk(label, native, small_by_size, threshold=0.5):
    """A size-sweep record: P(fake) `native` as found, and `small_by_size[size]` where given (else native)."""
    by_size = {"native": native, **{str(s): small_by_size.get(s, native) for s in (200, 160, 128, 112, 96, 80, 64)}}
    return {"label": label, "threshold": threshold, "fake_cut": 0.8, "by_size": by_size, "set": "s", "split": "val"}


def test_the_size_limit_is_the_smallest_size_before_real_faces_get_called_fake_more_often():
    from benchmarks.false_alarm_study import min_face_px_by_false_alarms

    # 12 real faces called fake only once shrunk to 64 px (and 1 the other way): a significant rise there only
    records = [shrunk(0, 0.2, {64: 0.7}) for _ in range(12)] + [shrunk(0, 0.6, {64: 0.4})] + [shrunk(0, 0.1, {}) for _ in range(30)]
    records += [shrunk(1, 0.3, {64: 0.9}) for _ in range(20)]  # fakes do not count: the rule is about false alarms
    chosen, evidence = min_face_px_by_false_alarms(records)
    assert chosen == 80
    assert evidence["by_size"]["64"]["newly_called_fake"] == 12 and evidence["by_size"]["64"]["p"] < 0.05
    assert evidence["reals"] == 43 and "96" in evidence["by_size"]
    # a balanced swap (as many cleared as newly flagged) is noise, not a rise: every size passes
    balanced = [shrunk(0, 0.2, {64: 0.7}) for _ in range(6)] + [shrunk(0, 0.7, {64: 0.2}) for _ in range(6)]
    assert min_face_px_by_false_alarms(balanced)[0] == 64
    # a rise already at the largest size: no size of the sweep is safe
    assert min_face_px_by_false_alarms([shrunk(0, 0.2, {s: 0.9 for s in (200, 160, 128, 112, 96, 80, 64)}) for _ in range(8)])[0] is None


def test_the_size_sweep_scores_each_found_face_as_found_and_shrunk_never_enlarged(tmp_path, astronaut, detector):
    from scripts.measure_abstain import measure

    for label, folder in ((0, "real"), (1, "fake")):
        (tmp_path / "dfdc" / "val" / folder).mkdir(parents=True)
        astronaut.crop((40 * label, 0, 400, 360)).resize((180, 180)).save(tmp_path / "dfdc" / "val" / folder / "a.jpg")
    step = measure(detector, "sizes", tmp_path, "val", 1)
    assert step["model"] == f"{detector.config.name} {detector.config.version}" and step["split"] == "val"
    records = step["records"]
    assert [r["label"] for r in records] == [0, 1] and all(r["set"] == "dfdc" for r in records)
    for r in records:
        assert set(r["by_size"]) == {"native", "200", "160", "128", "112", "96", "80", "64"}
        assert all(0.0 < p < 1.0 for p in r["by_size"].values())
        # a face smaller than a target size is scored as found there (never enlarged)
        larger = [s for s in ("200", "160", "128", "112", "96", "80", "64") if int(s) >= r["face_px"]]
        assert all(abs(r["by_size"][s] - r["by_size"]["native"]) < 1e-5 for s in larger)


def test_a_candidate_fails_a_size_where_it_gives_more_strong_verdicts_than_the_shipped_model():
    """Against the shipped model both cuts count: at 80 px both models flag the same 10 real faces at the threshold,
    but only the candidate puts them past its likely-manipulated cut; sweeps of different faces are refused."""
    import pytest

    from benchmarks.false_alarm_study import min_face_px_against_shipped

    candidate = [shrunk(0, 0.2, {80: 0.85, 64: 0.85}) for _ in range(10)] + [shrunk(0, 0.1, {}) for _ in range(20)]
    shipped = [shrunk(0, 0.2, {80: 0.7, 64: 0.7}) for _ in range(10)] + [shrunk(0, 0.1, {}) for _ in range(20)]
    for r in candidate + shipped:
        r["face_px"] = 220.0
    chosen, evidence = min_face_px_against_shipped(candidate, shipped)
    assert chosen == 96 and evidence["reals"] == 30
    at_80 = evidence["by_size"]["80"]
    assert at_80["threshold"]["only_candidate"] == 0 and at_80["fake_cut"]["only_candidate"] == 10 and at_80["fake_cut"]["p"] < 0.05
    assert at_80["fake_cut"]["candidate_share"] == round(10 / 30, 4) and at_80["fake_cut"]["shipped_share"] == 0.0
    assert "64" not in evidence["by_size"]  # the sweep stops at the first size that fails
    with pytest.raises(ValueError, match="same real faces"):
        min_face_px_against_shipped(candidate, shipped[:-1])
