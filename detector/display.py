"""How probabilities and verdicts are written for people: one place for the whole app.

Rules (issue 16), used by pages, reports, the CLI and batch results alike:
- a probability is never written as certain: P(fake) that would print as 1.00 is "> 0.99",
  one that would print as 0.00 is "< 0.01" (the same at any number of digits);
- verdicts are words a journalist can repeat ("likely manipulated", "no sign of manipulation
  found", "can't tell", "too small to judge"), always written with the numbers beside them;
- one line says what the model was and was not trained on.
No Streamlit here: pages import this module and only draw its strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# Verdict codes (stable, for JSON and code) and the words shown to people.
LIKELY_MANIPULATED = "likely_manipulated"
NO_SIGN_FOUND = "no_sign_found"
CANT_TELL = "cant_tell"
TOO_SMALL = "too_small"
TOO_BLURRED = "too_blurred"
UNCLEAR_FACE = "unclear_face"

VERDICT_WORDS = {
    LIKELY_MANIPULATED: "likely manipulated",
    NO_SIGN_FOUND: "no sign of manipulation found",
    CANT_TELL: "can't tell",
    TOO_SMALL: "too small to judge",
    TOO_BLURRED: "too blurred to judge",
    UNCLEAR_FACE: "not clearly a face: not judged",
}
# Verdicts that are not a judgement at all: drawn without a verdict colour.
NOT_JUDGED = (TOO_SMALL, TOO_BLURRED, UNCLEAR_FACE)
# Colours for boxes and badges (RGB). Grey for everything that is not a verdict.
VERDICT_COLOURS = {
    LIKELY_MANIPULATED: (220, 38, 38),
    NO_SIGN_FOUND: (22, 163, 74),
    CANT_TELL: (217, 119, 6),
    TOO_SMALL: (120, 120, 120),
    TOO_BLURRED: (120, 120, 120),
    UNCLEAR_FACE: (120, 120, 120),
}

# What each shared data set teaches, for the "what this means" line. A set not listed is named as is.
DATA_DESCRIPTIONS = {  # short: the line is read on a phone
    "dfdc": "DFDC face swaps",
    "stylegan1_ffhq": "StyleGAN 1 faces",
    "stylegan2_unsplash": "StyleGAN 2 faces",
    "sd21_faces": "Stable Diffusion 2.1 portraits",
    "sfhq_t2i_tiles": "FLUX.1 / SDXL / DALL-E 3 portraits",
    "t2i_people_scenes": "text-to-image scenes",
    "inswapper_faceswap": "inswapper face swaps",
    "real_faces_300w_portraits": "real portraits",
    "sbi": "self-blended swaps",
    "swap": "swaps made from real photos",
}
NOT_TRAINED_ON = (
    "other generators and face-swap or lip-sync tools, edits outside the face (retouching, filters), "
    "or real press and social-media photos"
)


def verdict_from_label(label: str, labels: tuple[str, str] = ("real", "fake")) -> str:
    """The model's band label ('real' / 'fake' / 'uncertain') as a verdict code."""
    if label == labels[1]:
        return LIKELY_MANIPULATED
    if label == labels[0]:
        return NO_SIGN_FOUND
    return CANT_TELL


def verdict_words(verdict: str) -> str:
    """The words for a verdict code ('likely manipulated', ...); an unknown code is refused."""
    try:
        return VERDICT_WORDS[verdict]
    except KeyError:
        raise ValueError(f"unknown verdict code '{verdict}'") from None


