"""Does OpenVINO score the app's fp32 graph faster than ONNX Runtime on this CPU? (issue 16's cost)

    pip install openvino==2026.4.1      (not in requirements.txt: the study's only extra package)
    python -m benchmarks.bench_openvino [--rounds 20]     -> benchmarks/results/openvino.json

The graph is the one the app scores with (detector/runtime.py: exported in memory from the folded model, 'SAME'
padding fixed); OpenVINO reads the same ONNX bytes in memory (nothing written or downloaded) and compiles it for the
CPU in fp32 (INFERENCE_PRECISION_HINT f32: this CPU's default would be bfloat16, which moves logits), with the
LATENCY performance hint. The inputs are what the check scores for the benchmark photo's face (its crop and its 11
changed copies), in the shapes the check sends: 1 crop (a plain analysis), 8 (the face and its first stage of 7
copies), 5 (a face-filling picture: 3 of those copies reuse the face's crop), 4 (the second stage).

Ways of running the crops, for each runtime:
- `1 thread`: one crop per run on one thread (one core);
- `2 threads, runs of 1`: one crop per run, each layer shared by 2 intra-op threads;
- `2 threads, one run`: the whole call in one run of 2 threads;
- `runs of 1 over the free cores`: single-threaded runs side by side, as many as detector/threads.py says cores are
  free (ONNX Runtime: the app's OnnxScorer; OpenVINO: NUM_STREAMS = 2 of 1 thread each, one infer request per core);
- OpenVINO also with its input shape fixed to one crop (`static shape`: the ONNX graph has a free batch dimension),
  with its threads not pinned to cores (pinned is its default on Linux), and from the torch model converted by
  OpenVINO itself (openvino.convert_model) instead of the ONNX bytes.
Every way is timed round by round, interleaved (ratios within this one run are the numbers to read), on an idle
machine, then next to a `python -c "while True: pass"` child (benchmarks/bench_busy.with_busy_core).
The logits of every way are compared with the torch model as loaded (batch norm not folded) on the 12 crops.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks.common import current_rss_mb, photo_1080p, report

SHAPES = {"1 crop (plain analysis)": 1, "4 crops (second stage)": 4, "5 crops (face-filling picture)": 5,
          "8 crops (face + first stage)": 8}
APP = "onnxruntime, runs of 1 over the free cores (app)"
OV_CORES = "openvino, runs of 1 over the free cores"


def check_crops(detector) -> np.ndarray:
    """The benchmark photo's face crop and its 11 changed copies as (12, 3, S, S) model input."""
    from detector.scoring import to_input
    from detector.stability import all_copies

    photo = photo_1080p()
    face = detector.analyze(photo).faces[0]
    crops = [face.crop] + all_copies(photo, [face.face], detector.config.input_size, detector.config.crop_margin)
    return np.ascontiguousarray(to_input(crops).numpy())


def one_by_one(run: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Crops scored one per run, in order."""
    return lambda pixels: np.concatenate([run(pixels[i : i + 1]) for i in range(len(pixels))])


def over_free_cores(runs: list[Callable[[np.ndarray], np.ndarray]]) -> Callable[[np.ndarray], np.ndarray]:
    """Crops one per run, side by side on the cores detector/threads.py finds free now (runs[k]: the k-th worker's)."""
    from detector.threads import set_cpu_threads

    pool = ThreadPoolExecutor(len(runs), thread_name_prefix="bench-ov")

    def score(pixels: np.ndarray) -> np.ndarray:
        cores = min(set_cpu_threads(), len(runs))
        if cores == 1 or len(pixels) == 1:
            return one_by_one(runs[0])(pixels)
        mine = [list(range(w, len(pixels), cores)) for w in range(cores)]
        done = pool.map(lambda w: [runs[w](pixels[i : i + 1]) for i in mine[w]], range(cores))
        out = np.zeros(len(pixels), np.float32)
        for indices, logits in zip(mine, done):
            out[indices] = np.concatenate(logits)
        return out

    return score


def onnxruntime_ways(app, graph: bytes) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    import onnxruntime

    def session(threads: int):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the app runs it
        return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    one, two = session(1), session(2)

    def runner(s):
        return lambda part: s.run(None, {"pixels": part})[0].reshape(-1)

    return {APP: app.logits, "onnxruntime, 1 thread": one_by_one(runner(one)),
            "onnxruntime, 2 threads, runs of 1": one_by_one(runner(two)), "onnxruntime, 2 threads, one run": runner(two)}


def openvino_compiled(graph, input_size: int, threads: int, streams: int, static: bool = False, pinning: bool = True):
    """The ONNX graph (bytes, in memory; or a model openvino.convert_model made) compiled by OpenVINO for the CPU in
    fp32 with the LATENCY hint; `static`: its input fixed to one crop; `pinning`: threads pinned to cores (the
    default on Linux)."""
    import openvino

    core = openvino.Core()
    model = core.read_model(graph, b"") if isinstance(graph, bytes) else graph
    if static:
        model.reshape([1, 3, input_size, input_size])
    return core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
                                             "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": streams,
                                             "ENABLE_CPU_PINNING": pinning})


