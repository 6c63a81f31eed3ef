#!/usr/bin/env bash
# How dfx-lite0 2.1.0 was made: 2.0.0 (scripts/train_reframed.sh) continued in two arms, then their weights
# averaged 50/50 (the mix with the best validation AUC). Steps 1-2 of train_reframed.sh come first (sources, mesh).
#   bash scripts/train_2_1.sh [DATA=../shared/data] [OUT=runs/train]
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/train}
PY=${PY:-.venv/bin/python}
SOURCES=${SOURCES:-cache/sources}
INIT=${INIT:-assets/models/dfx-lite0-2.0.0}
# 1. CPU arm: every training picture in $SOURCES, low learning rate; ~9-18 min per epoch on this 2-core CPU.
#    OMP_WAIT_POLICY=PASSIVE: the data worker and the training threads share two cores.
OMP_WAIT_POLICY=PASSIVE $PY -m detector.training.reframed --sources "$SOURCES" --root "$DATA" --init "$INIT" \
    --out "$OUT/cpu-c1" --version 2.1.0 --epochs 5 --samples-per-epoch 6144 --batch-size 128 --lr 1e-4 --workers 1 \
    --val-per-stream 150 --max-minutes 80 --seed 1 --resume
# 2. GPU arm (a lent GPU machine with 16 cores; 4.7 min on one H200, ~1,000 samples/s). 2.1.0's arm ran while the
#    CPU arm was still training, so it started from the CPU arm's best at that time (epoch 2), and it saw the
#    5,868-picture subset of 2.0.0 (GPU_SOURCES), all the machine's transfer budget allowed.
$PY -m detector.training.reframed --sources "${GPU_SOURCES:-$SOURCES}" --root "$DATA" --init "${GPU_INIT:-$OUT/cpu-c1/best}" \
    --out "$OUT/gpu-g1" --version 2.1.0 --epochs 12 --samples-per-epoch 20480 --batch-size 128 --lr 1e-4 --workers 15 \
    --val-per-stream 150 --max-minutes 6 --seed 2 --score-init
# 3. Weight mixes of the two arms on the same validation crops (--seed 0 = the trainer's --val-seed 0); the best is
#    calibrated and saved (0.0: 0.9328, 0.5: 0.9364, 1.0: 0.9337; 2.0.0: 0.9267).
$PY -m detector.training.soup "$OUT/cpu-c1/best" "$OUT/gpu-g1/best" --alphas 0 0.5 1 --sources "$SOURCES" --root "$DATA" \
    --seed 0 --out "$OUT/dfx-lite0-2.1.0" --version 2.1.0
# 4. Ship: copy into assets/models/dfx-lite0 (the previous model moves to assets/models/dfx-lite0-2.0.0), then
#    python -m scripts.ship_model assets/models/dfx-lite0
#    python -m scripts.write_model_card assets/models/dfx-lite0
#    python -m benchmarks.robustness --limit 60 --export-dir assets/runs/robustness
#    python -m scripts.measure_abstain all --model assets/models/dfx-lite0 --write
