"""Refit only the classifier head on frozen features (last-layer retraining, Kirichenko et al. 2022, "DFR").

    python -m detector.training.head_refit features MODEL --split train --samples 20000 --out runs/dfr/train \
        --sources cache/sources --root ../shared/data [--framings group=0.25]
    python -m detector.training.head_refit features MODEL --split val --out runs/dfr/val --group-scenes ...
    python -m detector.training.head_refit fit MODEL --train runs/dfr/train --val runs/dfr/val --out runs/dfr/model

Training the whole network further on CPU is slow (~10 samples/s at 288 px) and has raised false alarms on
real faces in group scenes (assets/experiments/gpu-arms-2.4/). The head is 1,281 numbers: refitting it on
pooled features costs seconds once the features exist, and a forward pass alone is about three times
cheaper than a training step. `features` stores the pooled 1,280-d features of training-stream samples (in
resumable chunks) or of the trainer's validation crops; `fit` fits a logistic regression on the training
features, picks its strength and its mix with the old head on the validation crops' mean AUC, and writes a
calibrated checkpoint whose backbone is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from detector.training.compose import framing_weights, parse_shares
from detector.training.reframed import (
    DEFAULT_STREAMS,
    ReframedStream,
    SourceBank,
    ValidationCrops,
    group_scene_report,
    per_set,
    save_calibrated,
    to_input,
    validation_report,
)
from detector.training.sources import sources_problem

CHUNK = 1024


class PooledFeatures(nn.Module):
    """The classifier up to its head: (N, 3, S, S) pixels in [0, 1] -> (N, F) pooled features."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        backbone = self.model.backbone
        x = (pixels - self.model.mean) / self.model.std
        return backbone.forward_head(backbone.forward_features(x), pre_logits=True)


