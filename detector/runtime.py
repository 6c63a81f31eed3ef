"""ONNX Runtime for scoring face crops on a CPU: the same folded classifier, faster per crop than torch.

`Detector.classify` (every face's score, the stability check's copies, video frames, batch scans) runs
through `OnnxScorer` on a CPU when `onnx` and `onnxruntime` are installed. The graph is exported in
memory (no file written, nothing downloaded) from the very model the torch path runs (batch norm folded,
detector.model.folded_for_inference) the first time a crop is scored, and its logits are compared with
that model's on a probe batch before it is used. Any failure (a package missing, an export error, logits
further apart than PROBE_TOLERANCE) keeps the torch scorer, and `Detector.scorer_note` says why.
`DFX_SCORER=torch` forces the torch scorer. Of the explainers only LIME (and the deletion curves) use it: a
Detector's model scores their perturbed faces here (detector.scoring.register_stand_ins); the others need
torch's layers and gradients.

The stability check's changed copies (never a face's own score) may be scored by an 8-bit graph stored beside
the weights (COPIES_FILE, built by scripts/quantize_copies.py from validation crops, with its evidence under
config.json's `copies_int8`). `copies_scorer` loads it only when the file is there and both its SHA-256 and the
SHA-256 of the weights it was built from match the config: a new model shipped into the folder, or no file,
scores the copies like the faces. Nothing is built or written at run time.

The export fixes the padding of the model's TensorFlow-style 'SAME' convolutions for its input size
(with_static_padding): the same function, the same logits, about 13 % less time per crop than the graph with timm's
size-dependent padding (README, issue 16).

Cores follow the project's policy (detector/threads.py): each call uses as many cores as other programs
leave free right now. By default a call's crops are split over them, each part run by a single-threaded
session in its own thread (ONNX Runtime releases the GIL while it runs): for this small network, crops
side by side kept two cores busier than two threads sharing each layer (benchmarks/bench_stability.py
times both; `parallel=False` is the other). A crop's logit does not depend on which part it is in.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from detector.config import ModelConfig
from detector.scoring import model_lock
from detector.threads import set_cpu_threads

SCORER_ENV = "DFX_SCORER"  # "torch": never use ONNX Runtime
PROBE_TOLERANCE = 1e-4  # largest logit difference accepted on the probe batch (measured: about 5e-6)
OPSET = 17
SPIN = False  # whether ONNX Runtime's worker threads spin between runs (see OnnxScorer.session)
# Crops per single-threaded run: at 224 px 12 crops took 125 ms in runs of 1 or 2, 137 in runs of 6, 148 in one
# run of 12 (one core; small runs' activations stay in the cache). At 2.3.0's 288 px runs of 1 are the fastest:
# 12 crops over two idle cores 107 ms vs 113 in runs of 2, 8 crops 71 vs 76 (same logits, bit for bit; README,
# issue 16). So a call is cut into runs of one crop that the free cores take in turn.
RUN_CROPS = 1
# The stability check's copies may be scored by an 8-bit graph stored beside the weights (scripts/quantize_copies.py).
COPIES_FILE = "copies.int8.onnx"


class OnnxScorer:
    """Raw logits of a classifier exported to ONNX, run by ONNX Runtime on the CPU."""

    def __init__(self, graph: bytes, lock: threading.RLock, spin: bool = SPIN, parallel: bool = True,
                 run_crops: int = RUN_CROPS) -> None:
        import onnxruntime

        self._ort = onnxruntime
        self._graph = graph
        self.spin = spin
        self.parallel = parallel  # crops split over the free cores (else: intra-op threads share each layer)
        self.run_crops = run_crops  # crops per run (parallel mode)
        self._sessions: dict[int, object] = {}
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self.lock = lock  # the torch model's: one forward pass at a time per model, whichever runtime runs it

    def session(self, threads: int):
        """The session with `threads` intra-op threads (made once, on first use)."""
        if threads not in self._sessions:
            options = self._ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # ONNX Runtime's worker threads spin after a run by default, waiting for the next one; the face
            # finder (torch) runs right after, and spinning workers take its cores (issue 19's problem).
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
            self._sessions[threads] = self._ort.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def _run(self, session, part: np.ndarray) -> np.ndarray:
        return session.run(None, {"pixels": part})[0].reshape(-1)

    def logits(self, batch: np.ndarray, most_per_run: int = 8) -> np.ndarray:
        """(N,) float32 logits for an (N, 3, S, S) float32 array of pixels in [0, 1]: in runs of `run_crops`
        crops taken by the free cores in turn, or (parallel=False) in runs of at most `most_per_run` crops,
        each run's layers shared by the free cores."""
        pixels = np.ascontiguousarray(batch, dtype=np.float32)
        if len(pixels) == 0:
            return np.zeros(0, dtype=np.float32)
        with self.lock:
            cores = set_cpu_threads()  # the free cores now, as a torch forward pass would use
            parts = np.array_split(pixels, math.ceil(len(pixels) / (self.run_crops if self.parallel else most_per_run)))
            if not self.parallel:
                session = self.session(cores)
                out = [self._run(session, part) for part in parts]
            elif cores == 1:
                out = [self._run(self.session(1), part) for part in parts]
            else:
                if cores not in self._pools:
                    self._pools[cores] = ThreadPoolExecutor(cores, thread_name_prefix="dfx-onnx")
                session = self.session(1)
                out = list(self._pools[cores].map(lambda part: self._run(session, part), parts))
        return np.concatenate(out).astype(np.float32)

    def logits_as_built(self, crops: Sequence[Callable[[], np.ndarray]]) -> np.ndarray:
        """(N,) float32 logits of crops built while others are scored: each item gives one crop's (1, 3, S, S) float32
        pixels when called. The free cores take the items in turn, each building its crop then scoring it in a run
        of its own, so no core waits for every crop to be built first (the stability check's copies: issue 16). A
        crop's logit is the one logits() gives it in a run of one crop, bit for bit."""
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32)
        with self.lock:
            cores = set_cpu_threads()
            session = self.session(1)
            if cores == 1:
                out = [self._run(session, crop()) for crop in crops]
            else:
                if cores not in self._pools:
                    self._pools[cores] = ThreadPoolExecutor(cores, thread_name_prefix="dfx-onnx")
                out = list(self._pools[cores].map(lambda crop: self._run(session, crop()), crops))
        return np.concatenate(out).astype(np.float32)