def format_probability(p: float | None, digits: int = 2) -> str:
    """P(fake) as text that never claims certainty: '> 0.99', '< 0.01', else rounded to `digits`.

    The cut-off follows the printed digits, so 0.996 (which would print as 1.00) is '> 0.99' and
    0.004 is '< 0.01'; with digits=3 the bounds are '> 0.999' and '< 0.001'.
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if digits < 1:
        raise ValueError("digits must be at least 1")
    step = 10.0 ** -digits
    text = f"{float(p):.{digits}f}"
    if float(text) >= 1.0:
        return f"> {1.0 - step:.{digits}f}"
    if float(text) <= 0.0:
        return f"< {step:.{digits}f}"
    return text


def round_probability(p: float, digits: int = 4) -> float:
    """A probability rounded for JSON, kept strictly inside (0, 1) so no file claims 0 or 1."""
    step = 10.0 ** -digits
    return round(min(max(float(p), step), 1.0 - step), digits)


def format_share(value: float | None) -> str:
    """A false-alarm share for a table: two decimals, because at ~400 faces one face is 0.25 points and
    8 of 395 (2.03 %) must not read as a met 2.0 %; "–" where nothing was measured (None or NaN)."""
    return "–" if value is None or value != value else f"{value:.2%}"


def shot_changes_words(times: list[float]) -> str:
    """Where the video path saw cuts, and what that does to the tracks (detector.video.shot_changed)."""
    at = ", ".join(f"{t:.1f} s" for t in times)
    return (f"Shot changes (cuts) seen at {at}: a track continues across a cut only where the face stays in the same "
            "place, so one person filmed from two angles may be two tracks, each judged on its own.")


def format_auc(value: float | None) -> str:
    """An AUC for a table: three decimals (a stored 0.9217 and 0.894 read alike), "–" where none was measured."""
    return "–" if value is None or value != value else f"{value:.3f}"


def format_range(low: float, high: float, digits: int = 2) -> str:
    """A spread of probabilities, e.g. '0.41–0.88' (each end obeys format_probability)."""
    return f"{format_probability(low, digits)}–{format_probability(high, digits)}"


def verdict_line(verdict: str, p_fake: float | None, spread: tuple[float, float] | None = None, digits: int = 2) -> str:
    """Verdict words with the numbers beside them, e.g.
    'likely manipulated · P(fake) 0.87 (0.80–0.93 across 11 checks)' -- the caller passes the spread."""
    words = verdict_words(verdict)
    if p_fake is None:
        return words
    line = f"{words} · P(fake) {format_probability(p_fake, digits)}"
    if spread is not None:
        line += f" (range {format_range(spread[0], spread[1], digits)} under re-compression, resizing and re-framing)"
    return line


def trained_on(training: Mapping | None) -> list[str]:
    """What the model's training data were, from the checkpoint's config (`config.training`): the data sets of
    the crop-cache trainer (`data`), or the fake streams and real sets of the reframed trainer (`streams`)."""
    training = training or {}
    data = training.get("data") or {}
    names = [name for name, counts in data.items() if not isinstance(counts, Mapping) or any(counts.values())]
    # Reframed-trainer streams are "real:<set>" / "fake:<set>"; a set with both kinds is named once.
    for stream, share in (training.get("streams") or {}).items():
        name = stream.partition(":")[2]
        if share and name not in names:
            names.append(name)
    return [DATA_DESCRIPTIONS.get(name, name.replace("_", " ")) for name in names]


# For a video, when no training sample was a video frame: on the test sets H.264 compression at FaceForensics++'s
# c23 quality made 2.3.0 call 8-18 % of real faces likely manipulated that it did not call so as stills (README,
# "Video frames"), so the line says it. A model trained with video frames (config training.video_p, 2.4.0) gets a
# narrower caveat (the default since session 20): at CRF 40 it still ranks StyleGAN 1 and inswapper fakes near
# chance on the test sets.
NO_VIDEO_FRAMES = ("It never trained on video frames, and video compression makes it call real faces fake more often: "
                   "give a verdict on a video, or on a frame taken from one, less weight.")
COMPRESSED_VIDEO = ("It trained on compressed video frames too, but strong compression still blinds it to some fakes: "
                    "give a verdict on a low-quality video, or a frame taken from one, less weight.")


def what_this_means(training: Mapping | None, video: bool = False) -> str:
    """One line for people: what the model was and was not trained on, and what a verdict is worth (for a `video`,
    also what compression does to its verdicts: never trained on video frames, or trained on them and still weaker on
    low-quality video)."""
    seen = trained_on(training)
    seen_text = ", ".join(seen) if seen else "data not recorded in its configuration"
    frames = "" if not video else f" {COMPRESSED_VIDEO if (training or {}).get('video_p') else NO_VIDEO_FRAMES}"
    return (
        f"What this means: the model learned from {seen_text}; it was not trained on {NOT_TRAINED_ON}. "
        f"A verdict is evidence to weigh, not proof either way.{frames}"
    )