def feature_extractor(model: nn.Module):
    """A function (N, H, W, 3) uint8 crops -> (N, F) float32 features: ONNX Runtime when it runs (about 5x
    torch's speed on this CPU, as for the app's crops), else torch; checked against torch on a probe."""
    net = PooledFeatures(model).eval()

    def with_torch(crops: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return net(to_input(crops, torch.device("cpu"))).float().numpy()

    try:
        import onnxruntime

        from detector.runtime import export_graph

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(export_graph(net, model.config.input_size), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - any failure: torch
        print(f"features by torch ({type(error).__name__})", file=sys.stderr)
        return with_torch

    def with_onnx(crops: torch.Tensor) -> np.ndarray:
        pixels = crops.permute(0, 3, 1, 2).float().div(255.0).numpy()
        return session.run(None, {"pixels": np.ascontiguousarray(pixels)})[0]

    probe = torch.randint(0, 256, (2, model.config.input_size, model.config.input_size, 3), dtype=torch.uint8)
    gap = float(np.abs(with_onnx(probe) - with_torch(probe)).max())
    if not gap < 1e-3:
        print(f"features by torch (ONNX Runtime {gap:.1e} from torch)", file=sys.stderr)
        return with_torch
    return with_onnx


def head_logits(features: np.ndarray, weight: np.ndarray, bias: float) -> np.ndarray:
    return features.astype(np.float64) @ weight.astype(np.float64) + bias


def train_features(model: nn.Module, bank: SourceBank, out: Path, samples: int, seed: int, framings: dict[str, float] | None,
                   workers: int, say, chunk_size: int = CHUNK, streams: dict[str, float] | None = None) -> int:
    """Training-stream samples' features in chunks of chunk_size; a chunk that exists is kept (resumable)."""
    out.mkdir(parents=True, exist_ok=True)
    stream = ReframedStream(bank, streams or DEFAULT_STREAMS, model.config.input_size, model.config.crop_margin, seed, framings)
    (out / "streams.json").write_text(json.dumps(stream.names))
    extract = feature_extractor(model)
    for chunk in range(samples // chunk_size):
        path = out / f"chunk_{chunk:04d}.npz"
        if path.is_file():
            continue
        started = time.time()
        stream.epoch = chunk  # a fresh random draw per chunk
        loader = DataLoader(stream, batch_size=min(64, chunk_size), num_workers=workers)
        feats, labels, streams = [], [], []
        for crops, label, index, _ in loader:
            feats.append(extract(crops))
            labels.append(label.numpy())
            streams.append(index.numpy())
            if sum(len(x) for x in labels) >= chunk_size:
                break
        del loader
        np.savez(path, features=np.concatenate(feats)[:chunk_size].astype(np.float16), labels=np.concatenate(labels)[:chunk_size],
                 streams=np.concatenate(streams)[:chunk_size])
        say(f"chunk {chunk}: {chunk_size / (time.time() - started):.1f} samples/s")
    return 0


def val_features(model: nn.Module, bank: SourceBank, out: Path, per_stream: int, seed: int, group_scenes: bool, workers: int) -> None:
    """The trainer's validation crops (plain, reframed[, group scene]) as features (N, views, F) + picture indices."""
    out.mkdir(parents=True, exist_ok=True)
    crops = ValidationCrops(bank, model.config.input_size, model.config.crop_margin, per_stream, seed, group_scenes=group_scenes)
    extract = feature_extractor(model)
    feats, indices = [], []
    for batch, index in DataLoader(crops, batch_size=32, num_workers=workers):
        n, views = batch.shape[:2]
        feats.append(extract(batch.flatten(0, 1)).reshape(n, views, -1))
        indices.append(index.numpy())
    np.savez(out / "val.npz", features=np.concatenate(feats).astype(np.float16), indices=np.concatenate(indices))
    (out / "val.json").write_text(json.dumps({"per_stream": per_stream, "seed": seed, "group_scenes": group_scenes}))


def load_train(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunks = [np.load(p) for p in sorted(folder.glob("chunk_*.npz"))]
    if not chunks:
        raise FileNotFoundError(f"no feature chunks in {folder}")
    return tuple(np.concatenate([c[k] for c in chunks]) for k in ("features", "labels", "streams"))


def fit_head(features: np.ndarray, labels: np.ndarray, strength: float, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """L2 logistic regression on standardised features, mapped back to a raw-feature weight and bias."""
    from sklearn.linear_model import LogisticRegression

    x = features.astype(np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    model = LogisticRegression(C=strength, max_iter=2000)
    model.fit((x - mean) / std, labels, sample_weight=weights)
    weight = model.coef_[0] / std
    return weight, float(model.intercept_[0] - (mean * weight).sum())


def stream_balance(labels: np.ndarray, streams: np.ndarray) -> np.ndarray:
    """Weights that make every stream count alike and the two classes count alike (DFR's group balance)."""
    weights = np.zeros(len(labels))
    for stream in np.unique(streams):
        weights[streams == stream] = 1.0 / (streams == stream).sum()
    for label in (0, 1):
        weights[labels == label] /= weights[labels == label].sum()
    return weights * len(labels) / weights.sum()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("features", "fit"))
    parser.add_argument("model", type=Path)
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", choices=("train", "val"), default="train")
    parser.add_argument("--samples", type=int, default=CHUNK * 16)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="samples per stored chunk (the unit of resuming)")
    parser.add_argument("--framings", nargs="*", default=[], metavar="FRAMING=WEIGHT")
    parser.add_argument("--shares", nargs="*", default=[], metavar="STREAM=SHARE", help="stream shares, as the trainer's")
    parser.add_argument("--val-per-stream", type=int, default=150)
    parser.add_argument("--group-scenes", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=Path, help="fit: training feature chunks")
    parser.add_argument("--val", type=Path, help="fit: validation features")
    parser.add_argument("--strengths", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.25, 0.5, 1.0], help="share of the refit head in the mix")
    parser.add_argument("--balance", action="store_true", help="weigh every training stream alike")
    parser.add_argument("--max-group-reals", type=float, default=None, metavar="SHARE",
                        help="only heads whose real faces in validation group scenes score above the real crops' 95th "
                             "percentile at most this often may be chosen (needs validation features with --group-scenes)")
    parser.add_argument("--version", default="2.3.1-dev")
    args = parser.parse_args(argv)
    problem = sources_problem(args.sources, args.root)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from detector.checkpoint import load_checkpoint

    model = load_checkpoint(args.model).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    log = open(args.out / "head_refit.log", "a", buffering=1)

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")

    bank_split = args.split if args.step == "features" else "val"
    bank = SourceBank(args.sources, args.root, bank_split)
    if not bank.pictures:
        print(f"error: no {bank_split} pictures under {args.root} for {args.sources}", file=sys.stderr)
        return 2
    if args.step == "features" and args.split == "train":
        try:
            framings = framing_weights(parse_shares(args.framings)) if args.framings else None
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        streams = {**DEFAULT_STREAMS, **parse_shares(args.shares)}
        with torch.no_grad():  # scoped: a process-wide switch would leak into whatever runs next (tests, callers)
            return train_features(model, bank, args.out, args.samples, args.seed, framings, args.workers, say, args.chunk, streams)
    with torch.no_grad():
        if args.step == "features":
            val_features(model, bank, args.out, args.val_per_stream, args.seed, args.group_scenes, args.workers)
            return 0
        return fit(model, bank, args, say)


def fit(model, bank: SourceBank, args, say) -> int:
    """Fit each strength, mix with the old head, score on the validation crops; save the best mean AUC."""
    features, labels, streams = load_train(args.train)
    if labels.min() == labels.max():
        print(f"error: the training features in {args.train} hold one class only", file=sys.stderr)
        return 2
    val = np.load(args.val / "val.npz")
    val_feats, indices = val["features"], val["indices"]
    if args.max_group_reals is not None and val_feats.shape[1] < 3:
        print("error: --max-group-reals needs validation features made with --group-scenes", file=sys.stderr)
        return 2
    classifier = model.backbone.get_classifier()
    old_w, old_b = classifier.weight[0].detach().double().numpy(), float(classifier.bias[0].detach())
    margin = model.config.band()[1] - model.config.threshold
    say(f"{len(labels)} training features ({labels.mean():.2f} fake), {len(indices)} validation pictures x {val_feats.shape[1]} views")

    def score(weight, bias, name):
        logits = np.stack([head_logits(val_feats[:, v], weight, bias) for v in range(val_feats.shape[1])], axis=1)
        report = validation_report(bank, logits, indices)
        record = {"head": name, "val_auc": round(report["mean"], 4), **per_set(report)}
        if val_feats.shape[1] > 2:
            record["val_group"] = group_scene_report(bank, logits, indices, margin)
        say(json.dumps(record))
        return record, logits

    train_auc = _auc(labels, head_logits(features, old_w, old_b))
    say(f"old head on the training features: AUC {train_auc:.4f}")
    results = [score(old_w, old_b, "old")]
    weights = stream_balance(labels, streams) if args.balance else None
    heads = {}
    for strength in args.strengths:
        new_w, new_b = fit_head(features, labels, strength, weights)
        say(f"C={strength}: training AUC {_auc(labels, head_logits(features, new_w, new_b)):.4f}")
        for alpha in args.alphas:
            w, b = (1 - alpha) * old_w + alpha * new_w, (1 - alpha) * old_b + alpha * new_b
            name = f"C={strength} alpha={alpha}"
            heads[name] = (w, b)
            results.append(score(w, b, name))
    eligible = [r for r in results if args.max_group_reals is None or r[0]["val_group"]["reals_above_real_q95"] <= args.max_group_reals]
    if not eligible:
        say(f"no head has at most {args.max_group_reals} of its real group-scene faces above the real crops' 95th percentile")
        return 0
    best_record, best_logits = max(eligible, key=lambda r: r[0]["val_auc"])
    say(f"best: {best_record['head']} (mean val AUC {best_record['val_auc']})")
    if best_record["head"] == "old":
        return 0  # nothing better to save
    w, b = heads[best_record["head"]]
    classifier.weight[0] = torch.from_numpy(w).to(classifier.weight.dtype)
    classifier.bias[0] = b
    config = model.config
    config.version = args.version
    config.training = {**config.training, "head_refit": {"features": str(args.train), "rows": int(len(labels)),
                                                          "head": best_record["head"], "balance": bool(args.balance),
                                                          "max_group_reals": args.max_group_reals,
                                                          "candidates": {r["head"]: r["val_auc"] for r, _ in results}}}
    save_calibrated(model, config, bank, best_logits, indices, args.out / "model")
    say(f"saved {args.out / 'model'}")
    return 0


def _auc(labels: np.ndarray, logits: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, logits))


if __name__ == "__main__":
    raise SystemExit(main())
