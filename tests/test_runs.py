import json
import threading

import pytest

from detector.evaluation.runs import Run, RunsDatabaseError, RunStore


def make_run(**kw) -> Run:
    scores = [{"path": f"/x/{i}.jpg", "label": i % 2, "score": i / 10, "score_uncalibrated": i / 12, "n_faces": 1, "fallback": False, "seconds": 0.1, "error": None} for i in range(6)]
    return Run(model_name="m", model_version="1", data="d", threshold=0.5, metrics={"n": 6, "auc": 0.9}, scores=scores, **kw)


def test_add_get_export_import(tmp_path):
    store = RunStore(tmp_path / "a.sqlite", import_reference=False)
    run = make_run()
    store.add(run)
    back = store.get(run.id)
    assert back.scores == run.scores and back.metrics == run.metrics
    exported = store.export_json(run.id, tmp_path / "run.json")
    other = RunStore(tmp_path / "b.sqlite", import_reference=False)
    assert other.import_json(exported) == run.id
    assert other.get(run.id).to_dict() == back.to_dict()
    assert [r["id"] for r in other.list()] == [run.id]


def test_env_variable_and_reference_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DFX_RUNS_DB", str(tmp_path / "env.sqlite"))
    store = RunStore()
    assert store.path == tmp_path / "env.sqlite"
    from detector.evaluation.runs import REFERENCE_RUNS_DIR

    shipped = {json.loads(p.read_text())["id"] for p in REFERENCE_RUNS_DIR.rglob("*.json")}
    assert shipped, f"no reference runs in {REFERENCE_RUNS_DIR}: a fresh install would have nothing to show"
    assert {r["id"] for r in store.list()} == shipped
    assert RunStore().import_reference_runs() == 0  # imported once only


def test_corrupt_database_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RunsDatabaseError, match="cannot"):
        RunStore(path)


def test_two_writers_at_once_both_land(tmp_path):
    path = tmp_path / "c.sqlite"
    RunStore(path, import_reference=False)
    runs = [make_run(), make_run()]
    threads = [threading.Thread(target=lambda r=r: RunStore(path, import_reference=False).add(r)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r["id"] for r in RunStore(path, import_reference=False).list()} == {r.id for r in runs}


def test_every_shipped_model_has_reference_runs_for_its_version():
    """The metrics page of a fresh clone shows the shipped models' own test runs, not stale ones."""
    from detector.checkpoint import list_checkpoints
    from detector.config import ModelConfig
    from detector.evaluation.runs import REFERENCE_RUNS_DIR

    runs = [json.loads(p.read_text()) for p in REFERENCE_RUNS_DIR.glob("*.json")]
    for folder in list_checkpoints():
        config = ModelConfig.load(folder / "config.json")
        mine = [r for r in runs if (r["model_name"], r["model_version"]) == (config.name, config.version)]
        assert len(mine) >= 3, f"{folder.name} {config.version}: {len(mine)} reference runs"
        assert {r["data"].split(" ")[0] for r in mine} >= {"dfdc/test", "stylegan1_ffhq/test", "stylegan2_unsplash/test"}
