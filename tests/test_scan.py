"""Batch scan (detector.scan): sources, the per-file rows, and a real local Ray run.

The Ray tests share one embedded Ray (2 CPUs, no dashboard) for the module and shut it down
at the end; each scan still builds its own actor pool, so each loads its own Detector.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from detector.imageio import load_image
from detector.scan import EngineOptions, ScanWorker, done_hashes, list_sources, main, read_results, scan
from tests import videos
from tests.conftest import SAMPLES


def pile(root: Path) -> Path:
    """Two photos with faces, one without, a corrupt JPEG and a text file posing as a PNG."""
    (root / "sub").mkdir(parents=True)
    for name in ("astronaut.jpg", "two_faces.jpg", "rocket_no_face.jpg"):
        shutil.copy(SAMPLES / name, root / ("sub" if name == "two_faces.jpg" else ".") / name)
    (root / "sub" / "corrupt.jpg").write_bytes((SAMPLES / "astronaut.jpg").read_bytes()[:2500])
    (root / "fake.png").write_text("not a picture")
    (root / "notes.md").write_text("ignored: not an image")
    return root


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    from detector.scan import start_ray

    start_ray(EngineOptions(object_store_mb=128))
    yield ray
    ray.shutdown()
    assert not ray.is_initialized()


def expected_rows(detector, path: Path) -> list[tuple]:
    result = detector.analyze(load_image(path))
    return [(f.index + 1, f.p_fake, f.label, f.face.prob, f.face.fallback, tuple(f.face.box)) for f in result.faces]


def test_sources_folder_zip_and_lists(tmp_path):
    folder = pile(tmp_path / "pile")
    listing = list_sources([folder])
    names = sorted(Path(f).name for f in listing.files)
    assert names == ["astronaut.jpg", "corrupt.jpg", "fake.png", "rocket_no_face.jpg", "two_faces.jpg"]
    assert listing.ignored == 1  # notes.md
    archive = tmp_path / "pile.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(folder / "astronaut.jpg", "a/astronaut.jpg")
        z.writestr("readme.txt", "x")
        z.writestr("__MACOSX/a/._astronaut.jpg", "junk")
    assert list_sources([archive]).files == [f"{archive}::a/astronaut.jpg"]
    (tmp_path / "list.csv").write_text("id,path\n1,pile/astronaut.jpg\n2,missing.jpg\n")
    assert list_sources([tmp_path / "list.csv"]).files == [str(tmp_path / "pile/astronaut.jpg"), str(tmp_path / "missing.jpg")]
    (tmp_path / "list.txt").write_text("# photos\npile/sub\n\npile.zip\n")
    assert len(list_sources([tmp_path / "list.txt"]).files) == 3
    with pytest.raises(Exception, match="no such file"):
        list_sources([tmp_path / "nowhere"])


def test_ray_scan_equals_analyze_and_resumes(tmp_path, ray_session, detector, tiny_checkpoint):
    folder = pile(tmp_path / "pile")
    out = tmp_path / "results"
    files = list_sources([folder]).files
    options = EngineOptions(actors=2, batch_size=2)
    summary = scan([{"file": f} for f in files], out, options, checkpoint=tiny_checkpoint, progress=False, write_csv=True)
    assert (summary.files, summary.scanned, summary.skipped, summary.failed, summary.no_face) == (5, 5, 0, 2, 1)
    frame = read_results(out)
    assert (out / "results.csv").exists()
    by_file = {Path(f).name: g.sort_values("face") for f, g in frame.groupby("file")}
    assert set(by_file) == {"astronaut.jpg", "two_faces.jpg", "rocket_no_face.jpg", "corrupt.jpg", "fake.png"}
    for name in ("astronaut.jpg", "two_faces.jpg"):
        rows = by_file[name]
        expected = expected_rows(detector, next(folder.rglob(name)))
        assert len(rows) == len(expected) >= 1
        for (_, row), (face, p_fake, label, prob, fallback, box) in zip(rows.iterrows(), expected):
            assert row["status"] == "face" and row["face"] == face
            assert row["p_fake"] == pytest.approx(p_fake, abs=1e-5)
            assert row["verdict"] == label and bool(row["fallback"]) == fallback
            assert row["face_prob"] == pytest.approx(prob, abs=1e-5)
            assert np.allclose(row[["x1", "y1", "x2", "y2"]].astype(float), box, atol=1e-3)
            assert row["sha256"] and row["model"] == "test-model 0.0.1"
    assert len(by_file["two_faces.jpg"]) == 2
    assert by_file["rocket_no_face.jpg"]["status"].tolist() == ["no_face"]
    corrupt, fake_png = by_file["corrupt.jpg"].iloc[0], by_file["fake.png"].iloc[0]
    assert corrupt["status"] == "error" and "corrupt or truncated" in corrupt["error"]
    assert fake_png["status"] == "error" and "not an image" in fake_png["error"]
    assert len(done_hashes(out)) == 5

    # Resume: a second run skips the five known files by hash and scans only the new one.
    shutil.copy(SAMPLES / "astronaut_selfblended.jpg", folder / "new.jpg")
    files = list_sources([folder]).files
    again = scan([{"file": f} for f in files], out, options, checkpoint=tiny_checkpoint, progress=False)
    assert (again.files, again.skipped, again.scanned, again.faces) == (6, 5, 1, 1)
    frame = read_results(out)
    assert frame.groupby("file").size().loc[str(folder / "new.jpg")] == 1
    assert frame["file"].nunique() == 6 and len(frame) == 7  # nothing was written twice
    assert ray_session.is_initialized()  # a scan leaves a Ray it did not start running


def test_zip_source_on_ray(tmp_path, ray_session, detector, tiny_checkpoint):
    archive = tmp_path / "tips.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(SAMPLES / "astronaut.jpg", "inbox/astronaut.jpg")
        z.write(SAMPLES / "rocket_no_face.jpg", "inbox/rocket.jpg")
        z.writestr("inbox/broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "results"
    code = main([str(archive), "--out", str(out), "--model", str(tiny_checkpoint), "--actors", "1", "--quiet"])
    assert code == 0
    frame = read_results(out).set_index("file")
    astronaut = frame.loc[f"{archive}::inbox/astronaut.jpg"]
    expected = expected_rows(detector, SAMPLES / "astronaut.jpg")[0]
    assert astronaut["p_fake"] == pytest.approx(expected[1], abs=1e-5)
    assert frame.loc[f"{archive}::inbox/rocket.jpg", "status"] == "no_face"
    assert frame.loc[f"{archive}::inbox/broken.png", "status"] == "error"


def test_local_engine_video_upload_and_bad_input(tmp_path, detector, capsys):
    worker = ScanWorker(detector=detector, thumbnails=True, sample_fps=2.0, max_frames=8)
    video = videos.moving_face(tmp_path / "moving.mp4")
    rows = worker.scan_data("moving.mp4", video.read_bytes())
    assert [r["status"] for r in rows] == ["face"] and rows[0]["kind"] == "video"
    assert rows[0]["n_frames"] == 8 and rows[0]["frame_time"] is not None
    assert rows[0]["thumbnail"][:2] == b"\xff\xd8"  # a JPEG
    checked = ScanWorker(detector=detector, stability=True).scan_data("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes())[0]
    assert checked["p_fake_low"] <= checked["p_fake"] <= checked["p_fake_high"]
    assert checked["final_verdict"] and checked["stability_summary"]
    assert checked["provenance_state"] == "none" and checked["provenance_summary"]
    rows = worker.scan_data("tip.gif", b"GIF89a")
    assert rows[0]["status"] == "error" and "is not a supported image or video type" in rows[0]["error"]
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"), "--engine", "local"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_worker_hands_freed_memory_back_after_every_batch(monkeypatch, detector):
    # Without it an actor's RSS crept up over a 10,000-file scan (benchmarks/bench_scan.py, README).
    import detector.scan as scan_module

    calls = []
    monkeypatch.setattr(scan_module, "release_free_memory", lambda: calls.append("trim") or True)
    worker = ScanWorker(detector=detector, provenance=False)
    table = worker({"file": [str(SAMPLES / "astronaut.jpg"), str(SAMPLES / "rocket_no_face.jpg")]})
    assert table.num_rows == 2 and calls == ["trim"]
    worker({"file": [str(SAMPLES / "two_faces.jpg")], "label": [1]})
    assert calls == ["trim", "trim"]
    worker.scan_data("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes())  # one file (the app): no trim
    assert calls == ["trim", "trim"]


def test_evaluation_on_ray_equals_the_local_loop(tmp_path, ray_session, detector, tiny_checkpoint, astronaut):
    from detector.evaluation import evaluate
    from tests.conftest import face_folder

    items, _ = evaluate.select_items(face_folder(tmp_path / "set", astronaut, n=2))
    local = evaluate.score_images(detector, items)
    on_ray = evaluate.scan_records(items, EngineOptions(actors=2, batch_size=1), tiny_checkpoint)
    assert [r["path"] for r in on_ray] == [r["path"] for r in local]
    for a, b in zip(local, on_ray):
        assert (a["label"], a["n_faces"], a["fallback"], a["error"]) == (b["label"], b["n_faces"], b["fallback"], b["error"])
        assert b["score"] == pytest.approx(a["score"], abs=1e-6)
        assert b["score_uncalibrated"] == pytest.approx(a["score_uncalibrated"], abs=1e-6)


def test_resume_replaces_unreadable_file_rows(tmp_path, tiny_checkpoint):
    """A file that cannot be read has no hash: each rerun tries it again and keeps one row for it, and
    once it can be read its faces replace the old error row (issue 18)."""
    listed = tmp_path / "later.jpg"
    shutil.copy(SAMPLES / "rocket_no_face.jpg", tmp_path / "rocket.jpg")
    (tmp_path / "list.txt").write_text("rocket.jpg\nlater.jpg\n")
    out = tmp_path / "results"
    options = EngineOptions(engine="local")

    def run() -> tuple:
        items = [{"file": f} for f in list_sources([tmp_path / "list.txt"]).files]
        summary = scan(items, out, options, checkpoint=tiny_checkpoint, progress=False)
        return summary, read_results(out).set_index("file")

    first, frame = run()
    assert (first.scanned, first.failed) == (2, 1) and frame.loc[str(listed), "status"] == "error"
    again, frame = run()
    assert (again.skipped, again.scanned, again.failed) == (1, 1, 1)  # the unreadable file was tried again
    assert len(frame) == 2 and frame.loc[str(listed), "status"] == "error"  # ... and still has one row
    shutil.copy(SAMPLES / "astronaut.jpg", listed)
    third, frame = run()
    assert (third.skipped, third.scanned, third.faces, third.failed) == (1, 1, 1, 0)
    assert frame.loc[[str(listed)], "status"].tolist() == ["face"]  # the old error row is gone, not hiding it
    assert frame.loc[str(tmp_path / "rocket.jpg"), "status"] == "no_face"


def test_scan_on_a_cluster_started_with_ray_start(tmp_path, tiny_checkpoint):
    """`--address` on a real cluster: `ray start --head` here (its own port and temp folder, so no other
    Ray on the machine is joined), the CLI scans through that address, then `ray stop` for that cluster."""
    pytest.importorskip("ray")
    import socket
    import subprocess
    import sys
    import tempfile

    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        pytest.skip("the ray command is not installed beside this Python")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    # One auth mode on both sides: `ray start` turns token authentication on by itself when ~/.ray/auth_token
    # exists, but a driver's ray.init(address=...) does not (Ray 2.60), and was refused (InvalidAuthToken).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    start = [str(ray_cli), "start", "--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
             "--temp-dir", temp, "--object-store-memory", str(96 * 2**20), "--disable-usage-stats"]
    started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        # The address `ray start` prints for others to join (this machine's IP, not 127.0.0.1, which Ray maps to it).
        address = re.search(r"--address='([^']+)'", started.stdout + started.stderr).group(1)
        folder = pile(tmp_path / "pile")
        out = tmp_path / "results"
        code = subprocess.run([sys.executable, "-m", "detector.scan", str(folder), "--out", str(out), "--address",
                               address, "--model", str(tiny_checkpoint), "--actors", "1", "--quiet"],
                              cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=240)
        assert code.returncode == 0, code.stderr[-2000:]
        frame = read_results(out)
        assert frame["file"].nunique() == 5 and (frame["status"] == "error").sum() == 2
        assert "5 files: 5 scanned" in code.stdout
    finally:
        stop_processes_under(temp)  # not `ray stop`: that stops every Ray on the machine, other people's too
        shutil.rmtree(temp, ignore_errors=True)


def stop_processes_under(temp: str) -> None:
    """End the processes of the cluster whose temp folder is `temp` (each names it on its command line)."""
    import signal
    import time

    def ours() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if temp.encode() in (entry / "cmdline").read_bytes():
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 15
        while ours() and time.time() < deadline:
            time.sleep(0.5)
