"""What every surface shows about one file, computed once: `ImageAnalysis` for a picture,
`VideoAnalysis` for a video.

The pages, `python -m detector.predict --json` and the report read the same object: the faces (or
a video's person tracks) with the model's numbers, the verdict a person reads, the stability check
(when run), the class each explanation map explains, and the file's provenance. Pages only draw it.

    from detector.analysis import analyze_image_bytes, analyze_video_file
    analysis = analyze_image_bytes(detector, data, "photo.jpg")
    analysis.to_dict()  # the CLI's JSON for this file
    clip = analyze_video_file(detector, data, "clip.mp4", provenance=True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from detector import display
from detector.errors import InputError
from detector.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES, decode_image, exif_summary
from detector.inference import FaceResult, ImageResult
from detector.provenance import Provenance, read_provenance
from detector.video import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_SAMPLE_FPS,
    SampledFrame,
    Track,
    VideoResult,
    analyze_video,
    headline_p_fake,
    headline_track,
)


def file_kind(name: str, allowed: tuple[str, ...] = ("image", "video")) -> str:
    """'image' or 'video' from a file name's extension; InputError naming the supported types otherwise."""
    suffix = Path(name).suffix.lower()
    kinds = {"image": IMAGE_SUFFIXES, "video": VIDEO_SUFFIXES}
    for kind in allowed:
        if suffix in kinds[kind]:
            return kind
    supported = ", ".join(s for kind in allowed for s in kinds[kind])
    what = " or ".join(allowed)
    raise InputError(f"{Path(name).name}: '{suffix or 'no extension'}' is not a supported {what} type ({supported})")


def is_video(name: str) -> bool:
    """Whether a file name has a video extension (the image page sends such a file to the video page)."""
    return Path(name).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class FaceAnalysis:
    """One face: the model's result, the verdict a person reads, and the class its maps explain."""

    result: FaceResult
    verdict: str  # a display.* verdict code (the stability check's when it ran, else the model's band)
    explains: int  # the class a map of this face explains by default: the predicted one (1 fake, 0 real)
    stability: object | None = None  # detector.stability.FaceStability when the check ran
    # Under the model's size limit (detector.stability.too_small), whether or not the check ran: with
    # the check the verdict then says "too small to judge"; without it the score is flagged, not dropped.
    too_small: bool = False

    @property
    def index(self) -> int:
        return self.result.index

    @property
    def judged(self) -> bool:
        """Whether the face got a verdict (not too small, too blurred or unclear; always without the check)."""
        return self.verdict not in display.NOT_JUDGED

    def target(self, other: bool = False) -> int:
        """The class to explain: the predicted one, or the other one when asked."""
        return 1 - self.explains if other else self.explains

    def to_dict(self) -> dict:
        return {
            **self.result.to_dict(),
            "p_fake_text": display.format_probability(self.result.p_fake),
            "verdict": self.verdict,
            "verdict_words": display.verdict_words(self.verdict),
            "stability": self.stability.to_dict() if self.stability is not None else None,
        }


