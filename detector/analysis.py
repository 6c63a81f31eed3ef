"""What every surface shows about one picture, computed once: `analyze_image(...)` -> `ImageAnalysis`.

The image page, `python -m detector.predict --json` and the report read the same object: the
faces with the model's numbers, the verdict a person reads, the stability check (when run), the
class each explanation map explains, and room for the file's provenance. Pages only draw it.

    from detector.analysis import analyze_image_bytes
    analysis = analyze_image_bytes(detector, data, "photo.jpg")
    analysis.to_dict()  # the CLI's JSON for this file
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from detector import display
from detector.errors import InputError
from detector.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES, decode_image
from detector.inference import FaceResult, ImageResult


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


@dataclass
class FaceAnalysis:
    """One face: the model's result, the verdict a person reads, and the class its maps explain."""

    result: FaceResult
    verdict: str  # a display.* verdict code (the stability check's when it ran, else the model's band)
    explains: int  # the class a map of this face explains by default: the predicted one (1 fake, 0 real)
    stability: object | None = None  # detector.stability.FaceStability when the check ran

    @property
    def index(self) -> int:
        return self.result.index

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
    """Everything shown about one picture. `provenance` is filled by the provenance reader when run."""

    name: str
    sha256: str
    model: str  # "name version" of the checkpoint that scored it
    image: Image.Image
    result: ImageResult
    faces: list[FaceAnalysis]
    what_this_means: str
    rules: object | None = None  # detector.stability.AbstainRules the verdicts were judged by (None: no check)
    provenance: dict | None = None  # reserved for detector.provenance's reading of the file
    extra: dict = field(default_factory=dict)

    @property
    def p_fake(self) -> float | None:
        return self.result.p_fake

    @property
    def checks(self) -> list:
        """Each face's stability check (None where it did not run), in face order."""
        return [f.stability for f in self.faces]

    @property
    def verdicts(self) -> list[str]:
        return [f.verdict for f in self.faces]

    @property
    def most_suspicious(self) -> int | None:
        """Index of the face with the highest P(fake), or None without faces."""
        faces = self.result.faces
        return max(range(len(faces)), key=lambda i: faces[i].p_fake) if faces else None

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
            "p_fake": self.result.p_fake,
            "notes": self.result.notes,
            "what_this_means": self.what_this_means,
            "seconds": round(self.result.seconds, 3),
        }
        if self.provenance is not None:
            out["provenance"] = self.provenance
        return out


def analyze_image(detector, image: Image.Image, name: str, sha256: str = "", stability: bool = True, rules=None) -> ImageAnalysis:
    """Find and score every face of a decoded picture; with `stability`, also the per-face stability
    check (detector.stability.analyze_checked, judged by `rules` or the checkpoint's abstain.json)."""
    config = detector.config
    if stability:
        from detector.stability import analyze_checked

        checked = analyze_checked(detector, image, rules)
        result, checks, rules = checked.result, list(checked.checks), checked.rules
    else:
        result = detector.analyze(image)
        checks = [None] * len(result.faces)
    faces = [
        FaceAnalysis(
            result=face,
            verdict=check.verdict if check is not None else display.verdict_from_label(face.label, tuple(config.labels)),
            explains=config.explained_class(face.p_fake),
            stability=check,
        )
        for face, check in zip(result.faces, checks)
    ]
    return ImageAnalysis(name, sha256, f"{config.name} {config.version}", image, result, faces,
                         display.what_this_means(config.training), rules)


def analyze_image_bytes(detector, data: bytes, name: str, stability: bool = True, rules=None,
                        provenance: bool = False) -> ImageAnalysis:
    """An uploaded picture, in memory: type check, decode, analyse; with `provenance`, also what the
    file says about itself (detector.provenance, read after decoding accepted the file). InputError for a bad file."""
    file_kind(name, ("image",))
    image = decode_image(data, name)
    analysis = analyze_image(detector, image, name, hashlib.sha256(data).hexdigest(), stability, rules)
    if provenance:
        from detector.provenance import read_provenance

        analysis.provenance = read_provenance(data, name).to_dict()
    return analysis
