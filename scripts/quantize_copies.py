"""Build an int8 scorer for the stability check's changed copies (issue 16's cost), from validation crops only.

    python -m scripts.quantize_copies assets/models/dfx-lite0 [--sources cache/sources] [--root ../shared/data]
        [--per-stream 8] [--format qdq|qoperator] [--out cache/copies.int8.onnx] [--write]

The check re-scores 11 changed copies of every face; this builds an 8-bit version of the model (ONNX Runtime
static quantization: weights per output channel, activations calibrated) that only those copies would be
scored with. A face's own score, and so its band verdict, is never scored by it.

Calibration: validation pictures of the trainer's source lists (detector.training.reframed.SourceBank, split
"val"; never test), `--per-stream` per (label, set) stream with a fixed seed, leaving out the pictures whose
records `scripts.measure_abstain faces` stored for validation (benchmarks/results/abstain_faces_val.json), so the
verdicts the study re-judges there were not calibrated on. Each picture's largest face is cut with the app's crop
policy, and the model sees its plain crop and its 11 changed copies (detector.stability), the inputs the int8 graph
will score. Ranges: min-max over those crops.

Without --write it prints what it measured and writes nothing in the model folder (`--out` saves the graph
elsewhere, for `benchmarks.bench_stability --copies-graph`). With --write it stores the graph as
MODEL/copies.int8.onnx and its evidence in MODEL/config.json under `copies_int8` (the file's SHA-256, the
weights' SHA-256 it was built from, the calibration and the logit gaps on the calibration crops): the runtime
(detector/runtime.py) uses the file only when both hashes match, so a new model shipped into the folder falls
back to the fp32 copies until this script is run again. Run it only for a model whose adoption was measured
(benchmarks/int8_copies.py; README, "Cost").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from detector.checkpoint import CONFIG_FILE, load_checkpoint
from detector.faces import Face, crop_face, square_crop_box
from detector.model import folded_for_inference
from detector.runtime import COPIES_FILE, OnnxScorer, export_graph
from detector.scoring import to_input
from detector.stability import perturbed_crops
from detector.training.sources import sources_problem

FORMATS = ("qdq", "qoperator")
CALIBRATION_BATCH = 12  # one picture's crop and its 11 copies per calibration batch


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def face_of(record: dict, image_size: tuple[int, int], margin: float) -> Face:
    """The largest face a source list recorded for a picture, with the app's crop box."""
    face = record["faces"][0]
    box = tuple(float(v) for v in face["box"])
    fallback = bool(face.get("fallback"))
    landmarks = None if face.get("landmarks") is None else np.asarray(face["landmarks"], np.float32)
    return Face(box, float(face.get("prob") or 0.0), landmarks, square_crop_box(box, image_size, 0.0 if fallback else margin), fallback)


def held_out(records_file: Path | None) -> set[str]:
    """'set/val/real|fake/file' of the pictures the study re-judges on validation (left out of calibration)."""
    if records_file is None or not records_file.is_file():
        return set()
    data = json.loads(records_file.read_text())
    return {f"{r['set']}/val/{'fake' if r['label'] else 'real'}/{r['file']}" for r in data["records"]}


def calibration_pictures(sources: Path, root: Path, per_stream: int, seed: int, leave_out: set[str]) -> list[tuple[Path, dict]]:
    """(file, source record) of `per_stream` validation pictures per (label, set) stream, seeded."""
    from detector.training.reframed import SourceBank

    bank = SourceBank(sources, root, "val")
    records = {r["file"]: r for r in json.loads((sources / "sources.json").read_text())["records"] if r["split"] == "val"}
    rng = np.random.default_rng(seed)
    chosen = []
    for stream in sorted(bank.by_stream):
        files = [bank.pictures[i].file for i in bank.by_stream[stream] if bank.pictures[i].file not in leave_out]
        for i in sorted(rng.choice(len(files), min(per_stream, len(files)), replace=False)):
            chosen.append((root / files[i], records[files[i]]))
    return chosen


def crops_of(path: Path, record: dict, size: int, margin: float) -> np.ndarray:
    """(12, 3, S, S) float32 in [0, 1]: the face's plain crop and its 11 changed copies."""
    image = Image.open(path).convert("RGB")
    face = face_of(record, image.size, margin)
    crops = [crop_face(image, face.crop_box, size), *perturbed_crops(image, face, size, margin)]
    return to_input(crops).numpy()


