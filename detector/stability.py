"""Know when not to judge: a stability check per face, and faces too small, blurred or unclear to judge.

`check_faces(detector, image, faces)` re-scores every face under realistic changes a picture goes
through on its way to a fact-checker (JPEG 90/70/50, rescale 0.5x/0.75x/1.5x, the crop shifted by
±8 %, a tighter and a looser crop, a horizontal flip), all faces' copies in ONE batched forward
pass, and returns per face the spread of P(fake), whether the verdict flips, and the final verdict.
With a staged rule (AbstainRules.first_stage, measured per model) that pass holds only the copies most
likely to flip a verdict; the others are scored, in a second pass, only for a face whose verdict one of
those already flips (AbstainRules.rest_needed), and a face's check says how many copies were scored. A copy
whose model input is pixel-identical to the face's own crop (a face filling its picture: the re-framed squares
clamp to the picture's own) takes the face's score instead of a forward pass (reused_inputs). Verdicts:
- too small / too blurred / not clearly a face  -> not judged (no verdict colour);
- a verdict that flips (more than `max_disagree` copies on the other side of the threshold)
  -> "can't tell";
- otherwise the model's own verdict ('uncertain' is "can't tell" already).
The limits come from `abstain.json` beside the checkpoint, written by `scripts/measure_abstain.py`
from measurements on that model (AUC vs face size, vs blur; validation data for the flip rule),
so a new model gets its own limits; without the file only the stability rule applies.
"""

from __future__ import annotations

import io
import json
import math  # floor: a 63.6 px face must not read '64 px, below the 64 px'
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from detector import display
from detector.faces import Face, crop_face, square_crop_box
from detector.threads import cpu_threads_now

RULES_FILE = "abstain.json"
SHIFT = 0.08  # crop shifted by 8 % of its side
TIGHT_MARGIN, LOOSE_MARGIN = 0.15, 0.5  # vs the crop policy's 0.3
FACES_PER_PASS = 4  # 44 copies per forward pass at most: a group photo must not take gigabytes
# Videos: at most this many of a track's deciding frames are re-scored (11 copies each), so a clip's
# check costs at most TRACK_FRAMES x 11 forward passes per person; a face's window is kept at most
# WINDOW_MAX_SIDE px a side (the crop inside it stays well above the model's 224 px).
TRACK_FRAMES = 8
WINDOW_MAX_SIDE = 768

Box = tuple[int, int, int, int]


