"""Videos: evenly sampled frames, faces linked into one track per person, a verdict per track.

Frames are decoded with PyAV straight from the file or from bytes in memory, one at a time,
so a video is never held in memory whole and an upload never touches the disk.

Track score: the "confident frames" rule of the DFDC winner (Seferbekov): when many sampled
frames are confidently fake, the track's score is the mean of those; when nearly all are
confidently real, the mean of those; otherwise the plain mean. Both numbers are reported.
The video's verdict is its most suspicious track.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from detector import display
from detector.errors import InputError
from detector.imageio import VIDEO_SUFFIXES  # noqa: F401  (detector.video.VIDEO_SUFFIXES is public)
from detector.inference import FaceResult
from detector.limits import MAX_VIDEO_BYTES, MAX_VIDEO_FRAMES_SAMPLED, MAX_VIDEO_PIXELS, MAX_VIDEO_SECONDS

DEFAULT_SAMPLE_FPS = 1.0
DEFAULT_MAX_FRAMES = 32
THUMBNAIL_SIDE = 480
LINK_IOU = 0.3  # across a shot change a face continues a track only where its box overlaps the track's this much
MAX_MISSED = 2  # a track survives this many sampled frames without its face
# How far a face may move between two sampled frames and still join its track, in face sizes (the larger side
# of the two boxes). At the default 1 frame per second a person walking through the picture moves more than one
# face size between samples (the test clip's face moves 1.1-1.7), so the reach grows with the time between
# the track's last face and this frame; MIN_REACH keeps the old reach for closely sampled frames. A choice, not
# measured on real footage: the shared data has no video with moving faces.
FACE_SPEED = 2.5  # face sizes per second
MIN_REACH = 1.5  # face sizes
# ... and at most this far, however long the gap: a long video sampled 32 times has gaps of many seconds, and a
# track unseen for a while would otherwise catch any face that enters the picture.
MAX_REACH = 3.0  # face sizes
MAX_SIZE_RATIO = 1.6  # boxes that do not overlap and differ more in size than this are different faces
# Two sampled frames whose hue-saturation histograms correlate less than this are taken to be different shots.
# The reach above is for a face moving within a shot: in an interview cut between two people, the second face
# often sits one or two face sizes from where the first was, and must not continue the first one's track.
SHOT_CHANGE_CORRELATION = 0.5
# A face that does not overlap its track's last face must also look like it: the hue-saturation histograms of the
# middle of the two crops correlate at least this much. It catches cuts the shot test misses (two people filmed
# against one wall). Chosen low on composed clips (benchmarks/video_tracks.py): there no step of one person fell
# below 0.65, while half the pairs of two people fell below 0.3; real people turning in changing light vary more.
FACE_MATCH_CORRELATION = 0.3
WINDOW_BUDGET_BYTES = 256 * 2**20  # all faces' stability windows of one video together


@dataclass
class VideoInfo:
    duration: float
    fps: float
    frames: int | None
    width: int
    height: int
    codec: str


@dataclass
class SampledFrame:
    index: int  # position among the sampled frames
    time: float  # seconds
    thumbnail: Image.Image  # the frame shrunk to THUMBNAIL_SIDE, for display
    scale: float  # thumbnail pixels per frame pixel
    faces: list[FaceResult]
    # Per face (same order), the part of the frame its stability copies are cut from
    # (detector.stability.FaceWindow), kept only until the check ran; None past the memory budget.
    windows: list = field(default_factory=list)
    shot: int = 0  # which shot it belongs to: counts the shot changes seen before it (shot_changed)


@dataclass
class Track:
    id: int
    frames: list[int] = field(default_factory=list)  # SampledFrame.index values
    faces: list[FaceResult] = field(default_factory=list)
    missed: int = 0
    last_time: float = 0.0  # seconds: when its face was last seen
    last_shot: int = 0  # the shot its face was last seen in

    @property
    def p_fake_per_frame(self) -> np.ndarray:
        """Each sampled frame's calibrated P(fake) for this person, in frame order."""
        return np.array([f.p_fake for f in self.faces])

    @property
    def mean(self) -> float:
        return float(self.p_fake_per_frame.mean())

    @property
    def score(self) -> float:
        """The track's P(fake): the confident-frames rule over its frames."""
        return confident_frames_score(self.p_fake_per_frame)

    def deciding(self) -> np.ndarray:
        """Positions of the frames its score averages (see deciding_frames)."""
        return np.flatnonzero(deciding_frames(self.p_fake_per_frame))

    def most_suspicious(self, k: int = 3) -> list[int]:
        """Positions (into frames/faces) of the k highest-P(fake) frames."""
        return [int(i) for i in np.argsort(-self.p_fake_per_frame, kind="stable")[:k]]


