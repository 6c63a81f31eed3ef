"""Stored evaluation runs: SQLite (default runs/runs.sqlite, or env DFX_RUNS_DB), JSON in and out.

The reference runs of the shipped model live as JSON under assets/runs/ and are imported the
first time a database is opened, so a fresh install already has runs to show.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from detector.config import PROJECT_ROOT
from detector.errors import DetectorError

REFERENCE_RUNS_DIR = PROJECT_ROOT / "assets" / "runs"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    model_path TEXT,
    data TEXT NOT NULL,
    n INTEGER NOT NULL,
    threshold REAL NOT NULL,
    metrics TEXT NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    label INTEGER NOT NULL,
    score REAL,
    score_uncalibrated REAL,
    n_faces INTEGER NOT NULL,
    fallback INTEGER NOT NULL,
    seconds REAL NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS scores_run ON scores(run_id);
"""


class RunsDatabaseError(DetectorError):
    """The runs database cannot be opened or read."""


@dataclass
class Run:
    model_name: str
    model_version: str
    data: str
    threshold: float
    metrics: dict
    scores: list[dict]  # {path, label, score, score_uncalibrated, n_faces, fallback, seconds, error}
    info: dict = field(default_factory=dict)
    model_path: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @property
    def n(self) -> int:
        return int(self.metrics.get("n", len(self.scores)))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "created": self.created,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_path": self.model_path,
            "data": self.data,
            "threshold": self.threshold,
            "metrics": self.metrics,
            "info": self.info,
            "scores": self.scores,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Run:
        try:
            return cls(
                id=str(data["id"]),
                created=str(data["created"]),
                model_name=str(data["model_name"]),
                model_version=str(data["model_version"]),
                model_path=str(data.get("model_path", "")),
                data=str(data["data"]),
                threshold=float(data["threshold"]),
                metrics=dict(data["metrics"]),
                info=dict(data.get("info", {})),
                scores=list(data["scores"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunsDatabaseError(f"not a run export: {exc}") from None


def read_run_json(path: str | Path) -> Run:
    """A run from its JSON export (`RunStore.export_json`, the files in assets/runs/)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunsDatabaseError(f"cannot read run export {path}: {exc}") from None
    return Run.from_dict(data)


def default_db_path() -> Path:
    return Path(os.environ.get("DFX_RUNS_DB") or PROJECT_ROOT / "runs" / "runs.sqlite")


class RunStore:
    """A small wrapper over the SQLite file; every call opens its own connection (thread-safe)."""

    def __init__(self, path: str | Path | None = None, import_reference: bool = True) -> None:
        self.path = Path(path) if path else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.executescript(SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(scores)")}
                if "score_uncalibrated" not in columns:  # databases made before calibration was stored
                    db.execute("ALTER TABLE scores ADD COLUMN score_uncalibrated REAL")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise RunsDatabaseError(f"the runs database {self.path} cannot be used ({exc})") from None
        if import_reference:
            self.import_reference_runs()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _run(self, fn):
        try:
            with closing(self._connect()) as db, db:
                return fn(db)
        except sqlite3.DatabaseError as exc:
            raise RunsDatabaseError(f"the runs database {self.path} cannot be read ({exc})") from None

    def add(self, run: Run) -> str:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run.id, run.created, run.model_name, run.model_version, run.model_path, run.data, run.n,
                 run.threshold, json.dumps(run.metrics), json.dumps(run.info)),
            )
            db.execute("DELETE FROM scores WHERE run_id = ?", (run.id,))
            db.executemany(
                "INSERT INTO scores (run_id, path, label, score, score_uncalibrated, n_faces, fallback, seconds, error)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(run.id, s["path"], int(s["label"]), s.get("score"), s.get("score_uncalibrated"), int(s.get("n_faces", 0)),
                  int(bool(s.get("fallback", False))), float(s.get("seconds", 0.0)), s.get("error"))
                 for s in run.scores],
            )

        self._run(write)
        return run.id

    def list(self) -> list[dict]:
        """Summaries, newest first: id, created, model, data, n and the headline metrics."""
        rows = self._run(lambda db: db.execute(
            "SELECT id, created, model_name, model_version, data, n, threshold, metrics, info FROM runs ORDER BY created DESC"
        ).fetchall())
        return [
            {"id": r[0], "created": r[1], "model_name": r[2], "model_version": r[3], "data": r[4], "n": r[5],
             "threshold": r[6], "metrics": json.loads(r[7]), "info": json.loads(r[8])}
            for r in rows
        ]

    def get(self, run_id: str) -> Run:
        def read(db: sqlite3.Connection):
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            scores = db.execute(
                "SELECT path, label, score, score_uncalibrated, n_faces, fallback, seconds, error FROM scores WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
            return row, scores

        row, scores = self._run(read)
        if row is None:
            raise RunsDatabaseError(f"no run with id {run_id}")
        return Run(
            id=row[0], created=row[1], model_name=row[2], model_version=row[3], model_path=row[4] or "",
            data=row[5], threshold=row[7], metrics=json.loads(row[8]), info=json.loads(row[9]),
            scores=[{"path": s[0], "label": s[1], "score": s[2], "score_uncalibrated": s[3], "n_faces": s[4],
                     "fallback": bool(s[5]), "seconds": s[6], "error": s[7]} for s in scores],
        )

    def delete(self, run_id: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM runs WHERE id = ?", (run_id,)))

    def export_json(self, run_id: str, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.get(run_id).to_dict(), indent=1))
        return path

    def import_json(self, path: str | Path) -> str:
        return self.add(read_run_json(path))

    def import_reference_runs(self) -> int:
        """Import every assets/runs/**/*.json (robustness runs live in a sub-folder) whose id is not in the database yet."""
        if not REFERENCE_RUNS_DIR.is_dir():
            return 0
        known = set(self._run(lambda db: [r[0] for r in db.execute("SELECT id FROM runs")]))
        count = 0
        for path in sorted(REFERENCE_RUNS_DIR.rglob("*.json")):
            try:
                run_id = json.loads(path.read_text()).get("id")
            except (OSError, json.JSONDecodeError):
                continue
            if run_id and run_id not in known:
                self.import_json(path)
                count += 1
        return count
