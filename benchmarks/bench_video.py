"""Video realtime factor: a 60 s 720p clip sampled at 1 fps, and the peak memory.

    python -m benchmarks.bench_video            target: >= 4x real time (<= 15 s)
"""

import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import current_rss_mb, peak_rss_mb, report, sample_face


def make_clip(path: Path, seconds: int = 60, fps: int = 25) -> Path:
    face = np.asarray(sample_face().resize((300, 300)))[:, :, ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for i in range(seconds * fps):
        frame = np.full((720, 1280, 3), 110, np.uint8)
        x = int(200 + 600 * (0.5 + 0.5 * np.sin(i / 50)))
        frame[200:500, x : x + 300] = face
        writer.write(frame)
    writer.release()
    return path


def main() -> dict:
    from detector.inference import Detector
    from detector.video import analyze_video

    detector = Detector()
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.mp4")
        before = current_rss_mb()
        analyze_video(detector, clip, max_frames=4)  # warm-up
        result = analyze_video(detector, clip, sample_fps=1.0, max_frames=60)
    factor = result.info.duration / result.seconds
    rows = [("clip", f"{result.info.duration:.0f} s", "1280x720, 25 fps"),
            ("frames sampled", str(len(result.frames)), "1 fps"),
            ("analysis time (s)", f"{result.seconds:.1f}", "target <= 15 s"),
            ("realtime factor", f"{factor:.1f}x", "target >= 4x"),
            ("peak RSS (MB)", f"{peak_rss_mb():.0f}", f"{before:.0f} MB before")]
    return report("video", rows, {"duration_s": result.info.duration, "seconds": result.seconds, "realtime_factor": factor,
                                  "frames": len(result.frames), "tracks": len(result.tracks), "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