@dataclass
class ImageAnalysis:
    """Everything shown about one picture. `provenance` is filled when the file's own claims were read."""

    name: str
    sha256: str
    model: str  # "name version" of the checkpoint that scored it
    image: Image.Image
    result: ImageResult
    faces: list[FaceAnalysis]
    what_this_means: str
    rules: object | None = None  # detector.stability.AbstainRules the verdicts were judged by (None: no check)
    config: object = None  # detector.config.ModelConfig of the checkpoint that scored it (the report cites it)
    provenance: Provenance | None = None  # detector.provenance's reading of the file
    size_bytes: int = 0  # the file's size (0: analysed from a decoded picture, not a file)
    exif: str = "none readable"  # detector.imageio.exif_summary of the file, for the report
    extra: dict = field(default_factory=dict)

    @property
    def p_fake(self) -> float | None:
        """The picture's P(fake): its headline face's; None without a face or when no face could be judged
        (a face too small to judge never decides it). `result.p_fake` is the highest of any face."""
        face = self.headline_face
        return face.result.p_fake if face is not None and face.judged else None

    @property
    def checked(self) -> bool:
        """Whether the stability check ran (then every face's verdict is its final one)."""
        return self.rules is not None

    @property
    def checks(self) -> list:
        """Each face's stability check (None where it did not run), in face order."""
        return [f.stability for f in self.faces]

    @property
    def verdicts(self) -> list[str]:
        return [f.verdict for f in self.faces]

    def by_suspicion(self) -> list[FaceAnalysis]:
        """Faces in the order the page explains them and the report leads with them: judged faces first,
        each group by P(fake), highest first (a face too small to judge never leads while one was judged)."""
        return sorted(self.faces, key=lambda f: (not f.judged, -f.result.p_fake, f.index))

    @property
    def headline_face(self) -> FaceAnalysis | None:
        """The most suspicious face, as the page names it and the report's summary leads with it; None without faces."""
        faces = self.by_suspicion()
        return faces[0] if faces else None

    @property
    def notes(self) -> list[str]:
        return self.result.notes

    def to_dict(self, file: str | None = None) -> dict:
        """The CLI's JSON object for this picture (`predict --json`)."""
        out = {
            "file": file if file is not None else self.name,
            "kind": "image",
            "width": self.image.width,
            "height": self.image.height,
            "faces": [f.to_dict() for f in self.faces],
            # As for a video: the headline (judged) face decides; the highest score of any face keeps its own name.
            "p_fake": self.p_fake,
            # The headline face's final verdict, the one the page and the report lead with (None without faces).
            "verdict": None if self.headline_face is None else self.headline_face.verdict,
            "verdict_words": None if self.headline_face is None else display.verdict_words(self.headline_face.verdict),
            "headline_face": None if self.p_fake is None else self.headline_face.index + 1,
            "p_fake_max_all_faces": self.result.p_fake,
            "notes": self.result.notes,
            "what_this_means": self.what_this_means,
            "seconds": round(self.result.seconds, 3),
        }
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out


def analyze_image(detector, image: Image.Image, name: str, sha256: str = "", stability: bool = True, rules=None) -> ImageAnalysis:
    """Find and score every face of a decoded picture; with `stability`, also the per-face stability
    check (detector.stability.analyze_checked). Verdicts and the too-small flag follow `rules` (the
    checkpoint's abstain.json when None; a batch scan loads them once and passes them)."""
    from detector.stability import AbstainRules, analyze_checked, face_size, too_small

    config = detector.config
    rules = rules if rules is not None else AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    if stability:
        checked = analyze_checked(detector, image, rules)
        result, checks = checked.result, list(checked.checks)
    else:
        result = detector.analyze(image)
        checks = [None] * len(result.faces)
    faces = [
        FaceAnalysis(
            result=face,
            verdict=check.verdict if check is not None else display.verdict_from_label(face.label, tuple(config.labels)),
            explains=config.explained_class(face.p_fake),
            stability=check,
            too_small=too_small(face_size(face.face), rules),
        )
        for face, check in zip(result.faces, checks)
    ]
    return ImageAnalysis(name, sha256, model_name(config), image, result, faces,
                         display.what_this_means(config.training), rules if stability else None, config)


def analyze_image_bytes(detector, data: bytes, name: str, stability: bool = True, rules=None,
                        provenance: bool = False, sha256: str | None = None) -> ImageAnalysis:
    """An uploaded picture, in memory: type check, decode, analyse; with `provenance`, also what the
    file says about itself (detector.provenance, read after decoding accepted the file). InputError for
    a bad file. `sha256`: the bytes' hash when the caller has it already (a batch scan hashes to resume)."""
    file_kind(name, ("image",))
    image = decode_image(data, name)
    analysis = analyze_image(detector, image, name, sha256 or hashlib.sha256(data).hexdigest(), stability, rules)
    analysis.size_bytes, analysis.exif = len(data), exif_summary(data)
    if provenance:
        analysis.provenance = read_provenance(data, name)
    return analysis


