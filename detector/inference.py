"""The one obvious entry point: `Detector(...).analyze(image)` -> per-face verdicts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from detector.checkpoint import default_checkpoint, load_checkpoint
from detector.config import ModelConfig
from detector.display import round_probability
from detector.faces import Face, FaceFinder, crop_face
from detector.model import DeepfakeClassifier, folded_for_inference
from detector.runtime import OnnxScorer, copies_scorer, onnx_scorer
from detector.scoring import batched_logits, calibrated_probability, crop_pixels, register_stand_ins, to_input
from detector.threads import set_cpu_threads

# Crops per forward pass on CPU. Measured on the 2-core CPU (folded model, 1080p one-face photo's
# copies): 44 crops took 382 ms in passes of 8 vs 684 ms in one pass, 11 crops 101 vs 108 ms; a big
# batch's activations no longer fit the cache. A GPU takes every crop of a call in one pass.
CPU_BATCH = 8


def pick_device(prefer: str | None = None) -> torch.device:
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class FaceResult:
    """One face's verdict, with everything needed to draw and explain it."""

    index: int
    face: Face  # the detection: box, landmarks, detector confidence, fallback flag
    crop: Image.Image  # the model's input, input_size x input_size RGB
    logit: float
    p_fake: float  # calibrated (temperature-scaled) probability that the face is fake
    label: str  # 'real', 'fake' or 'uncertain'

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The face's box in the picture (x1, y1, x2, y2): `result.box`, not `result.face.box`."""
        return self.face.box

    def to_dict(self) -> dict:
        return {"face": self.index + 1, **self.face.to_dict(), "p_fake": round_probability(self.p_fake), "label": self.label}


@dataclass
class ImageResult:
    faces: list[FaceResult]
    seconds_detect: float
    seconds_classify: float  # cutting and scoring the crops (and the extra crops, when asked for)
    notes: list[str] = field(default_factory=list)
    # Calibrated P(fake) of the extra crops analyze(extra=...) asked for, scored in the same passes as
    # the faces (None when none were asked for).
    extra_p_fake: np.ndarray | None = None

    @property
    def p_fake(self) -> float | None:
        """The picture's score: its most suspicious face (None when no face was found)."""
        return max((f.p_fake for f in self.faces), default=None)

    @property
    def seconds(self) -> float:
        return self.seconds_detect + self.seconds_classify


