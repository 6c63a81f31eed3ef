"""The GPU round's device script: the trainer commands it would run, and its refusal of a wrong step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def device(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/gpu_device.sh", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


def arm_names(commands: list[str]) -> list[str]:
    return [c.split("--out ")[1].split()[0].rsplit("/", 1)[1] for c in commands]


def test_the_default_arms_hold_real_faces_and_train_video_frames_beside_their_control_with_the_group_guard():
    done = device("train", env={"DRY": "1", "VIDEO_OK": "1"})
    assert done.returncode == 0
    commands = done.stdout.strip().splitlines()
    assert len(commands) == 2 and arm_names(commands) == ["video", "hold"]
    for command in commands:
        assert command.startswith("python3 -m detector.training.reframed ")
        assert "--score-init" in command and "--group-scenes" in command and "--max-group-reals-rise 0.005" in command
        assert "--hold-reals 1" in command
    assert commands[0].endswith("--video-p 0.5") and "--video-p" not in commands[1]  # the control differs in that only


def test_an_arm_with_video_frames_is_skipped_with_one_line_where_the_device_cannot_encode_them():
    done = device("train", env={"DRY": "1", "VIDEO_OK": "0"})
    assert done.returncode == 0 and arm_names(done.stdout.strip().splitlines()) == ["hold"]
    assert done.stderr.strip() == "skipped arm video: --video-p needs PyAV with libx264, not on this machine"


def test_arms_and_settings_come_from_the_environment():
    done = device("train", env={"DRY": "1", "ARMS": "a 1\nb 2 --lr 5e-5", "RISE": "0.01", "MINUTES": "3"})
    commands = done.stdout.strip().splitlines()
    assert len(commands) == 2 and "--seed 1" in commands[0] and commands[1].endswith("--seed 2 --lr 5e-5")
    assert all("--max-group-reals-rise 0.01" in c and "--max-minutes 3" in c for c in commands)


def test_an_unknown_step_is_refused_with_one_line():
    done = device("nope")
    assert done.returncode == 2 and done.stderr.strip().startswith("usage:") and len(done.stderr.strip().splitlines()) == 1
    for script in ("gpu_device.sh", "gpu_round.sh"):
        assert subprocess.run(["bash", "-n", f"scripts/{script}"], cwd=ROOT).returncode == 0


def test_the_host_side_refuses_a_wrong_step_without_touching_the_checkout():
    done = subprocess.run(["bash", "scripts/gpu_round.sh", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().startswith("usage:")
    assert (ROOT / "assets").is_dir()


def test_training_imports_nothing_the_gpu_machine_lacks():
    # The device has torch, timm, cv2 and sklearn; facenet-pytorch travels as a wheel; plotly and streamlit do not.
    code = ("import sys; import detector.training.reframed, detector.training.calibrate, detector.training.soup, detector.checkpoint; "
            "print(sorted(m for m in ('plotly', 'streamlit') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
