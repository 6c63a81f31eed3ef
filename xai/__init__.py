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

from xai.base import FAKE, REAL, Explainer, Explanation, face_array

__all__ = ["FAKE", "REAL", "Explainer", "Explanation", "families", "make_explainer", "cached_explain"]


def _registry() -> dict[str, type[Explainer]]:
    from xai.gradcam import GradCamExplainer
    from xai.lime_explainer import LimeExplainer
    from xai.saliency import SaliencyExplainer
    from xai.shap import ShapExplainer

    return {"Grad-CAM": GradCamExplainer, "LIME": LimeExplainer, "Saliency": SaliencyExplainer, "SHAP": ShapExplainer}


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


class ExplanationCache:
    """A bounded LRU cache keyed by (model, face pixels, method, parameters, target)."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self.items: OrderedDict[tuple, Explanation] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, key: tuple, compute) -> Explanation:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                self.hits += 1
                return self.items[key]
        value = compute()
        with self.lock:
            self.misses += 1
            self.items[key] = value
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)
        return value


_CACHE = ExplanationCache()


def cached_explain(model, face, family: str, target: int = FAKE, cache: ExplanationCache = _CACHE, **params) -> Explanation:
    """make_explainer(family, **params).explain(...), memoised on the face's pixels."""
    array = face_array(face)
    digest = hashlib.sha256(array.tobytes()).hexdigest()
    key = (model_key(model), digest, array.shape, family, tuple(sorted(params.items())), int(target))
    return cache.get_or_compute(key, lambda: make_explainer(family, **params).explain(model, array, target))