def mirrored(crop: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
    """A crop's horizontal mirror (an RGB image, or an (H, W, 3) array)."""
    return crop.transpose(Image.FLIP_LEFT_RIGHT) if isinstance(crop, Image.Image) else np.ascontiguousarray(crop[:, ::-1])


def _adapt_cpu_threads(module: torch.nn.Module, args: tuple) -> None:
    set_cpu_threads()


class Detector:
    """Face finding + classification, batched over the faces of a picture."""

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        device: str | torch.device | None = None,
        fallback: str = "auto",
    ) -> None:
        self.device = pick_device(str(device) if device else None)
        if self.device.type == "cpu":
            set_cpu_threads()
        self.checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()
        self.model: DeepfakeClassifier = load_checkpoint(self.checkpoint, self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
            # Every forward pass (explainers, stability check, video frames included) picks its thread
            # count from the cores other programs leave free right now (detector/threads.py).
            self.model.register_forward_pre_hook(_adapt_cpu_threads)
        self.config: ModelConfig = self.model.config
        # What classify() runs: the same model with batch norm folded into its convolutions (faster;
        # see folded_for_inference). self.model stays as loaded for the explainers.
        self.scorer: DeepfakeClassifier = folded_for_inference(self.model)
        # On a CPU, classify() runs self.scorer through ONNX Runtime when it can (detector/runtime.py): the
        # same logits to ~1e-5, about half the time per crop. Chosen when the first crop is scored.
        self.runtime: OnnxScorer | None = None
        self.scorer_note = "not chosen yet: the first scored crop chooses"
        # The stability check's changed copies (never a face's own score) go through an 8-bit graph when the
        # model folder has one built for these weights (detector/runtime.py, copies_scorer); else like faces.
        self.copies_runtime: OnnxScorer | None = None
        self.copies_note = "like the faces"
        self._runtime_chosen = self.device.type != "cpu"
        self._runtime_lock = threading.Lock()
        self.face_finder = FaceFinder(device=self.device, margin=self.config.crop_margin, fallback=fallback)
        # Shared with every explainer of this model (see DeepfakeClassifier.lock).
        self.lock = self.model.lock
        # Explainers that need no weight gradients use cheaper equivalents of self.model: input gradients
        # (saliency, SHAP) through the folded copy, scores (LIME's perturbed faces) the way classify() gets
        # them (ONNX Runtime on a CPU, a crop's own logit, no test-time views). Grad-CAM keeps self.model.
        register_stand_ins(self.model, folded=self.scorer, logits=self._logits)

    def warm_up(self) -> None:
        """One pass through MTCNN and the classifier, so the first real request is not the slow one."""
        blank = Image.new("RGB", (self.config.input_size, self.config.input_size), (128, 128, 128))
        self.face_finder.find(blank)
        self.classify([blank])

    def to_tensor(self, crops: list[Image.Image]) -> torch.Tensor:
        """RGB crops -> (N, 3, S, S) float tensor in [0, 1] on the model's device (see detector.scoring)."""
        return to_input(crops, self.device, channels_last=True)

    def p_fake_from_logits(self, logits: torch.Tensor | np.ndarray) -> np.ndarray:
        """Calibrated P(fake) for raw logits: sigmoid(logit / T) in float32."""
        return calibrated_probability(torch.as_tensor(logits, dtype=torch.float32), self.config.temperature)

    def cpu_runtime(self) -> OnnxScorer | None:
        """The ONNX Runtime scorer classify() uses on a CPU, or None (torch); made on first use."""
        if not self._runtime_chosen:
            with self._runtime_lock:
                if not self._runtime_chosen:
                    self.runtime, self.scorer_note = onnx_scorer(self.scorer, self.config.input_size)
                    if self.runtime is not None:  # torch scores everything when ONNX Runtime is not used
                        self.copies_runtime, self.copies_note = copies_scorer(self.checkpoint, self.config, self.runtime.lock)
                    self._runtime_chosen = True
        return self.runtime

    def classify(self, crops: list[Image.Image]) -> np.ndarray:
        """Raw logits for face crops under the config's test-time views: with tta "flip", the mean of the
        logits of each crop and its horizontal mirror (the mirrors fill the same passes). Every path that
        scores a face (analyze, video, batch, predict; the stability check's copies through classify_copies)
        comes through here. Where scores_as_built(), items may also be functions that build a crop: each is built by
        the core that then scores it."""
        return self._views(crops, self._logits)

    def classify_copies(self, crops: list[Image.Image]) -> np.ndarray:
        """Raw logits for the stability check's changed copies: by the 8-bit graph when the model folder has
        one (self.copies_runtime), else exactly as classify() scores faces. Same test-time views."""
        if self.device.type != "cpu" or self.cpu_runtime() is None or self.copies_runtime is None:
            return self.classify(crops)
        runtime = self.copies_runtime
        return self._views(crops, lambda views: runtime.logits(to_input(views).numpy(), most_per_run=CPU_BATCH) if views else np.zeros(0, np.float32))

    def scores_as_built(self) -> bool:
        """Whether classify() may be given functions that build crops (the stability check's copies) besides crops: a
        CPU scored by the app's ONNX Runtime scorer in runs of one crop over the free cores, copies scored like faces,
        no test-time views. The free cores then take the items in turn, each building a crop and scoring it, so copies
        are built while others are scored; the logits are the ones the built crops get. Elsewhere crops are built first."""
        runtime = self.cpu_runtime() if self.device.type == "cpu" else None
        return (runtime is not None and runtime.parallel and runtime.run_crops == 1 and self.copies_runtime is None
                and self.config.tta == "none")

    def _views(self, crops: list[Image.Image], logits: Callable[[list[Image.Image]], np.ndarray]) -> np.ndarray:
        """`logits` of the crops under the config's test-time views (the mirrors fill the same passes)."""
        if self.config.tta == "flip" and len(crops):
            both = logits([*crops, *(mirrored(c) for c in crops)])
            return (both[: len(crops)] + both[len(crops) :]) / 2
        return logits(crops)

    def _logits(self, crops: list[Image.Image]) -> np.ndarray:
        """Raw logits for model inputs: batched forward passes (at most CPU_BATCH crops each on a CPU,
        through ONNX Runtime when available, its runs spread over the free cores; else torch)."""
        if self.device.type != "cpu":
            return batched_logits(self.scorer, crops, batch_size=None, channels_last=True)
        runtime = self.cpu_runtime()
        if runtime is None:
            return batched_logits(self.scorer, crops, batch_size=CPU_BATCH, channels_last=True)
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32)
        if any(callable(crop) for crop in crops):  # copies still to build (scores_as_built)
            if not self.scores_as_built():
                raise RuntimeError("crops given as functions need the ONNX Runtime scorer in runs of one crop (scores_as_built)")
            return runtime.logits_as_built([lambda crop=crop: crop_pixels(crop() if callable(crop) else crop) for crop in crops])
        return runtime.logits(to_input(crops).numpy(), most_per_run=CPU_BATCH)

    def _faces_and_copies(self, crops: list[Image.Image], copies: list[Image.Image | Callable[[], Image.Image]]) -> np.ndarray:
        """Logits of the faces' crops then of their changed copies: one call filling the same passes, or two
        when the copies have a scorer of their own (the faces' scores never go through it)."""
        if not copies or self.device.type != "cpu" or self.cpu_runtime() is None or self.copies_runtime is None:
            return self.classify(crops + copies)
        return np.concatenate([self.classify(crops), self.classify_copies(copies)])

    def analyze(self, image: Image.Image,
                extra: Callable[[Image.Image, list[Face]], list[Image.Image] | None] | None = None) -> ImageResult:
        """Every face of an RGB picture with its P(fake) and verdict, largest face first.

        `extra(image, faces)` may return more model inputs (the stability check's changed copies; as functions that
        build them when scores_as_built()) to score in the same forward passes as the faces' crops, or None; their P(fake) come back in
        `extra_p_fake`. One call fills the passes (CPU_BATCH crops each) and a picture's single crop
        does not get a pass of its own."""
        if self.device.type == "cpu":
            set_cpu_threads()  # before the face finder too, whose networks have no hook
        start = time.perf_counter()
        faces = self.face_finder.find(image)
        detected = time.perf_counter()
        crops = [crop_face(image, f.crop_box, self.config.input_size) for f in faces]
        more = extra(image, faces) if extra is not None and faces else None
        logits_all = self._faces_and_copies(crops, list(more or []))
        probs_all = self.p_fake_from_logits(logits_all)
        logits, probs = logits_all[: len(crops)], probs_all[: len(crops)]
        results = [
            FaceResult(i, face, crop, float(logit), float(p), self.config.verdict(float(p)))
            for i, (face, crop, logit, p) in enumerate(zip(faces, crops, logits, probs))
        ]
        notes = []
        if not faces:
            notes.append("No face was found in this picture.")
        elif any(f.fallback for f in faces):
            notes.append("No face was detected; the whole picture was treated as one face crop.")
        return ImageResult(results, detected - start, time.perf_counter() - detected, notes,
                           probs_all[len(crops):] if more is not None else None)