@dataclass
class VideoResult:
    info: VideoInfo
    frames: list[SampledFrame]
    tracks: list[Track]
    seconds: float
    stopped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def shot_changes(self) -> list[float]:
        """Times (s) of the sampled frames that begin a new shot (shot_changed): tracks do not continue across
        them unless the face stays where it was."""
        return [b.time for a, b in zip(self.frames, self.frames[1:]) if b.shot != a.shot]

    @property
    def worst_track(self) -> Track | None:
        """The track with the highest score, too small to judge or not (the model's view, no limits)."""
        return max(self.tracks, key=lambda t: t.score, default=None)

    @property
    def max_track_score(self) -> float | None:
        """The highest track score, tracks too small to judge included: NOT the video's P(fake), which
        only judged tracks decide (headline_track, detector.analysis.VideoAnalysis.p_fake)."""
        track = self.worst_track
        return None if track is None else track.score


def headline_track(scores: list[float], verdicts: list[str]) -> int | None:
    """Position of a video's headline track, given each track's score and verdict code: the highest
    score among the tracks that were judged; a track not judged (too small) leads only when no track
    was, and then gives the video no P(fake) (headline_p_fake). None without tracks."""
    return max(range(len(scores)), key=lambda i: (verdicts[i] not in display.NOT_JUDGED, scores[i]), default=None)


def headline_p_fake(scores: list[float], verdicts: list[str]) -> float | None:
    """The video's P(fake): its headline track's score, None when no track was judged (or none found)."""
    lead = headline_track(scores, verdicts)
    return None if lead is None or verdicts[lead] in display.NOT_JUDGED else float(scores[lead])


CONFIDENT_FAKE, CONFIDENT_REAL = 0.8, 0.2  # the DFDC winner's "confident" frame cut-offs


