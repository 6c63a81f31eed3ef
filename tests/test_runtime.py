"""ONNX Runtime scoring (detector/runtime.py): the same scores as the torch model, or torch itself."""

import numpy as np
import pytest

from detector import runtime
from detector.inference import Detector
from detector.scoring import batched_logits
from detector.stability import all_copies

pytest.importorskip("onnxruntime", reason="ONNX Runtime not installed: classify() scores with torch")


def crops_of(detector, astronaut):
    """The astronaut's face crop and its 11 changed copies: what one checked face sends to classify()."""
    result = detector.analyze(astronaut)
    face = result.faces[0]
    return [face.crop] + all_copies(astronaut, [face.face], detector.config.input_size, detector.config.crop_margin)


def test_onnx_runtime_gives_the_torch_model_s_scores(shipped_detector, astronaut):
    crops = crops_of(shipped_detector, astronaut)
    logits = shipped_detector.classify(crops)
    assert shipped_detector.runtime is not None, shipped_detector.scorer_note
    assert shipped_detector.scorer_note.startswith("ONNX Runtime")
    as_loaded = batched_logits(shipped_detector.model, crops, channels_last=True)  # batch norm not folded
    assert np.abs(logits - as_loaded).max() < 2e-5
    p_onnx, p_torch = shipped_detector.p_fake_from_logits(logits), shipped_detector.p_fake_from_logits(as_loaded)
    assert np.abs(p_onnx - p_torch).max() < 1e-5
    # passes of any size give the same numbers (the free batch dimension of the exported graph)
    np.testing.assert_allclose(np.concatenate([shipped_detector.classify([c]) for c in crops[:3]]), logits[:3], atol=1e-5)
    assert shipped_detector.classify([]).shape == (0,)


