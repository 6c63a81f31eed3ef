"""Instructor mode: faithfulness numbers that can fail, and the page itself."""

import numpy as np
import pytest
import torch
from torch import nn

from xai import FAKE, make_explainer
from xai.layers import activation_maps
from xai.quality import agreement_matrix, deletion_auc, insertion_auc, randomised_copy, rank_similarity


class PatchNet(nn.Module):
    """A tiny CNN that learns one thing: is there a bright red square somewhere?"""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(torch.amax(self.features(x), dim=(2, 3)))


def patch_batch(rng: np.random.Generator, n: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(60, 160, (n, size, size, 3)).astype(np.uint8)
    labels = rng.integers(0, 2, n)
    for image, label in zip(images, labels):
        if label:
            x, y = rng.integers(0, size - 12, 2)
            image[y : y + 12, x : x + 12] = (250, 20, 20)
    return images, labels


@pytest.fixture(scope="module")
def patch_model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = PatchNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(250):
        images, labels = patch_batch(rng, 32)
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), torch.from_numpy(labels).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    images, labels = patch_batch(np.random.default_rng(1), 200)
    with torch.no_grad():
        accuracy = ((model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).squeeze(1) > 0).numpy() == labels).mean()
    assert accuracy > 0.95, f"the planted-patch model did not learn ({accuracy:.2f})"
    return model.eval()


@pytest.mark.parametrize("family, params", [("Saliency", {"method": "Vanilla gradient"}), ("Grad-CAM", {}), ("LIME", {"samples": 200, "segments": 30})])
def test_real_map_beats_a_random_map_at_deletion(patch_model, family, params):
    rng = np.random.default_rng(5)
    wins = 0
    for _ in range(5):
        images, labels = patch_batch(rng, 1)
        while labels[0] != 1:
            images, labels = patch_batch(rng, 1)
        face = images[0]
        heat = make_explainer(family, **params).explain(patch_model, face, FAKE).heatmap
        random_heat = np.random.default_rng(0).random(heat.shape).astype(np.float32)
        real, random = deletion_auc(patch_model, face, heat), deletion_auc(patch_model, face, random_heat)
        wins += real < random
        assert insertion_auc(patch_model, face, heat) >= 0.0
    assert wins >= 4, f"{family}: a real map should delete the evidence faster than a random one"


def test_sanity_similarity_drops_under_randomisation(patch_model):
    rng = np.random.default_rng(9)
    images, labels = patch_batch(rng, 8)
    face = images[int(np.argmax(labels))]
    explainer = make_explainer("Saliency", method="Vanilla gradient")
    trained = explainer.explain(patch_model, face, FAKE).heatmap
    again = explainer.explain(patch_model, face, FAKE).heatmap
    scrambled = explainer.explain(randomised_copy(patch_model, seed=3), face, FAKE).heatmap
    assert rank_similarity(trained, again) == pytest.approx(1.0)
    assert rank_similarity(trained, scrambled) < 0.5
    matrix = agreement_matrix({"a": trained, "b": scrambled})
    assert matrix.loc["a", "a"] == pytest.approx(1.0) and matrix.shape == (2, 2)


def test_activation_maps_of_the_classifier(detector, astronaut):
    face = detector.analyze(astronaut).faces[0].crop
    maps, channels, grid = activation_maps(detector.model, face, "block 2", k=8)
    assert maps.shape == (8, 224, 224) and len(set(channels)) == 8 and grid == (28, 28)
    assert maps.min() >= 0 and maps.max() <= 1
    assert not any(m._forward_hooks for m in detector.model.modules())


def test_instructor_page():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page("pages/instructor.py").run()
    assert not at.exception, at.exception
    assert at.select_slider[0].value == "block 0"  # opens on readable channel maps, not the noise-like block 3
    assert any("eyes, mouth" in i.value for i in at.info)
    at.select_slider[0].set_value("block 1").run()
    assert not at.exception
    assert any("block 1" in i.value for i in at.info)
    next(b for b in at.button if b.key == "quality").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 4 and table["deletion AUC (lower is better)"].between(0, 1).all()
    outcome = table["sanity check (< 0.5)"]
    assert set(outcome) <= {"pass", "fail"}
    assert list(outcome == "pass") == list(table["similarity after randomisation (Spearman)"].abs() < 0.5)
    captions = " ".join(c.value for c in at.caption)
    assert "Sanity check criterion" in captions and "climb back up" in captions
    next(b for b in at.button if b.key == "gallery").click().run()
    assert not at.exception, at.exception