class Batches:
    """onnxruntime.quantization's CalibrationDataReader protocol over a list of input arrays."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._batches: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict | None:
        batch = next(self._batches, None)
        return None if batch is None else {"pixels": batch}


def quantize(graph: bytes, batches: list[np.ndarray], fmt: str) -> bytes:
    """The int8 graph: weights per output channel, activations' ranges by min-max over `batches`."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:
        fp32, prepared, int8 = (Path(folder) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        fp32.write_bytes(graph)
        quant_pre_process(str(fp32), str(prepared))  # shapes and fused ops first, as ONNX Runtime recommends
        # uint8 activations, int8 weights, full range: ONNX Runtime's advice for x86 CPUs with VNNI.
        quantize_static(str(prepared), str(int8), Batches(batches),
                        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)  # each batch's ranges are reduced in the graph: memory stays flat
        return int8.read_bytes()


def session(graph: bytes):
    """A single-threaded session made exactly as the app makes its own (options included), so timings compare."""
    return OnnxScorer(graph, threading.RLock()).session(1)


def logits(graph_session, batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([graph_session.run(None, {"pixels": b})[0].reshape(-1) for b in batches])


def seconds_per_crop(graph_session, batch: np.ndarray, rounds: int = 5) -> float:
    """Median single-thread seconds per crop in runs of 2 (the app's RUN_CROPS)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(0, len(batch), 2):
            graph_session.run(None, {"pixels": batch[i:i + 2]})
        times.append((time.perf_counter() - start) / len(batch))
    return float(np.median(times))


def build(folder: Path, sources: Path, root: Path, per_stream: int, seed: int, fmt: str,
          records_file: Path | None) -> tuple[bytes, dict]:
    """(int8 graph, evidence) for the model in `folder`."""
    model = load_checkpoint(folder).eval()
    config = model.config
    graph = export_graph(folded_for_inference(model), config.input_size)
    leave_out = held_out(records_file)
    pictures = calibration_pictures(sources, root, per_stream, seed, leave_out)
    batches = [crops_of(path, record, config.input_size, config.crop_margin) for path, record in pictures]
    start = time.perf_counter()
    int8 = quantize(graph, batches, fmt)
    took = time.perf_counter() - start
    exact, fast = session(graph), session(int8)
    gap = np.abs(logits(fast, batches) - logits(exact, batches))
    copies = gap.reshape(len(batches), -1)[:, 1:]
    evidence = {
        "file": COPIES_FILE, "sha256": hashlib.sha256(int8).hexdigest(),
        "weights_sha256": sha256(folder / "model.safetensors"), "model": f"{config.name} {config.version}",
        "format": fmt, "weights": "int8 per output channel", "activations": "uint8, min-max ranges",
        "onnxruntime": __import__("onnxruntime").__version__,
        "calibration": {"split": "val", "sources": str(sources), "per_stream": per_stream, "seed": seed,
                        "pictures": len(pictures), "crops": int(sum(len(b) for b in batches)),
                        "left_out": f"{len(leave_out)} validation pictures the study re-judges ({records_file})",
                        "what": "each picture's largest face: its plain crop and its 11 changed copies"},
        "logit_gap_on_calibration_copies": {"mean": float(copies.mean()), "p99": float(np.quantile(copies, 0.99)),
                                            "max": float(copies.max())},
        "ms_per_crop_one_core": {"fp32": 1000 * seconds_per_crop(exact, batches[0]), "int8": 1000 * seconds_per_crop(fast, batches[0])},
        "seconds_to_quantize": round(took, 1),
    }
    return int8, evidence


def write(folder: Path, int8: bytes, evidence: dict) -> None:
    """The graph beside the weights and its evidence in config.json (the weights stay as they are)."""
    (folder / COPIES_FILE).write_bytes(int8)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    config["copies_int8"] = evidence
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-stream", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=FORMATS, default="qdq")
    parser.add_argument("--leave-out", type=Path, default=Path("benchmarks/results/abstain_faces_val.json"),
                        help="records whose validation pictures stay out of calibration")
    parser.add_argument("--write", action="store_true", help=f"store MODEL/{COPIES_FILE} and config.json's copies_int8")
    parser.add_argument("--out", type=Path, help="also save the graph here (for timing it before adoption: "
                        "benchmarks.bench_stability --copies-graph)")
    args = parser.parse_args(argv)
    problem = sources_problem(args.sources, args.root)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    int8, evidence = build(args.model, args.sources, args.root, args.per_stream, args.seed, args.format, args.leave_out)
    print(json.dumps(evidence, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(int8)
        print(f"wrote {args.out}")
    if args.write:
        write(args.model, int8, evidence)
        print(f"wrote {args.model / COPIES_FILE} and {args.model / CONFIG_FILE} (copies_int8)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