class _PaddedConv(torch.autograd.Function):
    """A convolution of an input zero-padded by fixed (left, right, top, bottom) amounts, exported as ONE ONNX Conv
    with those (asymmetric) pads instead of a Pad node before it."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups):  # noqa: ANN001, ANN205 - torch's signature
        return F.conv2d(F.pad(x, pads), weight, bias, stride, 0, dilation, groups)

    @staticmethod
    def symbolic(g, x, weight, bias, stride, pads, dilation, groups):  # noqa: ANN001, ANN205 - torch's signature
        left, right, top, bottom = pads
        inputs = (x, weight) if bias is None else (x, weight, bias)
        return g.op("Conv", *inputs, strides_i=list(stride), pads_i=[top, left, bottom, right], dilations_i=list(dilation),
                    group_i=groups)


class StaticSameConv(nn.Module):
    """TensorFlow's 'SAME' convolution with its padding fixed for one input size. timm's Conv2dSame (the stride-2
    layers of tf_efficientnet_lite0) computes its padding from the input's size at every call: exported, that is a
    Pad node fed by shape arithmetic, which ONNX Runtime cannot fold into the convolution, so it converts the
    activations out of its blocked layout and back around each of the 5 (about 15 % of a 288 px crop's time,
    measured). The same zeros given as the convolution's own pads: the same function, the same logits."""

    def __init__(self, conv: nn.Conv2d, pads: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv, self.pads = conv, pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        return _PaddedConv.apply(x, c.weight, c.bias, tuple(c.stride), self.pads, tuple(c.dilation), c.groups)


def with_static_padding(model: nn.Module, input_size: int) -> nn.Module:
    """A copy of `model` whose dynamically padded 'SAME' convolutions (timm's Conv2dSame) pad by the fixed amounts
    an input_size x input_size input needs (StaticSameConv); `model` itself when it has none."""
    try:
        from timm.layers.conv2d_same import Conv2dSame
        from timm.layers.padding import pad_same_arg
    except ImportError:
        return model
    if not any(isinstance(m, Conv2dSame) for m in model.modules()):
        return model
    copy = deepcopy(model)
    copy._forward_pre_hooks.clear()  # the thread-policy hook: this copy only runs once, here
    sizes: dict[str, list[int]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: sizes.__setitem__(name, list(args[0].shape[-2:])))
             for name, m in copy.named_modules() if isinstance(m, Conv2dSame)]
    with torch.no_grad():
        copy(torch.zeros(1, 3, input_size, input_size))
    for hook in hooks:
        hook.remove()
    for name, size in sizes.items():
        conv = copy.get_submodule(name)
        pads = pad_same_arg(size, list(conv.weight.shape[-2:]), list(conv.stride), list(conv.dilation))
        parent, _, leaf = name.rpartition(".")
        setattr(copy.get_submodule(parent), leaf, StaticSameConv(conv, tuple(int(p) for p in pads)))
    return copy


