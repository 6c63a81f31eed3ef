"""Video realtime factor: a 60 s 720p clip sampled at 1 fps, and the peak memory.

    python -m benchmarks.bench_video            target: >= 4x real time (<= 15 s)
"""

import tempfile
from pathlib import Path

from benchmarks.common import current_rss_mb, moving_face_clip, peak_rss_mb, report


def make_clip(path: Path, seconds: int = 60, fps: int = 25) -> Path:
    """A 1280x720 clip of one 300 px face moving quickly across the frame."""
    return moving_face_clip(path, seconds, face_side=300, top=200, x_span=600, period=50, fps=fps)


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