def openvino_ways(graph: bytes, input_size: int, folded) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    import openvino
    import torch

    from detector.runtime import with_static_padding

    def runner(request):
        return lambda part: request.infer({0: part})[0].reshape(-1).copy()

    def over_cores(compiled):
        return over_free_cores([runner(compiled.create_infer_request()) for _ in range(2)])

    # The torch model converted by OpenVINO itself (no ONNX in between), padding fixed as in the app's graph.
    converted = openvino.convert_model(with_static_padding(folded, input_size), example_input=torch.zeros(1, 3, input_size, input_size))
    return {"openvino, 1 thread": one_by_one(runner(openvino_compiled(graph, input_size, 1, 1).create_infer_request())),
            "openvino from torch (convert_model), 1 thread":
                one_by_one(runner(openvino_compiled(converted, input_size, 1, 1).create_infer_request())),
            "openvino, 2 threads, runs of 1": one_by_one(two := runner(openvino_compiled(graph, input_size, 2, 1).create_infer_request())),
            "openvino, 2 threads, one run": two,
            OV_CORES: over_cores(openvino_compiled(graph, input_size, 2, 2)),
            f"{OV_CORES}, static shape": over_cores(openvino_compiled(graph, input_size, 2, 2, static=True)),
            f"{OV_CORES}, static shape, not pinned": over_cores(openvino_compiled(graph, input_size, 2, 2, static=True, pinning=False))}


def timed_rounds(ways: dict, pixels: np.ndarray, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per (way, shape), interleaved round by round."""
    times = {way: {shape: [] for shape in SHAPES} for way in ways}
    for _ in range(rounds):
        for way, score in ways.items():
            for shape, n in SHAPES.items():
                start = time.perf_counter()
                score(pixels[:n])
                times[way][shape].append(time.perf_counter() - start)
    return times


def summarise(times: dict) -> dict:
    """Medians (ms), per crop (ms), and the app's ONNX Runtime median over each way's (> 1: faster than the app)."""
    median = {way: {shape: statistics.median(t) * 1000 for shape, t in by_shape.items()} for way, by_shape in times.items()}
    return {"median_ms": median,
            "per_crop_ms": {way: {shape: ms / SHAPES[shape] for shape, ms in m.items()} for way, m in median.items()},
            "app_over_way": {way: {shape: median[APP][shape] / ms for shape, ms in m.items()} for way, m in median.items()},
            # the check's two calls for a face that needs all 11 copies: 8 then 4 crops
            "face_needing_all_11_ms": {way: m["8 crops (face + first stage)"] + m["4 crops (second stage)"] for way, m in median.items()}}


def main(rounds: int) -> dict:
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        print("bench_openvino: OpenVINO is not installed (pip install openvino==2026.4.1)", file=sys.stderr)
        sys.exit(1)
    import torch

    from benchmarks.bench_busy import with_busy_core
    from detector.inference import Detector
    from detector.threads import watched_busy_elsewhere

    detector = Detector()
    pixels = check_crops(detector)
    app = detector.cpu_runtime()
    assert app is not None, f"ONNX Runtime is not in use: {detector.scorer_note}"
    graph, size = app._graph, detector.config.input_size
    rss_before = current_rss_mb()
    import openvino  # what an OpenVINO backend would add to a Detector that already holds ONNX Runtime: from here

    start = time.perf_counter()
    first = openvino_compiled(graph, size, 2, 2)  # what an OpenVINO backend would hold: the way over the free cores
    compile_s = time.perf_counter() - start
    first.create_infer_request().infer({0: pixels[:1]})
    rss_compiled = current_rss_mb() - rss_before
    del first
    ways = {**onnxruntime_ways(app, graph), **openvino_ways(graph, size, detector.scorer)}
    with torch.inference_mode():
        as_loaded = detector.model(torch.from_numpy(pixels).contiguous(memory_format=torch.channels_last)).reshape(-1).float().numpy()
    gaps = {way: float(np.abs(score(pixels) - as_loaded).max()) for way, score in ways.items()}
    gaps["onnxruntime (app) vs openvino, runs of 1"] = float(np.abs(ways[APP](pixels) - ways[OV_CORES](pixels)).max())
    for score in ways.values():  # warm-up of every shape
        for n in SHAPES.values():
            score(pixels[:n])
    idle = summarise(timed_rounds(ways, pixels, rounds)) | {"busy_elsewhere_cores": watched_busy_elsewhere()}
    busy = with_busy_core(lambda: summarise(timed_rounds(ways, pixels, rounds)) | {"busy_elsewhere_cores": watched_busy_elsewhere()})
    rows = [(f"max |logit - torch's| {way}", f"{gap:.1e}", "target <= 1e-4") for way, gap in gaps.items()]
    rows.append(("OpenVINO compile (2 streams x 1 thread)", f"{compile_s * 1000:.0f} ms", f"RSS +{rss_compiled:.0f} MB (import, compile, one crop)"))
    for load, run in (("idle", idle), ("busy core", busy)):
        for way in ways:
            cells = ", ".join(f"{SHAPES[s]}: {run['median_ms'][way][s]:.1f} ms ({run['app_over_way'][way][s]:.2f}x)" for s in SHAPES)
            rows.append((f"{way} ({load})", f"{run['face_needing_all_11_ms'][way]:.0f} ms", f"8+4 crops; per shape: {cells}"))
    return report("openvino", rows, {
        "rounds": rounds, "openvino": openvino.__version__, "onnxruntime": app._ort.__version__, "scorer_note": detector.scorer_note,
        "input_size": size, "shapes": SHAPES, "logit_gap_vs_torch_as_loaded": gaps, "openvino_compile_s": compile_s,
        "openvino_compiled_rss_mb": rss_compiled, "idle": idle, "busy_core": busy,
        "how_to_read": "app_over_way > 1: that way is faster than the app's ONNX Runtime scorer for that shape, same run"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    main(parser.parse_args().rounds)
