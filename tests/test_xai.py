"""Every explainer through the one interface: shape, range, determinism, sanity, concurrency."""

import copy
import threading

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from detector.faces import crop_face
from xai import FAKE, REAL, cached_explain, make_explainer
from xai.overlay import colorbar, render
from xai.segments import superpixels

# Small settings keep the suite fast; the defaults are exercised by the app tests.
CASES = [
    ("Grad-CAM", {"method": "Grad-CAM"}),
    ("Grad-CAM", {"method": "HiResCAM", "layer": "block 3"}),
    ("Grad-CAM", {"method": "EigenCAM (slow at early layers)", "layer": "block 5"}),
    ("Grad-CAM", {"method": "LayerCAM", "layer": "stem (conv1)"}),
    ("LIME", {"samples": 60, "segments": 20}),
    ("Saliency", {"method": "Vanilla gradient"}),
    ("Saliency", {"method": "SmoothGrad", "samples": 4}),
    ("Saliency", {"method": "Integrated Gradients", "steps": 8}),
    ("SHAP", {"samples": 4, "segments": 20}),
]


@pytest.fixture(scope="module")
def face(detector, astronaut):
    result = detector.analyze(astronaut)
    return np.asarray(result.faces[0].crop)


@pytest.fixture(scope="module")
def model(detector):
    return detector.model


@pytest.mark.parametrize("family, params", CASES, ids=[f"{f}-{p.get('method', '')}" for f, p in CASES])
def test_map_shape_range_and_determinism(model, face, family, params):
    first = make_explainer(family, **params).explain(model, face, FAKE)
    second = make_explainer(family, **params).explain(model, face, FAKE)
    assert first.heatmap.shape == face.shape[:2] and first.heatmap.dtype == np.float32
    assert first.heatmap.min() >= 0.0 and first.heatmap.max() <= 1.0
    assert first.heatmap.std() > 0.01, "a flat map explains nothing"
    np.testing.assert_allclose(first.heatmap, second.heatmap, atol=1e-5)
    assert first.seconds > 0 and first.params
    if first.segments is not None:  # stored compactly (the app caches up to 128 maps), the same regions as SLIC's
        assert first.segments.dtype == np.uint8
        np.testing.assert_array_equal(first.segments, superpixels(face, n_segments=params["segments"]))
    overlay = render(face, first, 0.5)
    assert overlay.size == (face.shape[1], face.shape[0]) and colorbar(first, width=224, numbers=False).size == (224, 18)


def test_signed_maps_flip_with_the_target(model, face):
    fake = make_explainer("LIME", samples=60, segments=20).explain(model, face, FAKE)
    real = make_explainer("LIME", samples=60, segments=20).explain(model, face, REAL)
    np.testing.assert_allclose(fake.signed, real.signed, atol=1e-6)  # + = fake in both
    np.testing.assert_allclose(fake.heatmap, 1.0 - real.heatmap, atol=1e-6)


@pytest.mark.parametrize("family, params", [CASES[0], CASES[4], CASES[6], CASES[8]], ids=["gradcam", "lime", "smoothgrad", "shap"])
def test_maps_change_when_the_weights_are_randomised(model, face, family, params):
    """Adebayo et al. 2018: a map that survives weight randomisation does not explain the model."""
    randomised = copy.deepcopy(model)
    torch.manual_seed(123)
    for module in randomised.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    original = make_explainer(family, **params).explain(model, face, FAKE).heatmap
    scrambled = make_explainer(family, **params).explain(randomised, face, FAKE).heatmap
    rho = spearmanr(original.ravel(), scrambled.ravel())[0]
    print(f"{family}: Spearman {rho:.3f}")
    assert rho < 0.8, f"{family} map barely changed under randomisation (Spearman {rho:.2f})"


