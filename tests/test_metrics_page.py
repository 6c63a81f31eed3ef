"""The metrics page against scikit-learn, on a temporary runs database."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from streamlit.testing.v1 import AppTest

from detector.config import PROJECT_ROOT
from detector.evaluation import run_metrics as rm
from detector.evaluation.runs import Run, RunStore

ROOT = Path(__file__).resolve().parent.parent


def synthetic_run(seed: int, data: str) -> Run:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.35 + rng.normal(0.35, 0.2, 200), 0, 1)
    records = [{"path": f"/nowhere/{i}.jpg", "label": int(y), "score": float(s), "n_faces": 1, "fallback": False, "seconds": 0.05, "error": None}
               for i, (y, s) in enumerate(zip(labels, scores))]
    return Run(model_name="m", model_version="1", data=data, threshold=0.5, metrics={"n": 200}, scores=records)


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DFX_RUNS_DB", str(path))
    store = RunStore(path, import_reference=False)
    runs = [synthetic_run(1, "set-a"), synthetic_run(2, "set-b")]
    for run in runs:
        store.add(run)
    return path, runs


def test_helpers_equal_scikit_learn(db):
    _, runs = db
    run = runs[0]
    labels = np.array([s["label"] for s in run.scores])
    scores = np.array([s["score"] for s in run.scores])
    for threshold in (0.3, 0.5, 0.72):
        table = dict(rm.metrics_table(run, threshold).values)
        predicted = scores >= threshold
        assert table["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
        assert table["precision"] == pytest.approx(precision_score(labels, predicted, zero_division=0))
        assert table["recall"] == pytest.approx(recall_score(labels, predicted))
        assert table["f1"] == pytest.approx(f1_score(labels, predicted))
        assert table["auc"] == pytest.approx(roc_auc_score(labels, scores))
    frame = rm.generalisation_frame(runs)
    assert frame.loc["m 1", "set-b"] == pytest.approx(roc_auc_score([s["label"] for s in runs[1].scores], [s["score"] for s in runs[1].scores]))
    cal = rm.calibration(run)
    assert 0 <= cal["ece"] <= 1 and 0 <= cal["brier"] <= 1


def test_page_shows_sklearn_numbers_and_follows_the_threshold(db):
    _, runs = db
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    shown = at.selectbox[-1].value if at.selectbox else None
    run = next(r for r in runs if r.id == shown)
    labels = np.array([s["label"] for s in run.scores])
    scores = np.array([s["score"] for s in run.scores])
    metrics = at.dataframe[1].value  # [0] is the runs overview
    assert dict(metrics.values)["accuracy"] == pytest.approx(accuracy_score(labels, scores >= 0.5))
    at.slider[0].set_value(0.7).run()
    assert not at.exception
    metrics = at.dataframe[1].value
    assert dict(metrics.values)["accuracy"] == pytest.approx(accuracy_score(labels, scores >= 0.7))
    assert dict(metrics.values)["recall"] == pytest.approx(recall_score(labels, scores >= 0.7))
    assert dict(metrics.values)["auc 95% CI low (bootstrap)"] == pytest.approx(rm.auc_interval(run)[0])
    assert len(at.get("plotly_chart")) >= 6


def test_corrupt_database_gives_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"garbage" * 500)
    monkeypatch.setenv("DFX_RUNS_DB", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)


def wait_for_evaluation(at, seconds: float = 240) -> None:
    """Rerun the page until the background evaluation has ended (the fragment polls it in a browser)."""
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        job = at.session_state["eval_job"] if "eval_job" in at.session_state else None
        if job is None or job.finished:
            at.run()
            return
        time.sleep(0.5)
    raise AssertionError("the evaluation did not end")


def test_new_evaluation_from_the_page_survives_other_clicks_and_its_message_stays(tmp_path, monkeypatch, tiny_set):
    """Issue 19: the form stopped silently at 38 of 80 images when the page reran; the success message vanished."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DFX_RUNS_DB", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    at.text_input[0].set_value(str(tiny_set))
    at.number_input[0].set_value(3)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.run()  # another interaction while it runs: a new script run must not abandon the evaluation
    wait_for_evaluation(at)
    assert not at.exception, at.exception
    runs = RunStore(path, import_reference=False).list()
    added = [r for r in runs if r["data"] == "tiny"]
    assert len(added) == 1 and added[0]["n"] == 6
    assert any("tiny" in str(v) for v in at.dataframe[0].value["data"])
    at.run()
    at.run()  # the outcome stays on later runs until dismissed
    assert any(f"Run {added[0]['id']} stored" in s.value for s in at.success)
    next(b for b in at.button if b.key == "eval-dismiss").click().run()
    assert not at.success