def model_name(config) -> str:
    """'name version' of a checkpoint, as every surface cites it."""
    return f"{config.name} {config.version}"


# ---- video -----------------------------------------------------------------------------------------
@dataclass
class FrameFace:
    """One of a track's most suspicious frames: the face to explain and the class its map explains."""

    time: float  # seconds into the video
    face: FaceResult
    explains: int  # the predicted class of this frame's face (1 fake, 0 real)


@dataclass
class TrackAnalysis:
    """One person over the sampled frames: the track, its verdict (with reasons) and its frames' P(fake)."""

    track: Track
    verdict: str  # a display.* verdict code: detector.stability.track_verdict on the track's score
    reasons: list[str]
    suspicious: list[FrameFace]  # the most suspicious frames, highest P(fake) first: the ones to explain
    stability: object | None = None  # detector.stability.TrackStability when the check ran
    label: str = ""  # the model's band on the track's score: 'real', 'fake' or 'uncertain' (ModelConfig.verdict)

    @property
    def id(self) -> int:
        return self.track.id

    @property
    def too_small(self) -> bool:
        """Its median face is under the model's size limit (detector.stability.track_verdict)."""
        return self.verdict == display.TOO_SMALL

    @property
    def fallback(self) -> bool:
        """Some of its frames had no face detected and were classified whole."""
        return any(f.face.fallback for f in self.track.faces)

    @property
    def headline(self) -> FrameFace | None:
        """Its most suspicious frame (the track's thumbnail, box and time in a batch scan's row)."""
        return self.suspicious[0] if self.suspicious else None

    @property
    def p_fake(self) -> float:
        """The track's score: the confident-frames rule over its frames (detector.video)."""
        return self.track.score

    @property
    def p_fake_mean(self) -> float:
        return self.track.mean

    @property
    def p_fake_per_frame(self) -> list[float]:
        return [float(p) for p in self.track.p_fake_per_frame]

    @property
    def low(self) -> float:
        return min(self.p_fake_per_frame)

    @property
    def high(self) -> float:
        return max(self.p_fake_per_frame)

    @property
    def judged(self) -> bool:
        return self.verdict not in display.NOT_JUDGED

    def words(self) -> str:
        return display.verdict_words(self.verdict)

    def line(self, digits: int = 2) -> str:
        """Verdict words with P(fake) beside them; a track not judged gives its reasons, never a number."""
        if not self.judged:
            return f"{self.words()} ({'; '.join(self.reasons)})"
        return display.verdict_line(self.verdict, self.p_fake, digits=digits)