def test_runs_follow_the_free_cores(monkeypatch, detector, astronaut):
    """Crops are cut into runs of `run_crops` that single-threaded sessions run in as many threads as the
    thread policy allows cores; the logits do not depend on the split."""
    import threading

    crops = [astronaut.resize((detector.config.input_size,) * 2).rotate(angle) for angle in range(0, 60, 5)]  # 12 crops
    detector.classify(crops[:1])
    runtime = detector.runtime
    assert runtime is not None, detector.scorer_note
    runs, run = [], runtime._run
    monkeypatch.setattr(runtime, "_run", lambda session, part: (runs.append((threading.get_ident(), len(part))), run(session, part))[1])
    monkeypatch.setenv("DFX_THREADS", "1")
    alone = detector.classify(crops)
    assert [n for _, n in runs] == [runtime.run_crops] * (12 // runtime.run_crops) and len({t for t, _ in runs}) == 1
    runs.clear()
    monkeypatch.setenv("DFX_THREADS", "2")
    np.testing.assert_array_equal(detector.classify(crops), alone)
    assert sum(n for _, n in runs) == 12 and len({t for t, _ in runs}) == 2  # side by side
    assert set(runtime._sessions) == {1}  # only single-threaded sessions
    runs.clear()
    monkeypatch.setattr(runtime, "run_crops", 5)
    np.testing.assert_array_equal(detector.classify(crops), alone)  # 12 crops in runs of 4 (three runs)
    assert sorted(n for _, n in runs) == [4, 4, 4]
    runs.clear()
    runtime.parallel = False  # the other way: runs of at most 8, each run's layers shared by two threads
    try:
        np.testing.assert_allclose(detector.classify(crops), alone, atol=1e-5)
        assert [n for _, n in runs] == [6, 6] and runtime.session(2).get_session_options().intra_op_num_threads == 2
    finally:
        runtime.parallel = True


def test_torch_when_asked(monkeypatch, tiny_checkpoint, astronaut):
    monkeypatch.setenv(runtime.SCORER_ENV, "torch")
    detector = Detector(tiny_checkpoint, device="cpu")
    crop = astronaut.resize((detector.config.input_size,) * 2)
    logits = detector.classify([crop, crop])
    assert detector.runtime is None and "DFX_SCORER=torch" in detector.scorer_note
    np.testing.assert_array_equal(logits, batched_logits(detector.scorer, [crop, crop], channels_last=True))


def test_torch_when_the_export_fails(monkeypatch, tiny_checkpoint, astronaut):
    def broken(model, size):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(runtime, "export_graph", broken)
    detector = Detector(tiny_checkpoint, device="cpu")
    crop = astronaut.resize((detector.config.input_size,) * 2)
    assert detector.classify([crop]).shape == (1,)
    assert detector.runtime is None and "RuntimeError: no exporter here" in detector.scorer_note


def test_torch_when_the_graph_scores_differently(monkeypatch, tiny_checkpoint, astronaut):
    """A graph whose logits are off on the probe batch (here: exported from another model) is not used."""
    from detector.model import new_classifier

    other = new_classifier(Detector(tiny_checkpoint, device="cpu").config).eval()  # another random head
    export = runtime.export_graph
    monkeypatch.setattr(runtime, "export_graph", lambda model, size: export(other, size))
    detector = Detector(tiny_checkpoint, device="cpu")
    crop = astronaut.resize((detector.config.input_size,) * 2)
    np.testing.assert_array_equal(detector.classify([crop]), batched_logits(detector.scorer, [crop], channels_last=True))
    assert detector.runtime is None and "from torch's on the probe" in detector.scorer_note


def test_same_padding_is_exported_as_the_convolutions_own_pads(shipped_detector, astronaut):
    """tf_efficientnet_lite0's stride-2 'SAME' convolutions pad by an amount timm computes from the input's size at
    every call; the exported graph has it fixed for the model's input size: no Pad node (each cost ONNX Runtime two
    layout conversions), the same logits as the model exported as it is."""
    import onnx
    import onnxruntime
    import torch
    from timm.layers.conv2d_same import Conv2dSame

    scorer, size = shipped_detector.scorer, shipped_detector.config.input_size
    assert sum(isinstance(m, Conv2dSame) for m in scorer.modules()) == 5  # what makes the test worth having
    static = runtime.with_static_padding(scorer, size)
    wrapped = [n for n, m in static.named_modules() if isinstance(m, runtime.StaticSameConv)]
    assert len(wrapped) == 5 and all(n.endswith(".conv") and n[:-5] in wrapped  # each runs inside its fixed-padding wrapper
                                     for n, m in static.named_modules() if isinstance(m, Conv2dSame))
    assert sum(isinstance(m, Conv2dSame) for m in scorer.modules()) == 5  # a copy: the model itself is untouched
    graph = runtime.export_graph(scorer, size)
    assert "Pad" not in {node.op_type for node in onnx.load_from_string(graph).graph.node}
    as_is = runtime.export_graph(scorer, size, static_padding=False)  # the export before: timm's dynamic padding
    assert "Pad" in {node.op_type for node in onnx.load_from_string(as_is).graph.node}
    pixels = np.stack([np.asarray(c, np.float32) / 255 for c in crops_of(shipped_detector, astronaut)[:4]]).transpose(0, 3, 1, 2)

    def logits(g: bytes) -> np.ndarray:
        return onnxruntime.InferenceSession(g, providers=["CPUExecutionProvider"]).run(None, {"pixels": pixels})[0].reshape(-1)

    np.testing.assert_allclose(logits(graph), logits(as_is), atol=1e-6)
    with torch.inference_mode():
        np.testing.assert_allclose(static(torch.from_numpy(pixels)).reshape(-1).numpy(), logits(as_is), atol=2e-5)


def test_crops_built_while_others_are_scored_get_the_same_logits_bit_for_bit(monkeypatch, detector, astronaut):
    """classify() given functions that build crops (the stability check's copies): each core builds a crop then scores
    it; the logits are those of the built crops in runs of one crop, exactly, on one core and on two."""
    import threading

    crops = crops_of(detector, astronaut)  # the face's crop and its 11 copies
    assert detector.scores_as_built(), detector.scorer_note
    monkeypatch.setenv("DFX_THREADS", "2")
    built_first = detector.classify(crops)
    builders = [crops[0], *[(lambda crop=crop: crop) for crop in crops[1:]]]
    runs, run = [], detector.runtime._run
    monkeypatch.setattr(detector.runtime, "_run", lambda session, part: (runs.append((threading.get_ident(), len(part))), run(session, part))[1])
    np.testing.assert_array_equal(detector.classify(builders), built_first)
    assert len(runs) == len(crops) and {n for _, n in runs} == {1} and len({t for t, _ in runs}) == 2
    monkeypatch.setenv("DFX_THREADS", "1")
    np.testing.assert_array_equal(detector.classify(builders), built_first)


def test_crops_given_as_functions_only_where_they_are_built_while_scored(monkeypatch, detector, astronaut):
    crops = crops_of(detector, astronaut)[:2]
    monkeypatch.setattr(detector.runtime, "run_crops", 2)  # runs of 2: a crop's logit would depend on its neighbour's build
    assert not detector.scores_as_built()
    with pytest.raises(RuntimeError, match="scores_as_built"):
        detector.classify([crops[0], lambda: crops[1]])