def test_a_failed_evaluation_says_why(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DFX_RUNS_DB", str(path))
    for label in ("real", "fake"):
        (tmp_path / "broken" / label).mkdir(parents=True)
        (tmp_path / "broken" / label / "x.jpg").write_bytes(b"not a jpeg")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/metrics.py").run()
    at.text_input[0].set_value(str(tmp_path / "nowhere"))
    at.button[0].click().run()
    assert any("not started" in e.value for e in at.error)
    at.text_input[0].set_value(str(tmp_path / "broken"))
    at.button[0].click().run()
    wait_for_evaluation(at)
    assert not at.exception, at.exception
    assert any("stopped after 2 of 2" in e.value and "could be scored" in e.value for e in at.error), [e.value for e in at.error]
    assert not [r for r in RunStore(path, import_reference=False).list() if r["data"] == "broken"]


def test_auc_interval_holds_the_auc_and_narrows_with_more_images():
    small, large = synthetic_run(3, "s"), synthetic_run(3, "s")
    large.scores = large.scores * 8  # the same distribution, 8x the images
    labels, scores = rm.scored(small)
    low, high = rm.auc_interval(small)
    assert low < roc_auc_score(labels, scores) < high
    low_large, high_large = rm.auc_interval(large)
    assert high_large - low_large < (high - low) * 0.6
    one_class = synthetic_run(3, "s")
    one_class.scores = [s for s in one_class.scores if s["label"] == 1]
    assert rm.auc_interval(one_class) is None
    table = dict(rm.metrics_table(small, 0.5, rm.auc_interval(small)).values)
    assert table["auc 95% CI low (bootstrap)"] == pytest.approx(low)


def test_paired_difference_tells_a_better_model_from_noise(tmp_path, capsys):
    import json

    from scripts import compare_runs

    a = synthetic_run(4, "s")
    same = synthetic_run(4, "s")
    same.scores = [dict(s, score=min(1.0, s["score"] * 1.01)) for s in same.scores]  # same ranking, new numbers
    result = rm.paired_auc_difference(a, same)
    assert result["difference"] == pytest.approx(0.0, abs=1e-9) and result["low"] <= 0 <= result["high"]
    better = synthetic_run(4, "s")
    better.scores = [dict(s, score=0.5 * s["score"] + 0.5 * s["label"]) for s in better.scores]
    result = rm.paired_auc_difference(a, better)
    labels, scores = rm.scored(a)
    assert result["auc_a"] == pytest.approx(roc_auc_score(labels, scores))
    assert result["difference"] > 0 and result["low"] > 0  # a real gain: the interval excludes 0
    relabelled = synthetic_run(4, "s")
    relabelled.scores = [dict(s, label=1 - s["label"]) for s in relabelled.scores]
    with pytest.raises(ValueError):
        rm.paired_auc_difference(a, relabelled)

    path_a, path_b = tmp_path / "a.json", tmp_path / "b.json"
    path_a.write_text(json.dumps(a.to_dict()))
    path_b.write_text(json.dumps(better.to_dict()))
    assert compare_runs.main([str(path_a), str(path_b), "--boot", "200", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["n"] == 200 and printed["difference"] == pytest.approx(result["difference"])
    (tmp_path / "broken.json").write_text("{not json")
    assert compare_runs.main([str(path_a), str(tmp_path / "broken.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


def test_the_mean_over_sets_is_compared_per_condition_with_each_set_resampled(tmp_path, capsys):
    """Two folders of robustness exports: per condition, the mean AUC over the sets both hold with both classes,
    its paired difference and interval; a reals-only run (real_groups) is left out, not an error."""
    import json

    from scripts import compare_runs

    def export(folder, name: str, run: Run, condition: str) -> None:
        run.info = {"set": name, "condition": condition}
        folder.mkdir(exist_ok=True)
        (folder / f"{name}_{condition}.json").write_text(json.dumps(run.to_dict()))

    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    for i, name in enumerate(("s1", "s2", "s3")):
        for condition in ("plain", "jpeg"):
            export(folder_a, name, synthetic_run(10 + i, name), condition)
            better = synthetic_run(10 + i, name)
            if condition == "jpeg":  # B ranks the jpeg copies better, plain ones the same
                better.scores = [dict(r, score=0.5 * r["score"] + 0.5 * r["label"]) for r in better.scores]
            export(folder_b, name, better, condition)
    reals = synthetic_run(20, "real_groups")
    reals.scores = [dict(r, label=0) for r in reals.scores]
    export(folder_a, "real_groups", reals, "group")
    export(folder_b, "real_groups", reals, "group")

    result = compare_runs.compare_folders(folder_a, folder_b, n_boot=200, seed=0)
    assert set(result) == {"plain", "jpeg"} and result["jpeg"]["sets_used"] == ["s1", "s2", "s3"]
    mean_a = np.mean([roc_auc_score(*rm.scored(synthetic_run(10 + i, n))) for i, n in enumerate(("s1", "s2", "s3"))])
    assert result["plain"]["auc_a"] == pytest.approx(mean_a) and result["plain"]["difference"] == pytest.approx(0)
    assert result["plain"]["low"] == pytest.approx(0) and result["plain"]["high"] == pytest.approx(0)  # same scores
    assert result["jpeg"]["difference"] > 0 and result["jpeg"]["low"] > 0
    assert compare_runs.main([str(folder_a), str(folder_b), "--boot", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jpeg"]["sets"] == 3
    assert compare_runs.main([str(folder_a), str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


def test_curve_legends_sit_below_the_plot_and_worse_calibration_is_said():
    runs = {f"a long run name number {i} · dfx-lite0 1.1.0": synthetic_run(i, f"set-{i}") for i in range(8)}
    for figure in (rm.roc_figure(runs), rm.pr_figure(runs)):
        assert figure.layout.legend.y < 0 and figure.layout.legend.orientation == "h"
        assert figure.layout.height >= 420 + 8 * 20  # the plot keeps its own height; the legend adds rows
    assert rm.calibration_note(0.116, 0.124) is not None and "worse" in rm.calibration_note(0.116, 0.124)
    assert rm.calibration_note(0.124, 0.116) is None


def test_long_run_names_wrap_in_the_legend_and_the_figure_grows_for_each_line():
    """At 390 px the sd21 run names (87 characters) ran off the chart: plotly never wraps legend text."""
    name = "sd21_faces/test + reals of stylegan1_ffhq/test and stylegan2_unsplash/test · 1.0.0+sbi"
    figure = rm.roc_figure({name: synthetic_run(1, "sd21"), "short · 2.0.0": synthetic_run(2, "short")})
    lines = next(trace.name for trace in figure.data if trace.name.startswith("sd21_faces")).split("<br>")
    assert len(lines) >= 3 and max(len(line) for line in lines) <= rm.LEGEND_LINE_CHARS
    assert " ".join(lines).replace(" (AUC", "").startswith(name)  # nothing lost
    assert figure.layout.height == 420 + 22 * (1 + 1 + len(lines))  # chance, the short run, the wrapped one


def test_robustness_runs_get_their_own_matrix_and_stay_out_of_the_default_selection(db):
    path, runs = db
    store = RunStore(path, import_reference=False)
    condition_ids = set()
    for condition, seed in (("plain", 3), ("canvas", 4)):
        run = synthetic_run(seed, f"set-a/test @ {condition}")
        run.info = {"condition": condition, "set": "set-a"}
        run.metrics = {"n": 200, "auc": roc_auc_score([s["label"] for s in run.scores], [s["score"] for s in run.scores])}
        store.add(run)
        condition_ids.add(run.id)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    assert "Robustness: the same test pictures reframed" in [h.value for h in at.header]
    chosen = set(at.multiselect[0].value)
    assert {r.id for r in runs} <= chosen and not chosen & condition_ids  # condition runs are not selected by default


def test_false_alarm_table_prints_shares_and_a_dash_where_a_run_did_not_measure(db):
    path, _ = db
    store = RunStore(path, import_reference=False)
    for checked, final in ((False, None), (True, 5 / 395)):
        run = synthetic_run(7, "real_groups/test @ group" + (" · checked" if checked else ""))
        run.scores = [{**r, "label": 0} for r in run.scores]
        run.metrics = {"n": 200, "n_fake": 0, "specificity": 0.9}
        run.info = {"condition": "group", "set": "real_groups", "checked": checked, "reals_likely_manipulated": 8 / 395,
                    **({"reals_final_likely_manipulated": final} if checked else {})}
        store.add(run)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "likely manipulated after the check" in d.value.columns)
    table = table[table["model"] == "1"]  # the shipped models' stored runs are listed too
    assert list(table["condition"]) == ["group", "group · checked"]
    assert list(table["likely manipulated after the check"]) == ["–", "1.27%"]  # never "None" or "nan"
    assert list(table["likely manipulated"]) == ["2.03%", "2.03%"] and list(table["called fake"]) == ["10.00%", "10.00%"]


def test_confident_calls_partition_the_scored_images():
    run = synthetic_run(3, "set-c")
    calls = {kind: rm.confident_calls(run, 0.5, kind) for kind in rm.CALL_KINDS}
    assert sum(len(v) for v in calls.values()) == len(run.scores)
    tn, fp, fn, tp = (len(calls[k]) for k in ("tn", "fp", "fn", "tp"))
    from sklearn.metrics import confusion_matrix

    labels = [s["label"] for s in run.scores]
    assert [[tn, fp], [fn, tp]] == confusion_matrix(labels, [int(s["score"] >= 0.5) for s in run.scores]).tolist()
    assert [r["score"] for r in calls["fp"]] == sorted((r["score"] for r in calls["fp"]), reverse=True)
    assert [r["score"] for r in calls["tn"]] == sorted(r["score"] for r in calls["tn"])
    assert rm.mistakes(run, 0.5, "fn", k=3) == calls["fn"][:3]


def test_training_curves_show_every_arm_of_a_mixed_model_and_only_metrics_it_has(tmp_path):
    import json

    folder = tmp_path / "mixed"
    folder.mkdir()
    arm = [{"epoch": e, "train_loss": 0.5 / e, "val_auc": 0.9 + e / 100} for e in (1, 2, 3)]
    (folder / "history_cpu_c1.json").write_text(json.dumps(arm))
    (folder / "history_gpu_g1.json").write_text(json.dumps(arm[:2]))
    run = Run(model_name="nowhere-model", model_version="9", data="d", threshold=0.5, metrics={}, scores=[], model_path=str(folder))
    histories = rm.training_histories(run)
    assert set(histories) == {"cpu_c1", "gpu_g1"}
    assert rm.history_metrics(histories) == ["loss", "auc"]  # no accuracy column in either arm
    names = [trace.name for trace in rm.history_figure(histories, "auc").data]
    assert names == ["cpu_c1 · val", "gpu_g1 · val"]
    (folder / "history_cpu_c1.json").unlink()
    (folder / "history_gpu_g1.json").unlink()
    assert rm.training_histories(run) == {} and rm.history_metrics({}) == []


def test_training_curves_come_only_from_a_folder_that_still_holds_the_runs_model(tmp_path):
    import json

    folder = tmp_path / "dfx-lite0"
    folder.mkdir()
    (folder / "history.json").write_text(json.dumps([{"epoch": 1, "train_loss": 0.4, "val_auc": 0.9}]))
    (folder / "config.json").write_text(json.dumps({"name": "nowhere-model", "version": "3"}))  # a newer model shipped here
    run = Run(model_name="nowhere-model", model_version="2", data="d", threshold=0.5, metrics={}, scores=[], model_path=str(folder))
    assert rm.training_histories(run) == {}
    (folder / "config.json").write_text(json.dumps({"name": "nowhere-model", "version": "2"}))
    assert set(rm.training_histories(run)) == {"training"}


def test_a_moved_default_models_runs_find_its_curves_in_its_new_folder():
    from detector.config import ModelConfig

    moved = ModelConfig.load(PROJECT_ROOT / "assets" / "models" / "dfx-lite0-2.1.0" / "config.json")
    run = Run(model_name="dfx-lite0", model_version=moved.version, data="d", threshold=0.5, metrics={}, scores=[],
              model_path="assets/models/dfx-lite0")  # where it was when its runs were stored
    histories = rm.training_histories(run)
    assert histories and set(histories) == {"cpu_c1", "gpu_g1"}  # 2.1.0's own arms, not the default's


def test_the_shipped_models_arms_give_training_curves():
    run = Run(model_name="dfx-lite0", model_version="", data="d", threshold=0.5, metrics={}, scores=[])
    histories = rm.training_histories(run)
    assert len(histories) >= 1 and "auc" in rm.history_metrics(histories)


def test_the_face_swap_proxy_table_shows_the_stored_results(db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    assert "Face swaps between people no model saw" in [h.value for h in at.header]
    table = next(d.value for d in at.dataframe if "swap" in d.value.columns)
    stored = rm.swap_proxy_frame()
    assert list(table["model"]) == list(stored["model"]) and "2.4.0" in set(table["model"])
    assert table["caught"].str.endswith("%").all()  # shares printed as shares
    assert all(len(auc.split(".")[1]) == 3 for auc in table["AUC"])  # AUCs with one number of decimals


def test_the_face_swap_videos_table_shows_the_stored_result(db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    assert "The same swaps as compressed videos" in [h.value for h in at.subheader]
    table = next(d.value for d in at.dataframe if "CRF" in d.value.columns)
    stored = rm.video_swap_frame()
    assert len(table) == len(stored) >= 6 and set(table["CRF"]) == {23, 40}
    assert set(table["clips"]) == set(rm.VIDEO_SWAP_CLIPS.values())
    assert table["likely manipulated"].str.endswith("%").all() and table["can't tell"].str.endswith("%").all()
    reals = table[table["clips"] == rm.VIDEO_SWAP_CLIPS["real"]]
    assert (reals["AUC"] == "–").all()  # no AUC for the real clips themselves
