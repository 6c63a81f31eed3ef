#!/bin/bash
# session 20: the 2.4.0 recipe once more, from 2.4.0 (seed 45); resumable (rerun with --resume)
cd /work/wt/s20
export PYTHONPATH=.
.venv/bin/python -m detector.training.reframed --sources cache/sources --root ../shared/data --init assets/models/dfx-lite0 \
  --out runs/video45 --version 2.5.0-video45 --video-p 0.5 --group-scenes --epochs 2 --samples-per-epoch 6144 \
  --batch-size 32 --lr 1e-4 --workers 2 --val-per-stream 60 --seed 45 "$@"