def export_graph(model: nn.Module, input_size: int, static_padding: bool = True) -> bytes:
    """The model as an ONNX graph (bytes) with a free batch dimension, exported in memory; its 'SAME' convolutions
    padded for input_size crops (with_static_padding), the only size it is given (static_padding=False: as timm
    pads them, for comparisons)."""
    buffer = io.BytesIO()
    example = torch.zeros(1, 3, input_size, input_size)
    with model_lock(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice: the graph is checked below
        torch.onnx.export(with_static_padding(model, input_size) if static_padding else model, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=["pixels"], output_names=["logit"], dynamic_axes={"pixels": {0: "n"}, "logit": {0: "n"}})
    return buffer.getvalue()


def probe_batch(input_size: int) -> np.ndarray:
    """Two fixed inputs for the load-time check: smooth gradients plus noise, in [0, 1]."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, input_size, dtype=np.float32)
    smooth = np.broadcast_to(ramp[None, :] * ramp[:, None], (3, input_size, input_size))
    noise = rng.random((2, 3, input_size, input_size), dtype=np.float32)
    return np.clip(0.7 * smooth[None] + 0.3 * noise, 0.0, 1.0).astype(np.float32)


def onnx_scorer(model: nn.Module, input_size: int) -> tuple[OnnxScorer | None, str]:
    """(an ONNX Runtime scorer for `model`, or None; one line saying which scorer runs and why)."""
    if os.environ.get(SCORER_ENV, "").strip().lower() == "torch":
        return None, f"torch (set by {SCORER_ENV}=torch)"
    try:
        scorer = OnnxScorer(export_graph(model, input_size), model_lock(model))
        probe = probe_batch(input_size)
        with model_lock(model), torch.inference_mode():
            expected = model(torch.from_numpy(probe)).reshape(-1).float().numpy()
        gap = float(np.abs(scorer.logits(probe) - expected).max())
    except Exception as error:  # noqa: BLE001 - any failure here means: score with torch
        return None, f"torch (ONNX Runtime not used: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    if not gap <= PROBE_TOLERANCE:
        return None, f"torch (ONNX Runtime's logits were {gap:.1e} from torch's on the probe, over {PROBE_TOLERANCE:g})"
    return scorer, f"ONNX Runtime {scorer._ort.__version__} (logits within {gap:.1e} of torch's on the probe)"


def copies_scorer(folder: Path | None, config: ModelConfig, lock: threading.RLock) -> tuple[OnnxScorer | None, str]:
    """(the 8-bit scorer for the stability check's copies, or None: they are scored like the faces; one line why)."""
    from detector.checkpoint import WEIGHTS_FILE

    evidence = config.copies_int8
    if os.environ.get(SCORER_ENV, "").strip().lower() == "torch":
        return None, f"like the faces ({SCORER_ENV}=torch)"
    if not evidence or folder is None:
        return None, "like the faces (no int8 copies graph for this model)"
    path = Path(folder) / evidence.get("file", COPIES_FILE)
    if not path.is_file():
        return None, f"like the faces ({path.name} is missing)"
    graph = path.read_bytes()
    if hashlib.sha256(graph).hexdigest() != evidence.get("sha256"):
        return None, f"like the faces ({path.name} is not the file config.json describes)"
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file() or hashlib.sha256(weights.read_bytes()).hexdigest() != evidence.get("weights_sha256"):
        # A new model shipped into the folder: the graph holds the old weights (rerun scripts.quantize_copies).
        return None, f"like the faces ({path.name} was built from other weights)"
    try:
        scorer = OnnxScorer(graph, lock)
        scorer.logits(probe_batch(config.input_size)[:1])
    except Exception as error:  # noqa: BLE001 - a graph this ONNX Runtime cannot run: score the copies like the faces
        return None, f"like the faces ({path.name} not used: {type(error).__name__})"
    return scorer, f"int8 ({path.name}, calibrated on {evidence.get('calibration', {}).get('split', '?')} crops)"