def deciding_frames(p_fake_per_frame: np.ndarray, high: float = CONFIDENT_FAKE, low: float = CONFIDENT_REAL) -> np.ndarray:
    """Which frames the DFDC winner's rule averages: the confidently fake ones when there are many,
    else the confidently real ones when nearly all are, else every frame (a boolean mask)."""
    p = np.asarray(p_fake_per_frame, dtype=float)
    confident_fake = p > high
    if confident_fake.sum() > p.size / 2.5 and confident_fake.sum() > min(11, p.size // 2):
        return confident_fake
    confident_real = p < low
    if confident_real.sum() > 0.9 * p.size:
        return confident_real
    return np.ones(p.size, dtype=bool)


def confident_frames_score(p_fake_per_frame: np.ndarray, high: float = CONFIDENT_FAKE, low: float = CONFIDENT_REAL) -> float:
    """The DFDC winner's aggregation over the frames of one face track: the mean of its deciding frames."""
    p = np.asarray(p_fake_per_frame, dtype=float)
    if p.size == 0:
        return float("nan")
    return float(p[deciding_frames(p, high, low)].mean())


def open_container(source: str | Path | bytes, name: str = "video"):
    """Open a video from a path or from bytes (kept in memory), or raise InputError."""
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise InputError(f"{name} is empty (0 bytes)")
            if len(source) > MAX_VIDEO_BYTES:
                raise InputError(f"{name} is larger than {MAX_VIDEO_BYTES // 2**20} MB")
            return av.open(io.BytesIO(source), mode="r")
        path = Path(source)
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{name} is empty (0 bytes)")
        if size > MAX_VIDEO_BYTES:
            raise InputError(f"{name} is {size / 2**20:.0f} MB; videos over {MAX_VIDEO_BYTES // 2**20} MB are refused")
        return av.open(str(path), mode="r")
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{name} is not a video we can read ({_first_line(exc)})") from None


def probe(container, name: str = "video") -> VideoInfo:
    format_name = container.format.name or ""
    if format_name.endswith("_pipe") or format_name in ("image2", "gif", "apng", "webp"):
        raise InputError(f"{name} is a still image ({format_name.removesuffix('_pipe')}), not a video")
    if not container.streams.video:
        raise InputError(f"{name} has no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise InputError(f"{name} has a video stream without a picture size")
    if width * height > MAX_VIDEO_PIXELS:
        raise InputError(f"{name} is {width}x{height}; videos above 4K ({MAX_VIDEO_PIXELS / 1e6:.1f} MP a frame) are refused")
    fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
    if not 0.1 <= fps <= 1000:
        raise InputError(f"{name} declares {fps:g} frames per second, which cannot be right")
    duration = None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    if duration is not None and duration > MAX_VIDEO_SECONDS:
        raise InputError(f"{name} lasts {duration / 60:.0f} min; videos over {MAX_VIDEO_SECONDS // 60} min are refused")
    frames = int(stream.frames) if stream.frames else None
    return VideoInfo(duration=duration or 0.0, fps=fps, frames=frames, width=width, height=height, codec=stream.codec_context.name)


def sample_times(duration: float, sample_fps: float, max_frames: int) -> list[float]:
    """Evenly spaced times: sample_fps per second, at most max_frames, centred in their slots."""
    if duration <= 0:
        return [0.0]
    count = int(max(1, min(max_frames, MAX_VIDEO_FRAMES_SAMPLED, round(duration * sample_fps))))
    step = duration / count
    return [step * (i + 0.5) for i in range(count)]


def iter_frames(container, times: list[float], max_decoded: int) -> iter:
    """Yield (time, PIL frame) for the first decoded frame at or after each wanted time."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    wanted = list(times)
    decoded = 0
    last = None
    for frame in container.decode(stream):
        decoded += 1
        if decoded > max_decoded:
            break
        t = float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base else decoded / 25.0
        last = (t, frame)
        if wanted and t + 1e-6 >= wanted[0]:
            image = frame.to_image()
            while wanted and t + 1e-6 >= wanted[0]:
                wanted.pop(0)
            yield t, image
            if not wanted:
                return
    # A duration header longer than the real stream: use the last frame for what is left.
    if wanted and last is not None and len(wanted) == len(times):
        yield last[0], last[1].to_image()


def box_iou(a, b) -> float:
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw, ih = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def colour_histogram(thumbnail: Image.Image) -> np.ndarray:
    """Hue-saturation histogram of a sampled frame (30 x 32 bins), for telling shots apart."""
    hsv = np.asarray(thumbnail.convert("RGB").convert("HSV")).reshape(-1, 3)
    histogram, _, _ = np.histogram2d(hsv[:, 0], hsv[:, 1], bins=(30, 32), range=((0, 256), (0, 256)))
    return histogram.ravel()


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:  # a flat picture: alike only when both are the same
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def shot_changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two sampled frames' colour histograms (colour_histogram) differ like two different shots'."""
    return _correlation(before, after) < SHOT_CHANGE_CORRELATION


def face_histogram(face: FaceResult) -> np.ndarray:
    """colour_histogram of the middle of a face's crop (mostly skin, little background)."""
    width, height = face.crop.size
    middle = face.crop.crop((int(width * 0.3), int(height * 0.3), int(width * 0.7), int(height * 0.7)))
    return colour_histogram(middle.resize((64, 64), Image.BILINEAR))  # colours need no detail: 2.6x cheaper


def _side(box) -> float:
    return max(box[2] - box[0], box[3] - box[1], 1.0)


def _link_score(track_box, face_box, seconds: float = 1.0, same_shot: bool = True) -> float:
    """IoU, or for boxes that do not overlap a small score that falls to 0 at the reach: FACE_SPEED face sizes
    per second since the track's face was last seen, at least MIN_REACH (a face moves a lot in one second
    between sampled frames) and at most MAX_REACH. Boxes that do not overlap and differ much in size never link; after a shot
    change only boxes overlapping by LINK_IOU do."""
    iou = box_iou(track_box, face_box)
    if not same_shot:
        return iou if iou >= LINK_IOU else 0.0
    track_side, face_side = _side(track_box), _side(face_box)
    if iou == 0 and max(track_side, face_side) / min(track_side, face_side) > MAX_SIZE_RATIO:
        return 0.0
    tcx, tcy = (track_box[0] + track_box[2]) / 2, (track_box[1] + track_box[3]) / 2
    fcx, fcy = (face_box[0] + face_box[2]) / 2, (face_box[1] + face_box[3]) / 2
    distance = np.hypot(tcx - fcx, tcy - fcy) / max(track_side, face_side)
    reach = min(MAX_REACH, max(MIN_REACH, FACE_SPEED * seconds))
    return max(iou, 0.29 * (1.0 - distance / reach))


def _pair_score(track: Track, face: FaceResult, frame: SampledFrame, histogram: Callable[[FaceResult], np.ndarray]) -> float:
    """_link_score of the track's last face and this one, 0 when they do not overlap and do not look alike
    (`histogram`: face_histogram, computed once per face and frame however many pairs a crowd makes)."""
    last = track.faces[-1]
    score = _link_score(last.box, face.box, frame.time - track.last_time, track.last_shot == frame.shot)
    if score > 0 and box_iou(last.box, face.box) == 0 and _correlation(histogram(last), histogram(face)) < FACE_MATCH_CORRELATION:
        return 0.0
    return score


def link_tracks(tracks: list[Track], frame: SampledFrame, next_id: int, min_score: float = 0.05) -> int:
    """Greedy matching, best pairs first: each face joins at most one live track and vice versa.
    Tracks unseen for more than MAX_MISSED sampled frames are closed; unmatched faces start new ones."""
    live = [t for t in tracks if t.missed <= MAX_MISSED]
    histograms: dict[int, np.ndarray] = {}

    def histogram(face: FaceResult) -> np.ndarray:
        if id(face) not in histograms:
            histograms[id(face)] = face_histogram(face)
        return histograms[id(face)]

    pairs = sorted(
        ((_pair_score(t, f, frame, histogram), ti, fi) for ti, t in enumerate(live) for fi, f in enumerate(frame.faces)),
        reverse=True,
    )
    used_tracks, used_faces = set(), set()
    for score, ti, fi in pairs:
        if score < min_score or ti in used_tracks or fi in used_faces:
            continue
        used_tracks.add(ti)
        used_faces.add(fi)
        live[ti].frames.append(frame.index)
        live[ti].faces.append(frame.faces[fi])
        live[ti].missed = 0
        live[ti].last_time = frame.time
        live[ti].last_shot = frame.shot
    for ti, track in enumerate(live):
        if ti not in used_tracks:
            track.missed += 1
    for fi, face in enumerate(frame.faces):
        if fi not in used_faces:
            tracks.append(Track(id=next_id, frames=[frame.index], faces=[face], last_time=frame.time, last_shot=frame.shot))
            next_id += 1
    return next_id


def analyze_video(
    detector,
    source: str | Path | bytes,
    name: str = "video",
    sample_fps: float = DEFAULT_SAMPLE_FPS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_windows: bool = False,
) -> VideoResult:
    """Sample, detect, classify and track; with `keep_windows`, also keep each face's window for the
    stability check (detector.stability.check_tracks). Raises InputError for anything unreadable."""
    start = time.perf_counter()
    windows = WindowKeeper(detector.config.crop_margin) if keep_windows else None
    container = open_container(source, name)
    try:
        info = probe(container, name)
        times = sample_times(info.duration, sample_fps, max_frames)
        max_decoded = int(max(info.fps, 1) * (MAX_VIDEO_SECONDS + 1))
        frames: list[SampledFrame] = []
        tracks: list[Track] = []
        next_id, stopped, shot, histogram = 1, False, 0, None
        try:
            for index, (t, image) in enumerate(iter_frames(container, times, max_decoded)):
                if should_stop and should_stop():
                    stopped = True
                    break
                result = detector.analyze(image)
                scale = min(1.0, THUMBNAIL_SIDE / max(image.size))
                thumbnail = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
                previous, histogram = histogram, colour_histogram(thumbnail)
                shot += previous is not None and shot_changed(previous, histogram)
                frame = SampledFrame(index=index, time=t, thumbnail=thumbnail, scale=scale, faces=result.faces,
                                     windows=windows.keep(image, result.faces) if windows else [], shot=shot)
                frames.append(frame)
                next_id = link_tracks(tracks, frame, next_id)
                if progress:
                    progress(index + 1, len(times))
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            if not frames:
                raise InputError(f"{name} could not be decoded ({_first_line(exc)})") from None
            # keep what was decoded before the stream broke, and say so
            notes = [f"The video is damaged after {frames[-1].time:.1f} s; only the frames before were analysed."]
        else:
            notes = []
    finally:
        container.close()
    if not frames:
        raise InputError(f"{name} has no decodable frames")
    if stopped:
        notes.append(f"Stopped after {len(frames)} of {len(times)} frames.")
    if not tracks:
        notes.append("No face was found in the sampled frames.")
    return VideoResult(info=info, frames=frames, tracks=tracks, seconds=time.perf_counter() - start, stopped=stopped, notes=notes)


class WindowKeeper:
    """Keeps each face's stability window while a video is sampled, within WINDOW_BUDGET_BYTES in all
    (frames themselves are never kept; a window is the face and its surroundings, at most
    detector.stability.WINDOW_MAX_SIDE px a side)."""

    def __init__(self, margin: float) -> None:
        self.margin, self.used = margin, 0

    def keep(self, image: Image.Image, faces: list[FaceResult]) -> list:
        from detector.stability import WINDOW_MAX_SIDE, face_window

        kept = []
        for face in faces:
            window = face_window(image, face.face, self.margin, WINDOW_MAX_SIDE) if self.used < WINDOW_BUDGET_BYTES else None
            self.used += window.image.width * window.image.height * 3 if window else 0
            kept.append(window)
        return kept


def video_to_dict(result: VideoResult, config, rules=None, checks: dict | None = None) -> dict:
    """The JSON shape of detector.predict for a video: every face (with frame and time) plus tracks.

    `rules` (detector.stability.AbstainRules) adds each track's final verdict in words, judged with its
    stability check from `checks` (track id -> detector.stability.TrackStability) where it ran."""
    from detector.stability import AbstainRules, track_verdict

    rules, checks = rules or AbstainRules(), checks or {}
    faces = []
    for frame in result.frames:
        for face in frame.faces:
            faces.append({**face.to_dict(), "frame": frame.index, "time": round(frame.time, 3)})
    tracks, verdicts = [], []
    for track in result.tracks:
        verdict = track_verdict(track, config, rules, checks.get(track.id))
        verdicts.append(verdict[0])
        tracks.append({
            "track": track.id,
            "frames": track.frames,
            "times": [round(result.frames[i].time, 3) for i in track.frames],
            "p_fake_per_frame": [round(float(p), 4) for p in track.p_fake_per_frame],
            "p_fake_mean": round(track.mean, 4),
            "p_fake": round(track.score, 4),
            "aggregation": "confident frames (DFDC winner); mean also given",
            "label": config.verdict(track.score),
            **_track_words(verdict),
            "stability": checks[track.id].to_dict() if checks.get(track.id) is not None else None,
        })
    info = result.info
    return {
        "duration_s": round(info.duration, 3), "fps": round(info.fps, 3), "width": info.width, "height": info.height,
        "frames_sampled": len(result.frames), "shot_changes_s": [round(t, 3) for t in result.shot_changes],
        "faces": faces, "tracks": tracks,
        # The video's P(fake) is its headline track's: tracks too small to judge never decide it (None when
        # no track was judged); the highest score of any track, those included, is kept under its own name.
        **_headline(result, config, verdicts),
        "notes": result.notes, "seconds": round(result.seconds, 3),
    }


def _headline(result: VideoResult, config, verdicts: list[str]) -> dict:
    scores = [track.score for track in result.tracks]
    lead, p_fake, raw = headline_track(scores, verdicts), headline_p_fake(scores, verdicts), result.max_track_score
    # "verdict" is the headline track's final verdict, the one the page and the report lead with (its stability
    # check included); "label" is only the model's band on its score, which the check may overrule.
    verdict = None if lead is None else verdicts[lead]
    return {"p_fake": None if p_fake is None else round(p_fake, 4),
            "verdict": verdict, "verdict_words": None if verdict is None else display.verdict_words(verdict),
            "label": None if p_fake is None else config.verdict(p_fake),
            "headline_track": None if p_fake is None else result.tracks[lead].id,
            "p_fake_max_all_tracks": None if raw is None else round(raw, 4)}


def _track_words(verdict: tuple[str, list[str]]) -> dict:
    code, reasons = verdict
    return {"verdict": code, "verdict_words": display.verdict_words(code), "reasons": reasons}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]

