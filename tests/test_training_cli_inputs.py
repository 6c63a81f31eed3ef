"""Every CLI that reads a source bank refuses a missing one with one stderr line, exit 2 and nothing written."""

from __future__ import annotations

import importlib
import json

import pytest

from detector.training.sources import sources_problem

# module, arguments besides --sources/--root (an --out, where the CLI has one, must not be created)
CLIS = [
    ("detector.training.reframed", ["--init", "no-model", "--out", "{out}", "--version", "0"]),
    ("detector.training.soup", ["old", "new", "--out", "{out}"]),
    ("detector.training.head_refit", ["features", "no-model", "--out", "{out}"]),
    ("scripts.recalibrate", ["no-model"]),
    ("scripts.quantize_copies", ["no-model"]),
    ("benchmarks.bench_training_stream", ["--out", "{out}/stream.json"]),
]


@pytest.mark.parametrize(("module", "extra"), CLIS, ids=[m for m, _ in CLIS])
def test_a_missing_source_bank_is_one_error_line_and_nothing_on_disk(tmp_path, capsys, module, extra):
    out = tmp_path / "out"
    argv = [a.format(out=out) for a in extra] + ["--sources", str(tmp_path / "no-bank"), "--root", str(tmp_path)]
    assert importlib.import_module(module).main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "sources.json is missing" in err[0]
    assert not out.exists()


def test_sources_problem_names_what_is_wrong(tmp_path):
    assert "sources.json is missing" in sources_problem(tmp_path)
    (tmp_path / "sources.json").write_text(json.dumps({"root": "x", "records": []}))
    assert sources_problem(tmp_path) is None
    assert sources_problem(tmp_path, tmp_path) is None
    assert "is not a folder" in sources_problem(tmp_path, tmp_path / "no-data")