def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(region: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        region.save(buffer, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def _rescale(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(region: Image.Image) -> Image.Image:
        side = max(1, round(region.width * factor)), max(1, round(region.height * factor))
        return region.resize(side, Image.BICUBIC, reducing_gap=3.0)

    return apply


def _flip(region: Image.Image) -> Image.Image:
    return region.transpose(Image.FLIP_LEFT_RIGHT)


# Changes of the pixels inside the crop policy's box: name -> function of the cut-out region.
PIXEL_CHANGES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg90": _jpeg(90),
    "jpeg70": _jpeg(70),
    "jpeg50": _jpeg(50),
    "scale0.5": _rescale(0.5),
    "scale0.75": _rescale(0.75),
    "scale1.5": _rescale(1.5),
    "flip": _flip,
}
FRAMING_CHANGES = ("shift+8%", "shift-8%", "tighter", "looser")
PERTURBATIONS = tuple(PIXEL_CHANGES) + FRAMING_CHANGES


def _slide_inside(left: float, top: float, side: int, size: tuple[int, int]) -> Box:
    width, height = size
    left = int(round(min(max(left, 0), width - side)))
    top = int(round(min(max(top, 0), height - side)))
    return left, top, left + side, top + side


def framing_box(face: Face, name: str, image_size: tuple[int, int], margin: float) -> Box:
    """The crop box of a re-framed copy: shifted diagonally by ±8 %, or a tighter / looser square."""
    if name == "tighter":
        return square_crop_box(face.box, image_size, TIGHT_MARGIN if not face.fallback else -0.15)
    if name == "looser":
        return square_crop_box(face.box, image_size, LOOSE_MARGIN if not face.fallback else 0.0)
    left, top, right, _ = face.crop_box
    side = right - left
    step = SHIFT * side * (1 if name == "shift+8%" else -1)
    if face.fallback:  # the whole picture is the crop: shift by cutting 8 % off one corner instead
        side = max(1, round(side * (1 - SHIFT)))
        step = 0 if name == "shift-8%" else SHIFT * (right - left)
    return _slide_inside(left + step, top + step, side, image_size)


@dataclass
class FaceWindow:
    """The pixels one face's changed copies are cut from: the part of the picture that holds its crop
    box and every re-framed box (computed on the whole picture, so boxes slid inside its edges stay
    where they were), with those boxes in window coordinates. A video keeps one per face instead of
    its frames."""

    image: Image.Image
    crop_box: Box
    framing: tuple[Box, ...]  # FRAMING_CHANGES order
    scaled: bool = False  # shrunk (videos): its pixels are no longer the picture's own


def face_window(image: Image.Image, face: Face, margin: float, max_side: int | None = None) -> FaceWindow:
    """The window of `image` a face's copies need; shrunk to `max_side` when larger (videos only: a
    4K close-up would otherwise keep megabytes per sampled frame; the copies then start from a
    smaller, still well above model-size, version of the face)."""
    boxes = [face.crop_box] + [framing_box(face, name, image.size, margin) for name in FRAMING_CHANGES]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    window = image.crop((left, top, right, bottom))
    scale = 1.0
    if max_side and max(window.size) > max_side:
        scale = max_side / max(window.size)
        window = window.resize((max(1, round(window.width * scale)), max(1, round(window.height * scale))),
                               Image.BICUBIC, reducing_gap=3.0)
    moved = [tuple(round((v - o) * scale) for v, o in zip(b, (left, top, left, top))) for b in boxes]
    return FaceWindow(window, moved[0], tuple(moved[1:]), scale != 1.0)


_builders: dict[int, ThreadPoolExecutor] = {}
_builders_lock = threading.Lock()


def _build(jobs: list[Callable[[], Image.Image]]) -> list[Image.Image]:
    """Run the copy-building jobs, in order, on as many threads as cores are free now (Pillow releases
    the GIL while it resizes and codes JPEG): one core next to a busy process, both on an idle 2-core CPU."""
    workers = cpu_threads_now()
    if workers < 2:
        return [job() for job in jobs]
    with _builders_lock:
        if workers not in _builders:
            _builders[workers] = ThreadPoolExecutor(workers, thread_name_prefix="dfx-copies")
    return list(_builders[workers].map(lambda job: job(), jobs))


def window_builders(window: FaceWindow, size: int, names: Sequence[str] = PERTURBATIONS) -> list[Callable[[], Image.Image]]:
    """Functions that build the model inputs of one face's changed copies under `names`, in that order."""
    region = window.image.crop(window.crop_box)
    jobs = {name: (lambda change=change: change(region).resize((size, size), Image.BICUBIC, reducing_gap=3.0))
            for name, change in PIXEL_CHANGES.items()}
    jobs |= {name: (lambda box=box: crop_face(window.image, box, size)) for name, box in zip(FRAMING_CHANGES, window.framing)}
    return [jobs[name] for name in names]


def window_crops(window: FaceWindow, size: int, names: Sequence[str] = PERTURBATIONS) -> list[Image.Image]:
    """The model inputs of one face's changed copies under `names` (all 11 by default), in that order;
    a copy not asked for is not built (the staged check builds its second stage only when needed)."""
    return _build(window_builders(window, size, names))


FACE_CROP = "face"  # reused_inputs: the copy's input is the face's own crop


def reused_inputs(window: FaceWindow, names: Sequence[str]) -> dict[str, str]:
    """The re-framed copies among `names` whose model input is pixel-identical to one already there: name -> the
    input it equals, FACE_CROP (the face's own crop) or an earlier copy's name. Such a copy needs no forward pass of
    its own: the same box cut out of the same pixels and resized the same way is the same input, so it gets the
    same score. This happens when a face fills the picture (about a third of the validation faces, DFDC's face
    crops among them): the shifted, tighter and looser squares slide or shrink into the picture's own square. A
    shrunk window (videos) is not the picture's pixels, so there only copies are compared with each other."""
    seen: dict[Box, str] = {} if window.scaled else {window.crop_box: FACE_CROP}
    same = {}
    for name, box in zip(FRAMING_CHANGES, window.framing):
        if name not in names:
            continue
        if box in seen:
            same[name] = seen[box]
        else:
            seen[box] = name
    return same


def perturbed_crops(image: Image.Image, face: Face, size: int, margin: float,
                    names: Sequence[str] = PERTURBATIONS) -> list[Image.Image]:
    """The model inputs of one face's perturbed copies under `names` (all 11 by default), in that order."""
    return window_crops(face_window(image, face, margin), size, names)


def face_size(face: Face) -> float:
    """A face's size in the picture: the longest side of its detector box, in pixels."""
    x1, y1, x2, y2 = face.box
    return float(max(x2 - x1, y2 - y1))


def sharpness(crop: Image.Image) -> float:
    """Variance of the Laplacian of the model's input (grey levels 0-255): low means blurred."""
    grey = np.asarray(crop.convert("L"), dtype=np.float32)
    laplace = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1]
    return float(laplace.var())


def model_id(folder: Path) -> str:
    """'name version' from a checkpoint folder's config.json ('' when unreadable)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return f"{config['name']} {config['version']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def model_input(folder: Path) -> str:
    """What a face goes through before the model (backbone, input size, crop margin); '' when unreadable."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return f"{config['architecture']} {config['input_size']} px, crop margin {config.get('crop_margin', 0.3)}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@dataclass
class AbstainRules:
    """When not to judge a face; measured per model (see scripts/measure_abstain.py)."""

    min_face_px: float | None = None  # faces smaller than this (box's longest side) are too small
    min_sharpness: float | None = None  # below this Laplacian variance a face is too blurred
    min_face_prob: float | None = None  # below this detector confidence it is not clearly a face
    max_disagree: int = 0  # more perturbed copies than this across the threshold: "can't tell"
    # A video track's tolerance (changes under which its score may cross the threshold), chosen on composed
    # validation clips; None: not measured, the photo's max_disagree applies (video_tolerance()).
    max_disagree_video: int | None = None
    # The staged check (issue 16's cost): these copies are scored for every face, the others only for a face whose
    # verdict they could still change (AbstainRules.rest_needed). None: all 11 in one pass. Chosen on validation records by
    # benchmarks/staged_copies.py; scripts/measure_abstain.py writes it into abstain.json (the model folder's own).
    first_stage: list[str] | None = None
    measured: bool = False
    source: str = "not measured for this model: only the stability rule applies"
    model: str = ""  # 'name version' of the checkpoint it was measured on
    model_input: str = ""  # backbone, input size and crop margin of that checkpoint
    evidence: dict = field(default_factory=dict)

    @classmethod
    def for_checkpoint(cls, folder: str | Path | None) -> AbstainRules:
        """The folder's measured limits; none when missing or measured on another model version."""
        path = Path(folder) / RULES_FILE if folder else None
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        rules = cls(**{k: data[k] for k in asdict(cls()) if k in data})
        current = model_id(Path(folder))
        if rules.model == current:
            return rules
        # A new model shipped into the same folder: its flip tolerance and floors are not known. The size
        # limit is what the input pipeline can resolve, so it is kept when the backbone, input size and
        # crop are the same (a 20-px face must not get a verdict in the meantime); nothing else is.
        redo = "until scripts/measure_abstain.py is re-run for it"
        if rules.min_face_px is not None and rules.model_input and rules.model_input == model_input(Path(folder)):
            return cls(min_face_px=rules.min_face_px, model=rules.model, model_input=rules.model_input,
                       source=f"the size limit was measured on {rules.model} (same {rules.model_input}), not on {current}; "
                              f"its other limits are not known {redo}")
        return cls(source=f"the limits in {RULES_FILE} were measured on {rules.model or 'another model'}, not {current}: "
                          f"only the stability rule applies {redo}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def stages(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the copies scored for every face, the copies scored only when rest_needed), each in PERTURBATIONS
        order. Without a first stage (or one naming no known copy) all 11 are scored at once."""
        first = tuple(name for name in PERTURBATIONS if name in (self.first_stage or ()))
        if not first:
            return PERTURBATIONS, ()
        return first, tuple(name for name in PERTURBATIONS if name not in first)

    def rest_needed(self, verdict: str, flipped: Sequence[str]) -> bool:
        """Whether a face's second stage could still change its final verdict: judged on its first-stage copies it
        keeps a verdict (not in the band, not too small, blurred or unclear, not already "can't tell" from too many
        flips) that at least one of them disagrees with. A face none of whose first copies flips stops there: that
        is the one approximation of the staged check, measured by benchmarks/staged_copies.py."""
        return verdict in (display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND) and len(flipped) > 0

    def stages_words(self) -> str:
        """The staged check for people, said after "... copies land on the other side of the threshold" (summary);
        '' when all 11 copies are always scored."""
        first, rest = self.stages()
        if not rest:
            return ""
        return f"{len(rest)} of them scored only when one of the other {len(first)} does"

    def video_tolerance(self) -> tuple[int, str]:
        """(how many of the 11 changes may flip a video track's verdict, where that number comes from): the
        one measured on validation clips when abstain.json has it, else the photo's."""
        if self.max_disagree_video is not None:
            return self.max_disagree_video, "measured on validation clips"
        return self.max_disagree, "the photo's tolerance; none was measured on videos for this model"

    def video_tolerance_words(self) -> str:
        """'more than 3 of the 11 changes (the photo's tolerance; ...)': the video rule for people."""
        tolerance, source = self.video_tolerance()
        return f"{_how_many(tolerance)} of the {len(PERTURBATIONS)} changes ({source})"

    def summary(self) -> str:
        """The limits in one or two sentences for people (pages, report)."""
        if not self.measured:
            size = f"faces under {self.min_face_px:g} px are *too small to judge*; " if self.min_face_px is not None else ""
            return (f"Limits not measured for this model ({self.source}): {size}a verdict that flips under any of the "
                    f"{len(PERTURBATIONS)} changes is *can't tell*.")
        parts = []
        if self.min_face_px is not None:
            parts.append(f"faces under {self.min_face_px:g} px are *too small to judge*")
        if self.min_sharpness is not None:
            parts.append(f"faces blurred below sharpness {self.min_sharpness:.0f} are *too blurred to judge*")
        if self.min_face_prob is not None:
            parts.append(f"boxes the face finder is less than {self.min_face_prob:g} sure of are not judged")
        staged = f" ({self.stages_words()})" if self.stages_words() else ""
        parts.append(f"a face is *can't tell* when {_how_many(self.max_disagree)} of its {len(PERTURBATIONS)} changed copies "
                     f"land on the other side of the threshold{staged}")
        if self.max_disagree_video is not None and self.max_disagree_video != self.max_disagree:
            parts.append(f"a video track when its verdict flips under {_how_many(self.max_disagree_video)} of the changes")
        return f"Limits measured for this model: {'; '.join(parts)}."


def _how_many(tolerance: int) -> str:
    """'more than N', or 'any' for a tolerance of 0 ('more than 0' reads like a typo)."""
    return "any" if tolerance == 0 else f"more than {tolerance}"


class ChangedCopiesRange:
    """The range of P(fake) over a score and its changed copies' scores: the one rule for a face's and a
    video track's `low`/`high` (the subclasses are dataclasses with `p_fake` and `p_fake_by_change`)."""

    p_fake: float
    p_fake_by_change: dict[str, float]

    @property
    def low(self) -> float:
        return min([self.p_fake, *self.p_fake_by_change.values()])

    @property
    def high(self) -> float:
        return max([self.p_fake, *self.p_fake_by_change.values()])


@dataclass
class FaceStability(ChangedCopiesRange):
    """One face's stability check and final verdict."""

    p_fake: float
    p_fake_by_change: dict[str, float]  # perturbation name -> P(fake) of the face's copy under it
    flipped: list[str]  # perturbations whose copy lies on the other side of the threshold
    face_px: float
    sharpness: float
    face_prob: float
    verdict: str  # a display.* verdict code
    reasons: list[str]

    @property
    def judged(self) -> bool:
        return self.verdict not in display.NOT_JUDGED

    def words(self) -> str:
        return display.verdict_words(self.verdict)

    @property
    def copies_scored(self) -> int:
        """How many of the 11 changed copies were scored (fewer when the staged check stopped after its first stage)."""
        return len(self.p_fake_by_change)

    @property
    def copies_total(self) -> int:
        return len(PERTURBATIONS)

    @property
    def stopped_early(self) -> bool:
        """Whether the staged check stopped after its first stage (fewer than all 11 copies scored)."""
        return self.copies_scored < self.copies_total

    def copies_note(self) -> str:
        """'' when all 11 copies were scored; else how many were, and why not the rest (said wherever the range is
        shown, so a face whose check stopped early never reads as checked under all 11 changes)."""
        if not self.stopped_early:
            return ""
        total = self.copies_total
        return (f"{self.copies_scored} of {total} changed copies scored: the other {total - self.copies_scored} only when one "
                f"of these flips a '{display.verdict_words(display.LIKELY_MANIPULATED)}' or "
                f"'{display.verdict_words(display.NO_SIGN_FOUND)}' verdict")

    def range_cell(self) -> str:
        """The range of P(fake) under the changes for a table cell, with how many copies it spans when not all 11
        ('–' for a face not judged)."""
        if not self.judged:
            return "–"
        spread = display.format_range(self.low, self.high)
        return f"{spread} ({self.copies_scored} of {self.copies_total})" if self.stopped_early else spread

    def line(self) -> str:
        """Verdict words with P(fake) and its range beside them (no range for a face not judged)."""
        if not self.judged:
            return f"{self.words()} ({'; '.join(self.reasons)})"
        line = display.verdict_line(self.verdict, self.p_fake, (self.low, self.high) if self.p_fake_by_change else None)
        return f"{line} · {self.copies_scored} of {self.copies_total} copies scored" if self.stopped_early else line

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "verdict_words": self.words(),
            "reasons": self.reasons,
            "p_fake_low": display.round_probability(self.low),
            "p_fake_high": display.round_probability(self.high),
            "flips": bool(self.flipped),
            "flipped_under": self.flipped,
            "perturbations": {k: display.round_probability(v) for k, v in self.p_fake_by_change.items()},
            "copies_scored": self.copies_scored,
            "copies_total": self.copies_total,
            "face_px": round(self.face_px, 1),
            "sharpness": round(self.sharpness, 1),
        }


def too_small(face_px: float, rules: AbstainRules) -> bool:
    """Whether a face of `face_px` (its box's longest side, face_size) is too small for this model to judge:
    the one size rule of a picture's face, a video's track (its median face) and a batch scan's row."""
    return rules.min_face_px is not None and face_px < rules.min_face_px


def judge(
    p_fake: float,
    label: str,
    p_fake_by_change: dict[str, float],
    face_px: float,
    sharp: float,
    face_prob: float,
    fallback: bool,
    threshold: float,
    rules: AbstainRules,
    labels: tuple[str, str] = ("real", "fake"),
) -> tuple[str, list[str], list[str]]:
    """(verdict code, reasons, flipped perturbations) for one face: the whole rule, no I/O."""
    side = p_fake >= threshold
    flipped = [name for name, p in p_fake_by_change.items() if (p >= threshold) != side]
    if too_small(face_px, rules):
        return display.TOO_SMALL, [f"face {math.floor(face_px)} px, below the {rules.min_face_px:.0f} px this model needs"], flipped
    if rules.min_sharpness is not None and sharp < rules.min_sharpness:
        return display.TOO_BLURRED, [f"sharpness {sharp:.0f}, below the measured floor {rules.min_sharpness:.0f}"], flipped
    if rules.min_face_prob is not None and not fallback and face_prob < rules.min_face_prob:
        return display.UNCLEAR_FACE, [f"face detector confidence {face_prob:.3f}, below the floor {rules.min_face_prob:.3f}"], flipped
    verdict = display.verdict_from_label(label, labels)
    if verdict != display.CANT_TELL and len(flipped) > rules.max_disagree:
        return display.CANT_TELL, [f"the verdict flips under {', '.join(flipped)}"], flipped
    reasons = ["P(fake) is in the band around the threshold"] if verdict == display.CANT_TELL else []
    return verdict, reasons, flipped


def copies_logits(detector, crops: list[Image.Image]) -> np.ndarray:
    """Raw logits of changed copies: Detector.classify_copies (the 8-bit graph when the model has one), or
    classify for a detector without it (the tests' planted ones)."""
    return getattr(detector, "classify_copies", detector.classify)(crops)


def all_copies(image: Image.Image, faces: Sequence[Face], size: int, margin: float,
               names: Sequence[str] = PERTURBATIONS) -> list[Image.Image]:
    """The model inputs of the changed copies `names` of every face, face after face, each in that order."""
    return [c for face in faces for c in perturbed_crops(image, face, size, margin, names)]


@dataclass
class CopyPlan:
    """The changed copies `names` of some faces as the check scores them: each distinct model input once.

    `crops` are the inputs to score (built, or functions that build them: plan_copies(as_built=True), for a detector
    whose classify() builds them while it scores others);
    `sources[i][j]` says where face i's copy names[j] gets its score: an index into `crops`, or -1 for the face's
    own score (reused_inputs: a pixel-identical input)."""

    names: tuple[str, ...]
    crops: list[Image.Image | Callable[[], Image.Image]]
    sources: list[list[int]]

    def p_fake(self, crops_p_fake: np.ndarray, faces_p_fake: Sequence[float]) -> np.ndarray:
        """P(fake) of every face's copies in all_copies order, from the scores of `crops` and of the faces."""
        scores = np.asarray(crops_p_fake, dtype=float)
        return np.array([faces_p_fake[i] if k < 0 else scores[k] for i, row in enumerate(self.sources) for k in row])


def plan_copies(image: Image.Image, faces: Sequence[Face], size: int, margin: float, names: Sequence[str],
                reuse_faces: bool = True, as_built: bool = False) -> CopyPlan:
    """The copies `names` of every face with each pixel-identical input built and scored once (reused_inputs);
    `reuse_faces=False` when copies and faces are scored by different graphs (an int8 copies scorer): then a copy
    never takes its face's score. `as_built`: the plan holds functions that build the copies, for a scorer that
    builds them while it scores others (Detector.scores_as_built), instead of the copies built here."""
    crops, sources = [], []
    for face in faces:
        window = face_window(image, face, margin)
        same = reused_inputs(window, names)
        if not reuse_faces:
            same = {name: to for name, to in same.items() if to != FACE_CROP}
        wanted = [n for n in names if n not in same]
        built = iter(window_builders(window, size, wanted) if as_built else window_crops(window, size, wanted))
        index: dict[str, int] = {FACE_CROP: -1}
        for name in names:
            if name not in same:
                index[name] = len(crops)
                crops.append(next(built))
        sources.append([index[same.get(name, name)] for name in names])
    return CopyPlan(tuple(names), crops, sources)


def reuse_face_scores(detector) -> bool:
    """Whether a copy identical to its face's crop may take the face's score: when copies are scored like faces."""
    return getattr(detector, "copies_runtime", None) is None


def built_while_scored(detector) -> bool:
    """Whether the detector builds copies while it scores others (Detector.scores_as_built; not the tests' planted
    detectors): the same copies and logits, without every core waiting until all copies are built."""
    return bool(getattr(detector, "scores_as_built", lambda: False)())


def _score_copies(detector, image: Image.Image, faces: Sequence, names: Sequence[str]) -> np.ndarray:
    """P(fake) of the copies `names` of every face (FaceResult objects; all_copies order), each distinct input scored
    once (plan_copies), in calls of at most FACES_PER_PASS faces' worth of copies so a crowd's memory stays flat."""
    config = detector.config
    plan = plan_copies(image, [f.face for f in faces], config.input_size, config.crop_margin, names, reuse_face_scores(detector),
                       built_while_scored(detector))
    step = max(1, len(names)) * FACES_PER_PASS
    parts = [detector.p_fake_from_logits(copies_logits(detector, plan.crops[i:i + step])) for i in range(0, len(plan.crops), step)]
    return plan.p_fake(np.concatenate(parts) if parts else np.zeros(0), [f.p_fake for f in faces])


def _by_name(names: Sequence[str], probs: np.ndarray, faces: int) -> list[dict[str, float]]:
    count = len(names)
    return [{name: float(p) for name, p in zip(names, probs[i * count:(i + 1) * count])} for i in range(faces)]


def check_faces(detector, image: Image.Image, faces: Sequence, rules: AbstainRules | None = None,
                scored: np.ndarray | None = None) -> list[FaceStability]:
    """Stability check and final verdict for every face of one picture.

    All faces' first-stage copies (rules.stages(); all 11 without a staged rule) are scored in one batched
    forward pass; the other copies only of the faces rules.rest_needed() picks, in a second pass. `faces` are the
    picture's FaceResult objects (face, crop, p_fake, label) from Detector.analyze; `scored`, the P(fake) of
    their first-stage copies (all_copies order) when already scored (analyze_checked)."""
    config = detector.config
    rules = rules if rules is not None else AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    first, rest = rules.stages()
    if scored is None or len(scored) != len(first) * len(faces):
        scored = _score_copies(detector, image, faces, first)
    copies = _by_name(first, np.asarray(scored), len(faces))
    measures = [(face_size(result.face), sharpness(result.crop)) for result in faces]

    def judged(i: int) -> tuple[str, list[str], list[str]]:
        result, (size, sharp) = faces[i], measures[i]
        return judge(result.p_fake, result.label, copies[i], size, sharp, result.face.prob, result.face.fallback,
                     config.threshold, rules, tuple(config.labels))

    verdicts = [judged(i) for i in range(len(faces))]
    pending = [i for i, (verdict, _, flipped) in enumerate(verdicts) if rest and rules.rest_needed(verdict, flipped)]
    if pending:
        more = _by_name(rest, _score_copies(detector, image, [faces[i] for i in pending], rest), len(pending))
        for i, found in zip(pending, more):
            merged = {**copies[i], **found}
            copies[i] = {name: merged[name] for name in PERTURBATIONS}  # back in PERTURBATIONS order
            verdicts[i] = judged(i)
    return [FaceStability(result.p_fake, found, flipped, size, sharp, result.face.prob, verdict, reasons)
            for result, found, (size, sharp), (verdict, reasons, flipped) in zip(faces, copies, measures, verdicts)]


@dataclass
class CheckedImage:
    """A picture's analysis with each face's stability check and final verdict (same order)."""

    result: object  # detector.inference.ImageResult
    checks: list[FaceStability]
    rules: AbstainRules

    @property
    def most_suspicious(self) -> int | None:
        """Index of the judged face with the highest P(fake) (a face too small to judge is never the
        headline while another face was judged), or None without faces."""
        faces = self.result.faces
        if not faces:
            return None
        return max(range(len(faces)), key=lambda i: (self.checks[i].judged, faces[i].p_fake))


def analyze_checked(detector, image: Image.Image, rules: AbstainRules | None = None) -> CheckedImage:
    """Detector.analyze plus the stability check: what a page, the CLI and a report show about a picture.

    A picture of up to FACES_PER_PASS faces has its faces' crops and their first-stage copies (all 11
    without a staged rule) scored in one classify call (the copies fill the faces' passes: no pass of one
    crop); a crowd's copies are scored by check_faces in calls of bounded size, and a second stage, when a
    face needs one, in a call of its own."""
    rules = rules if rules is not None else AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    config = detector.config

    first, _ = rules.stages()
    plans: list[CopyPlan] = []

    def copies(picture: Image.Image, faces: list[Face]) -> list[Image.Image] | None:
        if len(faces) > FACES_PER_PASS:
            return None
        plans.append(plan_copies(picture, faces, config.input_size, config.crop_margin, first, reuse_face_scores(detector),
                                 built_while_scored(detector)))
        return plans[0].crops

    result = detector.analyze(image, extra=copies)
    scored = None
    if plans and result.extra_p_fake is not None:
        scored = plans[0].p_fake(result.extra_p_fake, [f.p_fake for f in result.faces])
    return CheckedImage(result, check_faces(detector, image, result.faces, rules, scored), rules)


def evidence_tables(rules: AbstainRules) -> dict[str, list[dict]]:
    """The measurements behind a model's limits, as rows for a table (empty when not measured).

    'size': mean AUC at each face size (validation; models measured before session 16: test); 'selective': for validation and test pictures and their
    screenshot copies, the share of pictures given a verdict and the accuracy of those verdicts,
    before (the model's uncertain band only) and after (band + size/blur limits + stability check)."""
    evidence = rules.evidence or {}
    # Sizes as text: the last row is "as in the data set", and a column of numbers and text cannot go to Arrow.
    size_rows = [{"face size (px)": str(int(s)), "mean AUC": round(a, 3)} for s, a in (evidence.get("mean_auc_by_size") or {}).items()]
    if size_rows and evidence.get("native_mean_auc") is not None:
        size_rows.append({"face size (px)": "as in the data set", "mean AUC": round(evidence["native_mean_auc"], 3)})
    selective = []
    for split in ("val", "test"):
        before, after = evidence.get(f"{split}_before") or {}, evidence.get(f"{split}_after") or {}
        for kind in before:
            b, a = before[kind], after.get(kind, {})
            selective.append({
                "data": "validation" if split == "val" else "test", "pictures": kind, "n": b["n"],
                "verdict given, before": _pct(b.get("coverage")), "accuracy, before": _pct(b.get("accuracy_given")),
                "verdict given, after": _pct(a.get("coverage")), "accuracy, after": _pct(a.get("accuracy_given")),
            })
    return {"size": size_rows, "selective": selective}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


@dataclass
class TrackStability(ChangedCopiesRange):
    """A video track's stability check: its score re-estimated under each change from re-scored frames."""

    p_fake: float  # the track's score (confident-frames rule)
    p_fake_by_change: dict[str, float]  # change -> the track's score under that change (estimated, see check_tracks)
    flipped: list[str]  # changes under which the track's score lands on the other side of the threshold
    frames_checked: list[int]  # positions (into the track's frames) of the frames re-scored
    deciding: int  # how many frames the track's score averages

    def summary(self) -> str:
        """One line for people: the track's P(fake) range under the changes, and whether its verdict holds."""
        spread = (f"P(fake) {display.format_range(self.low, self.high, 3)} across {len(self.p_fake_by_change)} changes "
                  f"({len(self.frames_checked)} of {self.deciding} deciding frames re-scored)")
        return spread + (f"; the verdict flips under {', '.join(self.flipped)}" if self.flipped else "; the verdict holds")

    def short(self) -> str:
        """For a table cell: whether the verdict holds first, then the range."""
        holds = f"flips under {', '.join(self.flipped)}" if self.flipped else "holds"
        return f"{holds} · P(fake) {display.format_range(self.low, self.high)} · {len(self.frames_checked)}/{self.deciding} frames"

    def to_dict(self) -> dict:
        return {
            "p_fake_low": display.round_probability(self.low),
            "p_fake_high": display.round_probability(self.high),
            "flips": bool(self.flipped),
            "flipped_under": self.flipped,
            "perturbations": {k: display.round_probability(v) for k, v in self.p_fake_by_change.items()},
            "frames_rescored": len(self.frames_checked),
            "deciding_frames": self.deciding,
        }


def frames_to_check(track, limit: int = TRACK_FRAMES) -> tuple[list[int], int]:
    """(positions of the frames to re-score, how many frames decide the score): the frames the
    confident-frames rule averages, `limit` of them evenly spread in time when there are more."""
    positions = [int(i) for i in track.deciding()]
    if len(positions) <= limit:
        return positions, len(positions)
    picks = np.linspace(0, len(positions) - 1, limit).round().astype(int)
    return [positions[i] for i in picks], len(positions)


def _track_inputs(result, track, size: int) -> tuple[list[int], list[Image.Image], int]:
    """The frames to re-score that still have a window, and their copies' model inputs."""
    positions, deciding = frames_to_check(track)
    kept, crops = [], []
    for position in positions:
        frame = result.frames[track.frames[position]]
        window = next((w for f, w in zip(frame.faces, frame.windows) if f is track.faces[position]), None)
        if window is not None:
            kept.append(position)
            crops += window_crops(window, size)
    return kept, crops, deciding


def check_tracks(detector, result, rules: AbstainRules | None = None) -> dict[int, TrackStability]:
    """Stability check of every judged track of a video (detector.video.VideoResult sampled with
    keep_windows=True): its deciding frames (at most TRACK_FRAMES) re-scored under the 11 changes.

    Under each change the track's score is estimated as its score plus the mean change of P(fake)
    over the re-scored frames (exact when all deciding frames were re-scored; the rule's choice of
    frames is kept). A track too small to judge is not checked. Returns track id -> check."""
    config = detector.config
    rules = rules if rules is not None else AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    count, checks = len(PERTURBATIONS), {}
    for track in result.tracks:
        if track_verdict(track, config, rules)[0] == display.TOO_SMALL:
            continue
        positions, crops, deciding = _track_inputs(result, track, config.input_size)
        if not positions:
            continue
        copies = np.asarray(detector.p_fake_from_logits(copies_logits(detector, crops)), dtype=float).reshape(len(positions), count)
        shift = copies - track.p_fake_per_frame[positions][:, None]
        by_change = {name: float(np.clip(track.score + shift[:, i].mean(), 0.0, 1.0)) for i, name in enumerate(PERTURBATIONS)}
        side = track.score >= config.threshold
        flipped = [name for name, p in by_change.items() if (p >= config.threshold) != side]
        checks[track.id] = TrackStability(track.score, by_change, flipped, positions, deciding)
    return checks


def track_verdict(track, config, rules: AbstainRules, check: TrackStability | None = None) -> tuple[str, list[str]]:
    """A video track's verdict code and reasons: too small when its median face is under the size
    limit; else the model's band on the track's score, turned into "can't tell" when its stability
    check (when it ran) flips the verdict under more changes than the model tolerates for videos:
    `rules.video_tolerance()`, the one chosen on validation clips, else the photo's (README, "Videos too")."""
    sizes = [face_size(f.face) for f in track.faces]
    median = float(np.median(sizes)) if sizes else 0.0
    if too_small(median, rules):
        return display.TOO_SMALL, [f"median face {math.floor(median)} px, below the {rules.min_face_px:.0f} px this model needs"]
    verdict = display.verdict_from_label(config.verdict(track.score), tuple(config.labels))
    if check is not None and verdict != display.CANT_TELL and len(check.flipped) > rules.video_tolerance()[0]:
        return display.CANT_TELL, [f"the track's verdict flips under {', '.join(check.flipped)} "
                                   f"({len(check.frames_checked)} of its {check.deciding} deciding frames re-scored)"]
    return verdict, []