@dataclass
class VideoAnalysis:
    """Everything shown about one video: its sampled frames, one TrackAnalysis per person (in track
    order), the rules the verdicts were judged by, and the file's provenance when read."""

    name: str
    sha256: str  # "" when analysed from a path without reading the file whole
    model: str
    result: VideoResult
    tracks: list[TrackAnalysis]
    what_this_means: str
    rules: object  # detector.stability.AbstainRules
    config: object  # detector.config.ModelConfig: the JSON's per-track 'label' is its verdict band
    provenance: Provenance | None = None
    size_bytes: int = 0
    extra: dict = field(default_factory=dict)
    checked: bool = False  # the tracks' stability check ran (a track too small to judge is never re-scored)

    @property
    def frames(self) -> list[SampledFrame]:
        return self.result.frames

    @property
    def notes(self) -> list[str]:
        return self.result.notes

    @property
    def worst(self) -> TrackAnalysis | None:
        """The video's verdict: its most suspicious track that was judged (a track too small to judge is
        the headline only when no track was judged, as for a picture's faces), None without faces."""
        lead = headline_track([t.p_fake for t in self.tracks], [t.verdict for t in self.tracks])
        return None if lead is None else self.tracks[lead]

    @property
    def p_fake(self) -> float | None:
        """The video's P(fake): the headline track's score; None when no track was judged (all too small)."""
        return headline_p_fake([t.p_fake for t in self.tracks], [t.verdict for t in self.tracks])

    def by_suspicion(self) -> list[TrackAnalysis]:
        """Tracks, most suspicious first (the order the page and the report show them)."""
        return sorted(self.tracks, key=lambda t: -t.p_fake)

    def frame_times(self, track: TrackAnalysis) -> list[float]:
        return [self.result.frames[i].time for i in track.track.frames]

    def overview_frame(self) -> SampledFrame | None:
        """The frame where most tracks are visible (the report's overview picture)."""
        tracks = self.result.tracks
        return max(self.result.frames, key=lambda f: sum(f.index in t.frames for t in tracks), default=None)

    def to_dict(self, file: str | None = None) -> dict:
        """The CLI's JSON object for this video (`predict --json`)."""
        from detector.video import video_to_dict

        checks = {t.id: t.stability for t in self.tracks}
        out = {"file": file if file is not None else self.name, "kind": "video",
               **video_to_dict(self.result, self.config, self.rules, checks), "what_this_means": self.what_this_means}
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out


def analyze_video_file(
    detector,
    source: bytes | str | Path,
    name: str,
    sample_fps: float = DEFAULT_SAMPLE_FPS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    provenance: bool = False,
    rules=None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stability: bool = True,
    sha256: str | None = None,
) -> VideoAnalysis:
    """A video from bytes (an upload, kept in memory) or a path: type check, sample, find, score and
    track faces, and judge each track (by `rules` or the checkpoint's abstain.json); with `provenance`,
    also what the file says about itself (read after the analysis accepted the file, so the size
    limits have been applied); with `stability`, each track's deciding frames are re-scored under the
    11 changes (detector.stability.check_tracks). InputError for a bad file; `should_stop` ends the
    sampling early. `sha256`: the file's hash when the caller has it already (a batch scan)."""
    from detector.stability import AbstainRules, check_tracks

    file_kind(name, ("video",))
    result = analyze_video(detector, source, name, sample_fps=sample_fps, max_frames=max_frames,
                           progress=progress, should_stop=should_stop, keep_windows=stability)
    config = detector.config
    rules = rules if rules is not None else AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    checks = check_tracks(detector, result, rules) if stability else {}
    for frame in result.frames:  # the analysis is kept in a browser session: the windows' memory goes now
        frame.windows = []
    # The CLI analyses from a path without holding the video; it reads the file whole only for provenance.
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes() if provenance else None
    digest = sha256 or (hashlib.sha256(data).hexdigest() if data is not None else "")
    analysis = VideoAnalysis(
        name, digest, model_name(config), result,
        judge_tracks(result, config, rules, checks), display.what_this_means(config.training, video=True), rules, config,
        size_bytes=len(data) if data is not None else Path(source).stat().st_size, checked=stability,
    )
    if provenance:
        analysis.provenance = read_provenance(data, name)
    return analysis


def judge_tracks(result: VideoResult, config, rules, checks: dict | None = None, explained_frames: int = 3) -> list[TrackAnalysis]:
    """Each track's verdict and reasons (with its stability check from `checks`, track id -> check, where
    it ran), and its `explained_frames` most suspicious frames with the class to explain."""
    from detector.stability import track_verdict

    tracks, checks = [], checks or {}
    for track in result.tracks:
        verdict, reasons = track_verdict(track, config, rules, checks.get(track.id))
        suspicious = [FrameFace(result.frames[track.frames[i]].time, track.faces[i], config.explained_class(track.faces[i].p_fake))
                      for i in track.most_suspicious(explained_frames)]
        tracks.append(TrackAnalysis(track, verdict, reasons, suspicious, checks.get(track.id), config.verdict(track.score)))
    return tracks