def test_two_threads_explaining_at_once_match_one_alone(detector, astronaut):
    other = astronaut.rotate(8).crop((100, 0, 400, 300))
    faces = [np.asarray(detector.analyze(astronaut).faces[0].crop), np.asarray(crop_face(other, (0, 0, 300, 300), 224))]
    alone = [make_explainer("Grad-CAM").explain(detector.model, f, FAKE).heatmap for f in faces]
    alone_sal = [make_explainer("Saliency", method="Vanilla gradient").explain(detector.model, f, FAKE).heatmap for f in faces]
    results: dict = {}
    barrier = threading.Barrier(4)

    def work(key, family, params, face):
        barrier.wait()
        for _ in range(3):
            results.setdefault(key, []).append(make_explainer(family, **params).explain(detector.model, face, FAKE).heatmap)

    threads = [threading.Thread(target=work, args=((fam, i), fam, p, faces[i]))
               for i in range(2) for fam, p in (("Grad-CAM", {}), ("Saliency", {"method": "Vanilla gradient"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        for heat in results[("Grad-CAM", i)]:
            np.testing.assert_allclose(heat, alone[i], atol=1e-5)
        for heat in results[("Saliency", i)]:
            np.testing.assert_allclose(heat, alone_sal[i], atol=1e-5)
    assert not any(m._forward_hooks for m in detector.model.modules()), "hooks left behind"


def test_cache_returns_the_same_explanation(model, face):
    first = cached_explain(model, face, "Grad-CAM", target=FAKE, method="Grad-CAM++")
    second = cached_explain(model, face, "Grad-CAM", target=FAKE, method="Grad-CAM++")
    other = cached_explain(model, face, "Grad-CAM", target=REAL, method="Grad-CAM++")
    assert first is second and other is not first


def test_colour_bar_prints_its_numbers():
    """Issue 19: the colour bars had no numbers. The labelled bar is taller and has dark text under the colours."""
    from xai.base import Explanation
    from xai.overlay import colorbar_ticks

    flat = np.zeros((4, 4), np.float32)
    heat = Explanation(method="m", heatmap=flat, target=FAKE, params={}, seconds=0.1, how_to_read="")
    signed = Explanation(method="m", heatmap=flat, target=FAKE, params={}, seconds=0.1, how_to_read="", signed=flat)
    for explanation in (heat, signed):
        bare, labelled = colorbar(explanation, numbers=False), np.asarray(colorbar(explanation).convert("L"))
        assert labelled.shape[0] > bare.size[1]
        assert (labelled[bare.size[1] + 4:] < 80).sum() > 50, "no numbers drawn under the bar"
    assert [t for _, t in colorbar_ticks(heat)][::4] == ["0", "1"]
    assert "fake" in colorbar_ticks(signed)[-1][1] and "real" in colorbar_ticks(signed)[0][1]


def test_cache_key_is_per_model_object_not_per_address(model, face):
    # A copy of the model (same weights, maybe another address later) must not be served the
    # original's maps from the cache: the key is a per-object token, not id(model).
    from xai import model_key

    twin = copy.deepcopy(model)
    assert model_key(model) == model_key(model) != model_key(twin)
    first = cached_explain(model, face, "Grad-CAM", target=FAKE, method="Grad-CAM")
    again = cached_explain(twin, face, "Grad-CAM", target=FAKE, method="Grad-CAM")
    assert again is not first


def test_cache_is_bounded_by_the_bytes_its_maps_hold():
    from xai import ExplanationCache, explanation_bytes
    from xai.base import Explanation

    def explanation(side: int, signed: bool = False) -> Explanation:
        heat = np.zeros((side, side), np.float32)
        return Explanation(method="m", heatmap=heat, target=FAKE, params={}, seconds=0.0, how_to_read="",
                           signed=heat.copy() if signed else None, segments=np.zeros((side, side), np.uint8))

    assert explanation_bytes(explanation(10, signed=True)) == 400 + 400 + 100
    cache = ExplanationCache(capacity=100, max_bytes=2000)
    for key in "abc":
        cache.get_or_compute(key, lambda: explanation(10))  # 500 bytes each
    cache.get_or_compute("a", lambda: explanation(10))  # a hit: "b" is now the least recently used
    cache.get_or_compute("d", lambda: explanation(10, signed=True))  # 900 bytes: 2400 > 2000, so "b" goes
    assert list(cache.items) == ["c", "a", "d"] and cache.bytes == 1900
    cache.get_or_compute("huge", lambda: explanation(30))  # 4500 bytes alone: over the bound, not kept (nor does it evict)
    assert list(cache.items) == ["c", "a", "d"] and cache.bytes == 1900
    small = ExplanationCache(capacity=2)  # the count bound still holds
    for key in "xyz":
        small.get_or_compute(key, lambda: explanation(4))
    assert list(small.items) == ["y", "z"]


def test_the_pages_time_estimate_per_map_follows_the_stored_benchmark():
    """The image page's estimate before it has timed a map of its own: within 1.5x of the shipped model's stored medians."""
    import json
    from pathlib import Path

    from xai import TYPICAL_MAP_SECONDS, families

    stored = json.loads((Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "explain.json").read_text())
    assert set(TYPICAL_MAP_SECONDS) == set(families())
    for family, seconds in TYPICAL_MAP_SECONDS.items():
        measured = stored["methods"][family]["median_s"]
        assert measured / 1.5 <= seconds <= measured * 1.5, (family, seconds, measured)
