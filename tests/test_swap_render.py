"""Swaps rendered at a swap model's resolution: the training step and the benchmark that measures them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from benchmarks import swap_render
from detector.training.swaps import classical_swap, region, rendered_at
from tests.test_reframed_training import five_points, toy_sources


def detail(image: np.ndarray) -> float:
    """High-frequency energy: the variance of the Laplacian of the grey picture."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def noisy(size: int, seed: int = 0) -> np.ndarray:
    return np.clip(128 + np.random.default_rng(seed).normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)


def test_a_large_face_rendered_small_loses_its_detail():
    face = noisy(300)
    out = rendered_at(face, 300.0, 64, np.random.default_rng(0))
    assert out.shape == face.shape
    assert detail(out) < 0.2 * detail(face)
    # Rendered larger, it keeps more of it.
    assert detail(rendered_at(face, 300.0, 180, np.random.default_rng(0))) > 2 * detail(out)


def test_a_face_no_larger_than_the_render_size_is_left_as_it_is():
    face = noisy(120)
    assert rendered_at(face, 100.0, 128, np.random.default_rng(0)) is face


def skin(size: int, seed: int) -> np.ndarray:
    """A smooth shading (what colour matching sees) with fine grain on top (what a swap model loses)."""
    shade = np.linspace(40, 200, size)[None, :, None] * np.ones((size, 1, 3))
    grain = np.random.default_rng(seed).normal(0, 12, (size, size, 3))
    return np.clip(shade + grain, 0, 255).astype(np.uint8)


def test_classical_swap_renders_the_donor_only_when_asked():
    target = skin(400, seed=1)
    donor = skin(400, seed=2)
    box = [100.0, 100.0, 300.0, 300.0]
    x1, y1, x2, y2 = (int(v) for v in box)
    inner = (slice(y1 + 60, y2 - 60), slice(x1 + 60, x2 - 60))
    left, top, right, bottom = region(box, target.shape, 2.2)
    outside = np.ones(target.shape[:2], bool)
    outside[top:bottom, left:right] = False
    softer = 0
    for seed in range(6):
        sharp = classical_swap(target, box, five_points(box), None, donor, five_points(box), np.random.default_rng(seed), render_p=0.0)
        soft = classical_swap(target, box, five_points(box), None, donor, five_points(box), np.random.default_rng(seed), render_p=1.0,
                              render_sizes=(48,))
        softer += detail(soft[inner]) < 0.2 * detail(sharp[inner])
        assert np.array_equal(soft[outside], target[outside])
    # Mixed Poisson cloning keeps the target's own grain where it is stronger (one seed in six here).
    assert softer >= 4


def test_the_benchmark_scores_every_way_and_writes_its_result(tmp_path, astronaut, tiny_checkpoint):
    sources, root = toy_sources(tmp_path, astronaut)
    out = tmp_path / "swap_render.json"
    code = swap_render.main(["--sources", str(sources), "--root", str(root), "--split", "val", "--model", str(tiny_checkpoint),
                             "--per-set", "3", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["pictures"] == 3 and set(result["ways"]) == set(swap_render.WAYS)
    for row in result["rows"]:
        assert all(row[way] is None or 0.0 <= row[way] <= 1.0 for way in ("real", *swap_render.WAYS))
    # The same seeds make the same pictures: a second run gives the same scores.
    again = tmp_path / "again.json"
    swap_render.main(["--sources", str(sources), "--root", str(root), "--split", "val", "--model", str(tiny_checkpoint),
                      "--per-set", "3", "--out", str(again)])
    assert json.loads(again.read_text())["rows"] == result["rows"]


@pytest.mark.parametrize("make", ["missing", "no_points"])
def test_the_benchmark_refuses_sources_it_cannot_use_with_one_line(tmp_path, astronaut, capsys, make):
    sources, root = toy_sources(tmp_path, astronaut)
    if make == "missing":
        sources = tmp_path / "nowhere"
    else:
        data = json.loads((sources / "sources.json").read_text())
        for record in data["records"]:
            record["faces"][0]["landmarks"] = None
        (sources / "sources.json").write_text(json.dumps(data))
    assert swap_render.main(["--sources", str(sources), "--root", str(root), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def proxy_result(model: str, separation: float, n: int = 40, seed: int = 0) -> dict:
    """A swap_render result whose swaps score `separation` above their reals on average."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        real = float(rng.random() * 0.6)
        row = {"file": f"set/real/{i}.jpg", "set": "set", "face_px": 200.0, "real": real}
        row.update({way: float(np.clip(real + separation + rng.normal(0, 0.3), 0, 1)) for way in swap_render.WAYS})
        rows.append(row)
    return {"model": model, "rows": rows}


def test_compare_pairs_the_pictures_and_says_when_a_model_separates_better(tmp_path, capsys):
    ref, better = proxy_result("a", 0.05), proxy_result("b", 0.6, seed=1)
    gain = swap_render.compare(ref, better, ("sharp", "sbi"), n_boot=200)
    assert gain["pictures"] == 40 and gain["difference"] > 0.2 and gain["low"] > 0
    same = swap_render.compare(ref, ref, ("sharp", "sbi"), n_boot=200)
    assert same["difference"] == 0.0 and same["low"] == 0.0 == same["high"]
    paths = []
    for name, result in (("ref", ref), ("cand", better)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(result))
    assert swap_render.main(["--compare", *map(str, paths), "--boot", "50"]) == 0
    assert json.loads(capsys.readouterr().out)["difference"] == gain["difference"]


def test_compare_refuses_runs_without_enough_pictures_in_common(tmp_path, capsys):
    ref, other = proxy_result("a", 0.1), proxy_result("b", 0.1)
    for row in other["rows"]:
        row["file"] = "elsewhere/" + row["file"]
    paths = []
    for name, result in (("ref", ref), ("other", other)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(result))
    assert swap_render.main(["--compare", *map(str, paths)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0 pictures" in err[0]


def test_the_metrics_table_reads_each_stored_result_and_skips_broken_ones(tmp_path, astronaut, tiny_checkpoint):
    from detector.evaluation.run_metrics import swap_proxy_frame

    sources, root = toy_sources(tmp_path, astronaut)
    results = tmp_path / "results"
    assert swap_render.main(["--sources", str(sources), "--root", str(root), "--split", "val", "--model", str(tiny_checkpoint),
                             "--per-set", "3", "--out", str(results / "swap_render_tiny.json")]) == 0
    (results / "swap_render_broken.json").write_text("{not json")
    (results / "swap_render_old.json").write_text(json.dumps({"model": "x"}))  # a result without its ways
    frame = swap_proxy_frame(results)
    written = json.loads((results / "swap_render_tiny.json").read_text())
    assert len(frame) == len(swap_render.WAYS) and set(frame["pictures"]) == {3} and set(frame["split"]) == {"val"}
    assert frame.set_index("swap").loc["self-blended", "AUC"] == written["ways"]["sbi"]["auc"]
    assert swap_proxy_frame(tmp_path / "nowhere").empty
