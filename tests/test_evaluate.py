import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from detector.evaluation import evaluate
from detector.evaluation.runs import RunStore
from tests.conftest import SHARED_DATA


def test_evaluation_metrics_equal_scikit_learn(tmp_path, tiny_set, tiny_checkpoint, capsys, monkeypatch):
    db = tmp_path / "runs.sqlite"
    monkeypatch.setenv("DFX_RUNS_DB", str(db))
    assert evaluate.main([str(tiny_set), "--model", str(tiny_checkpoint), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("auc", "accuracy", "precision", "recall", "f1", "specificity", "n"):
        assert key in metrics
    run = RunStore(db, import_reference=False).get(metrics["run_id"])
    labels = np.array([s["label"] for s in run.scores])
    scores = np.array([s["score"] for s in run.scores])
    predicted = scores >= run.threshold
    assert metrics["n"] == len(labels) == 6
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["precision"] == pytest.approx(precision_score(labels, predicted, zero_division=0))
    assert metrics["recall"] == pytest.approx(recall_score(labels, predicted, zero_division=0))
    assert metrics["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0))
    assert metrics["specificity"] == pytest.approx(recall_score(labels, predicted, pos_label=0, zero_division=0))
    assert metrics["time_mean_s"] > 0 and metrics["peak_rss_mb"] > 0


def test_compute_metrics_known_values():
    m = evaluate.compute_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], threshold=0.5)
    assert m["confusion_matrix"] == [[1, 1], [1, 1]]
    assert m["auc"] == pytest.approx(0.75) and m["eer"] == pytest.approx(0.5)


def test_a_fakes_only_set_needs_reals(tmp_path, tiny_set, tiny_checkpoint, capsys):
    import shutil

    shutil.rmtree(tiny_set / "real")
    assert evaluate.main([str(tiny_set), "--model", str(tiny_checkpoint), "--db", str(tmp_path / "db")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reals" in err[0]


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not on this machine (fresh clone)")
def test_shipped_model_on_a_few_shared_test_images(tmp_path, capsys):
    root = SHARED_DATA / "stylegan1_ffhq"
    assert evaluate.main([str(root), "--split", "test", "--limit", "6", "--json", "--db", str(tmp_path / "db")]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 12 and 0.0 <= metrics["auc"] <= 1.0
