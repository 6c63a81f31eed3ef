#!/usr/bin/env bash
# How the shipped model was trained (CPU, 2 cores): the same budget with and without
# self-blended images, side by side, one thread each, so the SBI comparison is fair.
#   bash scripts/train_default.sh [DATA=../shared/data] [CACHE=cache/crops] [OUT=runs/train]
set -euo pipefail
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-cache/crops}
OUT=${OUT:-runs/train}
MINUTES=${MINUTES:-85}
PY=${PY:-.venv/bin/python}
$PY -m detector.training.prepare "$DATA" --out "$CACHE" --splits train val
common=(--cache "$CACHE" --epochs 12 --samples-per-epoch 3200 --batch-size 32 --lr 4e-4
        --val-max-per-set 800 --patience 4 --threads 1 --seed 0 --max-minutes "$MINUTES" --resume)
mkdir -p "$OUT"
$PY -m detector.training.train "${common[@]}" --out "$OUT/lite0-base" --sbi 0 --version 1.0.0+base > "$OUT/lite0-base.out" 2>&1 &
$PY -m detector.training.train "${common[@]}" --out "$OUT/lite0-sbi" --sbi 0.3 --version 1.0.0+sbi > "$OUT/lite0-sbi.out" 2>&1 &
wait
# Stage 2 (what ships as dfx-lite0 1.1.0): continue the base arm's best checkpoint, both cores,
# with a larger StyleGAN 1 share; stopped by --max-minutes. Then: calibrate, copy to
# assets/models/dfx-lite0, `python -m scripts.ship_model MODEL_DIR`, `python -m scripts.write_model_card`.
$PY -m detector.training.train --cache "$CACHE" --out "$OUT/lite0-stage2" --init "$OUT/lite0-base/best" --epochs 12 \
    --samples-per-epoch 3200 --batch-size 32 --lr 2e-4 --val-max-per-set 800 --patience 6 --threads 2 --seed 1 \
    --max-minutes "${STAGE2_MINUTES:-60}" --version 1.1.0 --resume \
    --shares dfdc=0.5 stylegan1_ffhq=0.26 stylegan2_unsplash=0.12 sd21_faces=0.12 > "$OUT/lite0-stage2.out" 2>&1
# Stage 3 (an experiment, not shipped: assets/experiments/dfx-lite0-1.2.0-stage3): continue stage 2 (1.1.0) with every
# layer trained (the stem and first blocks were frozen at ImageNet weights in stages 1-2) and a larger
# StyleGAN 1 share. Then: NEXT=lite0-stage3 bash scripts/ship_model.sh
$PY -m detector.training.train --cache "$CACHE" --out "$OUT/lite0-stage3" --init "$OUT/lite0-stage2/best" --freeze-blocks 0 \
    --epochs 10 --samples-per-epoch 3200 --batch-size 32 --lr 2e-4 --val-max-per-set 800 --patience 6 --threads 2 \
    --seed 2 --max-minutes "${STAGE3_MINUTES:-85}" --version 1.2.0 --resume \
    --shares dfdc=0.45 stylegan1_ffhq=0.33 stylegan2_unsplash=0.11 sd21_faces=0.11 > "$OUT/lite0-stage3.out" 2>&1
