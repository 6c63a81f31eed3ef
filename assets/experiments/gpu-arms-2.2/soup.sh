set -e
PY=/work/main/.venv/bin/python
S="--sources cache/sources --root ../shared/data --seed 0 --version 2.2.0"
nice -n 5 $PY -m detector.training.soup runs/train/g2a/best runs/train/g2b/best --alphas 0 0.5 1 $S --out runs/train/g2ab
nice -n 5 $PY -m detector.training.soup assets/models/dfx-lite0 runs/train/g2ab --alphas 0 0.33 0.5 0.67 1 $S --out runs/train/dfx-lite0-2.2.0
