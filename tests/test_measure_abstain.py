"""scripts/measure_abstain.py's video tolerance: the selective-prediction rule on clip records and the choice."""

from scripts.measure_abstain import choose_video_tolerance, video_selective

CHANGES = ("jpeg90", "jpeg70", "jpeg50", "scale0.5", "scale0.75", "scale1.5", "flip", "shift+8%", "shift-8%", "tighter", "looser")


def clip(label: int, p_fake: float, flips: int, kind: str = "original", band: str | None = None) -> dict:
    """A clip record whose headline track scores p_fake and lands on the other side of 0.5 under `flips` changes."""
    other = 0.2 if p_fake >= 0.5 else 0.8
    copies = {name: (other if i < flips else p_fake) for i, name in enumerate(CHANGES)}
    return {"set": "s", "file": "f", "kind": kind, "label": label,
            "track": {"p_fake": p_fake, "label": band or ("fake" if p_fake >= 0.5 else "real"), "copies": copies}}


def test_video_selective_counts_verdicts_the_tracks_rule_keeps():
    records = [clip(1, 0.9, 0), clip(0, 0.9, 2), clip(0, 0.1, 5), clip(1, 0.55, 0, band="uncertain"),
               {"set": "s", "file": "none", "kind": "original", "label": 1, "track": None}]
    before = video_selective(records, None, 0.5)  # band only: three verdicts, one wrong
    assert (before["given"], before["n"]) == (3, 5) and before["accuracy_given"] == 2 / 3
    assert before["utility"] == (2 - 2 * 1) / 5
    strict = video_selective(records, 1, 0.5)  # 2 and 5 flips are over a tolerance of 1
    assert strict["given"] == 1 and strict["accuracy_given"] == 1.0 and strict["utility"] == 1 / 5
    assert video_selective(records, 2, 0.5)["given"] == 2  # 2 flips are tolerated by 2, not 5


def test_the_video_tolerance_is_chosen_on_validation_and_prefers_the_photo_s_on_a_tie():
    # a wrong verdict flips under 2 changes, right ones under 0: tolerating 0 or 1 is best
    val = {"threshold": 0.5, "per_class": 1, "records": [clip(1, 0.9, 0), clip(0, 0.9, 2), clip(0, 0.1, 0)]}
    chosen, evidence = choose_video_tolerance(val, None, photo_tolerance=3)
    assert chosen == 0 and evidence["video_tied_best"] == [0, 1]  # the strictest of the tied best
    assert choose_video_tolerance(val, None, photo_tolerance=1)[0] == 1  # the photo's, when it is among the best
    # a right verdict flipping under 2 changes: tolerating 2 or more is best, the photo's 3 among them
    val["records"][1] = clip(1, 0.9, 2)
    chosen, evidence = choose_video_tolerance(val, val, photo_tolerance=3)
    assert chosen == 3 and evidence["video_test_after"]["all"]["given"] == 3
    assert evidence["video_val_before"]["original"]["n"] == 3 and evidence["video_val_after"]["reshared"]["n"] == 0


def test_a_validation_size_sweep_can_only_raise_the_size_limit():
    """choose() on the stored step JSONs of the shipped model: the AUC curve's limit alone, then with a planted
    validation sweep in which real faces get called fake more often below 112 px (and with one in which they do not)."""
    import json
    from pathlib import Path

    from scripts.measure_abstain import choose

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    size, val = (json.loads((results / name).read_text()) for name in ("abstain_size.json", "abstain_faces_val.json"))
    by_auc = choose(size, val, None)[0].min_face_px

    def sweep(rise_below: int) -> dict:
        def record(native, shrunk_to):
            return {"label": 0, "threshold": 0.5, "fake_cut": 0.8, "set": "s", "split": "val",
                    "by_size": {"native": native, **{str(s): shrunk_to if s < rise_below else native for s in (200, 160, 128, 112, 96, 80, 64)}}}
        return {"records": [record(0.2, 0.9) for _ in range(15)] + [record(0.1, 0.1) for _ in range(40)]}

    rules, evidence = choose(size, val, None, [sweep(rise_below=112)])
    assert rules.min_face_px == max(by_auc, 112) and evidence["size_by_auc"] == by_auc
    sample = evidence["size_false_alarms_val"]["samples"][0]
    assert sample["against_itself"]["by_size"]["96"]["p"] < 0.05 and "false_alarm_study" in rules.source
    # nothing rises: the AUC rule stands, but no lower than the sweep's smallest size (64 px; nothing smaller was
    # measured, so the sweep cannot vouch for it)
    assert choose(size, val, None, [sweep(rise_below=0)])[0].min_face_px == max(by_auc, 64)
    # a second sample can only raise the limit: the strictest sample wins, in either order
    for sweeps in ([sweep(rise_below=0), sweep(rise_below=128)], [sweep(rise_below=128), sweep(rise_below=0)]):
        assert choose(size, val, None, sweeps)[0].min_face_px == max(by_auc, 128)


