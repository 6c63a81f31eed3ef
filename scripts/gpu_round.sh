#!/usr/bin/env bash
# A training round on a lent GPU machine, host side (this machine). The device tool sends the checkout the
# session started in, at most 64 MiB a call, and its machine reaches nothing else; so the training pictures
# travel in three chunks under .gpu/ (ignored), and assets/ (70 MB of models and runs) is left out of the
# checkout while the round runs.
#   bash scripts/gpu_round.sh prepare [INIT=assets/models/dfx-lite0]   # pack, stage the start weights, hide assets/
#   ... then three `run` calls, each right after the last (a machine stays warm 30 s):
#     1. carry [".gpu/q0"]: bash scripts/gpu_device.sh setup
#     2. carry [".gpu/q1"]: bash scripts/gpu_device.sh data
#     3. carry [".gpu/q2"], timeout_s 600: MINUTES=8.9 LIMIT=578 bash scripts/gpu_device.sh train
#        (arms: see scripts/gpu_device.sh; its outputs come back under the call's files_at)
#   give_back, then:
#   bash scripts/gpu_round.sh restore                                   # assets/ back
#   then each arm's best on this CPU (~15 min each; the reference's folder once):
#   python -m scripts.judge_candidate score ARM_DIR --out runs/val_eval/ARM   # and the default: --out runs/val_eval/2.4.0
#   python -m scripts.judge_candidate judge runs/val_eval/2.4.0 runs/val_eval/ARM    # R1-R4: a shipping candidate?
# Records of past rounds: assets/experiments/gpu-arms-*/.
set -euo pipefail
PY=${PY:-.venv/bin/python}
INIT=${INIT:-assets/models/dfx-lite0}
case "${1:-}" in
  prepare)
    grep -qx '/.gpu/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-common-dir)/info/exclude"
    if [ ! -d .gpu/q2/data ]; then
      $PY -m scripts.pack_gpu_data --sources "${SOURCES:-cache/sources}" --root "${DATA:-../shared/data}" --out .gpu
    fi
    mkdir -p .gpu/q0/whl .gpu/q2/init
    # facenet-pytorch is the one package the device lacks (torch, timm, cv2, sklearn are there).
    ls .gpu/q0/whl/facenet_pytorch-*.whl >/dev/null 2>&1 || \
      $PY -m pip download --no-deps --only-binary=:all: -d .gpu/q0/whl "$(grep -i '^facenet-pytorch' requirements.txt)"
    rm -rf .gpu/q0/plotly  # training imports no plotly (tests/test_gpu_scripts.py), so no stand-in travels
    cp "$INIT/model.safetensors" "$INIT/config.json" .gpu/q2/init/
    git sparse-checkout set --no-cone '/*' '!/assets/'
    echo "ready: start weights $(python3 -c "import json; print(json.load(open('.gpu/q2/init/config.json'))['version'])"); assets/ hidden until 'restore'"
    du -sh .gpu/q0 .gpu/q1 .gpu/q2
    ;;
  restore)
    git sparse-checkout disable
    echo "assets/ restored"
    ;;
  *)
    echo "usage: bash scripts/gpu_round.sh prepare|restore" >&2
    exit 2
    ;;
esac
