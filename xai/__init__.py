"""Explanations for the deepfake classifier, all behind one interface.

    from xai import make_explainer
    explanation = make_explainer("Grad-CAM", method="Grad-CAM++").explain(model, face, target=1)
    explanation.heatmap  # (H, W) in [0, 1] at the face's size
"""

from __future__ import annotations

# First: the OpenMP wait policy only counts if set before torch is imported (detector/threads.py).
import detector.threads  # noqa: F401  isort: skip
import hashlib
import threading
import uuid
import weakref
from collections import OrderedDict

import numpy as np

from xai.base import FAKE, REAL, Explainer, Explanation, face_array

__all__ = ["FAKE", "REAL", "TYPICAL_MAP_SECONDS", "Explainer", "Explanation", "families", "make_explainer", "cached_explain"]


def _registry() -> dict[str, type[Explainer]]:
    from xai.gradcam import GradCamExplainer
    from xai.lime_explainer import LimeExplainer
    from xai.saliency import SaliencyExplainer
    from xai.shap import ShapExplainer

    return {"Grad-CAM": GradCamExplainer, "LIME": LimeExplainer, "Saliency": SaliencyExplainer, "SHAP": ShapExplainer}


# Seconds per map for a page's time estimate before it has timed its own: the shipped model's stored medians
# (benchmarks/bench_explain.py, benchmarks/results/explain.json: dfx-lite0 2.3.0 at 288 px, a quiet 2-core CPU),
# rounded up; tests/test_xai.py keeps them within 1.5x of that file.
TYPICAL_MAP_SECONDS = {"Grad-CAM": 0.05, "LIME": 0.9, "Saliency": 0.6, "SHAP": 0.8}


def families() -> dict[str, type[Explainer]]:
    """Every explanation method by name, in the order pages show them; each class lists its `settings`."""
    return _registry()


def make_explainer(family: str, **params) -> Explainer:
    registry = _registry()
    if family not in registry:
        raise ValueError(f"unknown explainer {family!r}; choose from {list(registry)}")
    return registry[family](**params)


_MODEL_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MODEL_KEYS_LOCK = threading.Lock()


def model_key(model) -> str:
    """A key for this model object that is never reused: id(model) can come back for a new model
    once the old one is freed, which would hand the new model the old one's maps. A copy (e.g. the
    randomised model of the sanity check) is a new object and gets a new key."""
    with _MODEL_KEYS_LOCK:
        key = _MODEL_KEYS.get(model)
        if key is None:
            key = _MODEL_KEYS[model] = uuid.uuid4().hex
        return key


def explanation_bytes(explanation: Explanation) -> int:
    """Memory an explanation holds in its arrays (heatmap, signed map, superpixels, array extras)."""
    arrays = [explanation.heatmap, explanation.signed, explanation.segments, *explanation.extra.values()]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


# The maps the app keeps: by bytes, since a map's size follows the model's input (a LIME map at 288 px holds about
# 0.75 MB, a Grad-CAM map 0.33 MB), so a count alone would let a bigger model's maps grow the server's memory.
CACHE_BYTES = 48 * 2**20


class ExplanationCache:
    """A bounded LRU cache keyed by (model, face pixels, method, parameters, target): at most `capacity` maps and
    `max_bytes` of their arrays (the least recently used go first; a map bigger than the bound alone is not kept)."""

    def __init__(self, capacity: int = 128, max_bytes: int = CACHE_BYTES) -> None:
        self.capacity, self.max_bytes = capacity, max_bytes
        self.items: OrderedDict[tuple, tuple[Explanation, int]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, key: tuple, compute) -> Explanation:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                self.hits += 1
                return self.items[key][0]
        value = compute()
        size = explanation_bytes(value)
        with self.lock:
            self.misses += 1
            if size > self.max_bytes:  # kept, it would push out every other map
                return value
            if key in self.items:  # computed twice at once (two sessions): keep one
                self.bytes -= self.items.pop(key)[1]
            self.items[key] = (value, size)
            self.bytes += size
            while self.items and (len(self.items) > self.capacity or self.bytes > self.max_bytes):
                self.bytes -= self.items.popitem(last=False)[1][1]
        return value


_CACHE = ExplanationCache()


def cached_explain(model, face, family: str, target: int = FAKE, cache: ExplanationCache = _CACHE, **params) -> Explanation:
    """make_explainer(family, **params).explain(...), memoised on the face's pixels."""
    array = face_array(face)
    digest = hashlib.sha256(array.tobytes()).hexdigest()
    key = (model_key(model), digest, array.shape, family, tuple(sorted(params.items())), int(target))
    return cache.get_or_compute(key, lambda: make_explainer(family, **params).explain(model, array, target))
