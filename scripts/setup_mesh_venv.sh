#!/usr/bin/env bash
# A separate venv for MediaPipe Face Mesh (training-data preparation only: mediapipe 0.10.14 needs
# numpy<2, the app uses numpy 2). Usage: bash scripts/setup_mesh_venv.sh [VENV=.venv-mesh]
set -euo pipefail
VENV=${VENV:-.venv-mesh}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --no-deps mediapipe==0.10.14
"$VENV/bin/pip" install -q "numpy<2" absl-py attrs flatbuffers "protobuf>=4.25.3,<5" \
    opencv-contrib-python-headless==4.11.0.86 matplotlib pillow
echo "ok: $VENV/bin/python -m detector.training.mesh cache/sources"