RESULTS = __import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def stored(name: str) -> dict:
    import json

    return json.loads((RESULTS / f"abstain_{name}.json").read_text())


def test_choose_refuses_a_measurement_not_taken_on_validation(tmp_path, capsys):
    """Limits are chosen on validation only: a size curve from test (or stored without a split, as before session 16)
    or test face records passed as --val end in one stderr line, exit 2, and nothing written."""
    import json

    from scripts.measure_abstain import main

    folder = tmp_path / "model"
    folder.mkdir()
    size = stored("size")
    cases = {"--size (test)": {**size, "split": "test"}, "--size (test) ": {k: v for k, v in size.items() if k != "split"}}
    for expected, planted in cases.items():
        (tmp_path / "size.json").write_text(json.dumps(planted))
        code = main(["choose", "--model", str(folder), "--size", str(tmp_path / "size.json"), "--val",
                     str(RESULTS / "abstain_faces_val.json"), "--out", str(tmp_path / "choice.json"), "--write"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and err.startswith("error:") and expected.strip() in err
    code = main(["choose", "--model", str(folder), "--size", str(RESULTS / "abstain_size.json"), "--val",
                 str(RESULTS / "abstain_faces_test.json"), "--write"])
    assert code == 2 and "--val (test)" in capsys.readouterr().err
    assert list(folder.iterdir()) == [] and not (tmp_path / "choice.json").exists()


def measurements_of(model: str) -> dict[str, list[dict]]:
    """The stored step JSONs (benchmarks/results and its folders) of one model, by step name; size sweeps in the
    order of their samples (first, then fresh)."""
    import json

    found: dict[str, list[dict]] = {}
    for path in sorted(RESULTS.glob("**/abstain_*.json")):
        data = json.loads(path.read_text())
        if data.get("model") == model:
            step = path.stem.removeprefix("abstain_").removesuffix("_fresh")
            found.setdefault(step, []).append(data)
    for sweeps in found.values():
        sweeps.sort(key=lambda d: d.get("skip", 0))
    return found


def test_the_shipped_limits_come_from_the_stored_validation_measurements():
    """The default model's abstain.json is what `choose` makes of its stored validation measurements, read against
    the model it replaced where its evidence says so (the JSONs carry the model they measured)."""
    from detector.checkpoint import default_checkpoint
    from detector.stability import AbstainRules, model_id
    from scripts.measure_abstain import choose, not_validation

    shipped = AbstainRules.for_checkpoint(default_checkpoint())
    assert shipped.measured and shipped.model == model_id(default_checkpoint())
    ours = measurements_of(shipped.model)
    (size,), (val,), sizes_val = ours["size"], ours["faces_val"], ours["sizes_val"]
    assert not_validation(size=size, val=val, videos_val=ours["videos_val"][0], **{str(i): s for i, s in enumerate(sizes_val)}) is None
    reading = shipped.evidence["size_false_alarms_val"]
    sizes_shipped, floor = None, None
    if reading.get("reading") == "against the shipped model":
        replaced = {sample["shipped_model"] for sample in reading["samples"]}.pop()
        sizes_shipped = measurements_of(replaced)["sizes_val"]
        assert [s.get("skip", 0) for s in sizes_shipped] == [s.get("skip", 0) for s in sizes_val]  # the same samples
        folder = next(f for f in default_checkpoint().parent.iterdir() if (f / "config.json").is_file() and model_id(f) == replaced)
        floor = AbstainRules.for_checkpoint(folder).min_face_px
    rules, evidence = choose(size, val, None, sizes_val, sizes_shipped, floor)
    assert (rules.min_face_px, rules.min_sharpness, rules.min_face_prob, rules.max_disagree) == (
        shipped.min_face_px, shipped.min_sharpness, shipped.min_face_prob, shipped.max_disagree)
    assert evidence["size_by_auc"] == shipped.evidence["size_by_auc"] and "validation AUC" in shipped.source
    assert evidence["size_false_alarms_val"]["size_by_false_alarms"] == reading["size_by_false_alarms"]


def test_all_measures_the_size_curve_on_validation(monkeypatch, tmp_path):
    import scripts.measure_abstain as ma

    calls = []
    monkeypatch.setattr(ma, "measure", lambda detector, step, data, split, per_class: calls.append((step, split)) or {"split": split})
    monkeypatch.setattr(ma, "save", lambda result, path: None)
    monkeypatch.setattr(ma, "choose_and_write", lambda size, *rest, **kw: 0 if size["split"] == "val" else 1)
    assert ma.run_all(None, tmp_path, tmp_path, tmp_path, write=False, videos=True) == 0
    assert ("size", "val") in calls and {split for step, split in calls if step != "faces" and step != "videos"} == {"val"}


def sweep_of(model: str, flags: list[tuple[float, float]], threshold: float = 0.5, per_class: int = 1, skip: int = 0) -> dict:
    """A validation size sweep of real faces: each scored `native` as found and `small` at 96 px and below."""
    records = [{"label": 0, "threshold": threshold, "fake_cut": 0.8, "set": "dfdc", "file": f"{i}.jpg", "face_px": 150.0,
                "split": "val", "by_size": {"native": native, **{str(s): small if s <= 96 else native for s in (200, 160, 128, 112, 96, 80, 64)}}}
               for i, (native, small) in enumerate(flags)]
    return {"model": model, "split": "val", "per_class": per_class, "skip": skip, "records": records}


def test_a_replacement_is_read_against_the_shipped_model_and_never_below_its_limit():
    """A candidate whose threshold was moved flags fewer real faces as found; shrunk to 96 px it flags as many as the
    shipped model does. Against itself that is a rise (limit 112), against the shipped model it is not (its 80 px
    floor stands); a sample in which it flags more small faces than the shipped model raises the limit again."""
    from scripts.measure_abstain import size_limit_by_false_alarms

    candidate = sweep_of("cand 2", [(0.3, 0.6)] * 12 + [(0.1, 0.1)] * 40)  # 12 newly flagged at 96 px
    shipped = sweep_of("ship 1", [(0.6, 0.6)] * 12 + [(0.1, 0.1)] * 40)  # the same 12 flagged at every size
    assert size_limit_by_false_alarms([candidate])[0] == 112
    limit, evidence = size_limit_by_false_alarms([candidate], [shipped], shipped_min_px=80)
    assert limit == 80 and evidence["reading"] == "against the shipped model"
    assert evidence["samples"][0]["size_against_itself"] == 112 and evidence["samples"][0]["size_against_shipped"] == 64
    worse = sweep_of("cand 2", [(0.1, 0.9)] * 10 + [(0.1, 0.1)] * 40, skip=1)  # only the candidate flags these at 96 px
    fine = sweep_of("ship 1", [(0.1, 0.1)] * 50, skip=1)
    limit, evidence = size_limit_by_false_alarms([candidate, worse], [shipped, fine], shipped_min_px=80)
    assert limit == 112 and [s["size_against_shipped"] for s in evidence["samples"]] == [64, 112]
    assert evidence["samples"][1]["against_shipped"]["by_size"]["96"]["fake_cut"]["only_candidate"] == 10


def test_choose_refuses_shipped_sweeps_that_do_not_match(tmp_path, capsys):
    """--sizes-shipped must be the --shipped model's sweeps, one per candidate sweep, of the same faces: otherwise one
    stderr line, exit 2 and nothing written."""
    import json

    from detector.checkpoint import default_checkpoint
    from detector.stability import model_id
    from scripts.measure_abstain import main

    folder = tmp_path / "model"
    folder.mkdir()
    shipped_id = model_id(default_checkpoint())
    faces = [(0.3, 0.6)] * 5
    paths = {}
    for name, sweep in {"cand": sweep_of("cand 2", faces), "other": sweep_of("someone 9", faces),
                        "shipped": sweep_of(shipped_id, faces), "fewer": sweep_of(shipped_id, faces[:3])}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(sweep))
    base = ["choose", "--model", str(folder), "--size", str(RESULTS / "abstain_size.json"), "--val",
            str(RESULTS / "abstain_faces_val.json"), "--out", str(tmp_path / "choice.json"), "--write", "--sizes-val", str(paths["cand"])]
    cases = {"not of": ["--sizes-shipped", str(paths["other"])],
             "one --sizes-shipped sweep for each": ["--sizes-shipped", str(paths["shipped"]), str(paths["shipped"])],
             "did not score the same real faces": ["--sizes-shipped", str(paths["fewer"])]}
    for expected, extra in cases.items():
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("error:") and expected in err
    assert list(folder.iterdir()) == [] and not (tmp_path / "choice.json").exists()


def test_a_fresh_sample_shares_no_picture_with_the_first(tmp_path):
    from scripts.measure_abstain import sample

    for folder in ("real", "fake"):
        (tmp_path / "s" / "val" / folder).mkdir(parents=True)
        for i in range(30):
            (tmp_path / "s" / "val" / folder / f"{i}.jpg").write_bytes(b"")
    first, fresh = sample(tmp_path, "s", "val", 10), sample(tmp_path, "s", "val", 15, skip=10)
    assert len(first) == 20 and len(fresh) == 30 and not {p for p, _ in first} & {p for p, _ in fresh}
    assert sample(tmp_path, "s", "val", 25)[:10] == first[:10]  # the same seeded order, only further along


def test_all_against_the_shipped_model_sweeps_both_samples_with_both_models(monkeypatch, tmp_path):
    """`all --against-shipped`: the candidate's first and fresh sweeps, the shipped model's sweeps of the same two
    samples (same sizes, sets and skip), and a choice that reads the candidate against them above the floor."""
    import scripts.measure_abstain as ma

    calls, chosen = [], {}

    def measure(detector, step, data, split, per_class, sets=None, skip=0):
        calls.append((detector, step, split, per_class, tuple(sets or ()), skip))
        return {"split": split, "detector": detector, "skip": skip}

    def choose_and_write(size, val, test, folder, write, videos_val, videos_test, out, sizes_val=None, sizes_shipped=None, shipped_min_px=None):
        chosen.update(sizes_val=sizes_val, sizes_shipped=sizes_shipped, floor=shipped_min_px)
        return 0

    monkeypatch.setattr(ma, "measure", measure)
    monkeypatch.setattr(ma, "save", lambda result, path: None)
    monkeypatch.setattr(ma, "choose_and_write", choose_and_write)
    assert ma.run_all("cand", tmp_path, tmp_path, tmp_path, write=False, shipped_detector="shipped", shipped_min_px=80) == 0
    sweeps = [c for c in calls if c[1] == "sizes"]
    assert [c[0] for c in sweeps] == ["cand", "cand", "shipped", "shipped"] and all(c[2] == "val" for c in sweeps)
    assert sweeps[0][3:] == sweeps[2][3:] and sweeps[1][3:] == sweeps[3][3:]  # the shipped model sweeps the same samples
    assert sweeps[1][5] == ma.ALL_PER_CLASS["sizes_val"] and sweeps[1][4] == ("dfdc",)  # the fresh one starts after the first
    assert [s["detector"] for s in chosen["sizes_val"]] == ["cand", "cand"] and chosen["floor"] == 80
    assert [(s["detector"], s["skip"]) for s in chosen["sizes_shipped"]] == [("shipped", 0), ("shipped", sweeps[1][5])]
    calls.clear()
    assert ma.run_all("cand", tmp_path, tmp_path, tmp_path, write=False) == 0  # a model on its own: one sweep, itself
    assert [c[0] for c in calls if c[1] == "sizes"] == ["cand"] and chosen["sizes_shipped"] is None


def test_all_against_the_shipped_model_refuses_the_shipped_model_itself(tmp_path, capsys):
    from detector.checkpoint import default_checkpoint
    from scripts.measure_abstain import main

    (tmp_path / "data").mkdir()
    code = main(["all", "--model", str(default_checkpoint()), "--against-shipped", "--data", str(tmp_path / "data"),
                 "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "holds the shipped model" in err
    assert not (tmp_path / "results").exists()


def test_an_option_given_to_a_step_that_ignores_it_is_refused(tmp_path, capsys):
    from scripts.measure_abstain import main

    for argv, expected in ((["size", "--skip", "120"], "--sets and --skip"), (["sizes", "--against-shipped"], "--against-shipped"),
                           (["choose", "--against-shipped"], "--against-shipped")):
        assert main([*argv, "--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("error:") and expected in err
    assert list(tmp_path.iterdir()) == []
