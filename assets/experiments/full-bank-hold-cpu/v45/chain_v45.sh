#!/bin/bash
# session 20: the pre-registered steps after runs/video45's training (full-bank-hold-cpu README, "The recipe once more")
cd /work/wt/s20
export PYTHONPATH=.
PY=.venv/bin/python
L=runs/logs
while pgrep -f "out runs/video45" > /dev/null; do sleep 20; done
[ -f runs/video45/best/model.safetensors ] || { echo "step 1: no epoch beat the starting weights" > $L/v45.done; exit 0; }
$PY -m detector.training.soup assets/models/dfx-lite0 runs/video45/best --alphas 0.5 --sources cache/sources --root ../shared/data \
    --seed 0 --out runs/soup45 --version 2.5.0 > $L/soup45.log 2>&1 || { echo "soup failed" > $L/v45.done; exit 1; }
$PY -m scripts.judge_candidate score runs/soup45 --out runs/val_eval/soup45 --db runs/val_eval/val.sqlite > $L/soup45_val.log 2>&1 || exit 1
rm -rf runs/ship45 && cp -r runs/soup45 runs/ship45
$PY -m scripts.match_threshold runs/ship45 --reals runs/val_eval/soup45 --reference runs/val_eval/ship44 --write > $L/ship45_match.log 2>&1 || exit 1
$PY -m scripts.set_fake_margin runs/ship45 --limit 0 --layouts 3 --mix test-pool --confidence 0.9 --write > $L/ship45_margin.log 2>&1 || exit 1
$PY -m scripts.judge_candidate score runs/ship45 --out runs/val_eval/ship45 --db runs/val_eval/val.sqlite > $L/ship45_val.log 2>&1 || exit 1
$PY -m scripts.judge_candidate judge runs/val_eval/ship44 runs/val_eval/ship45 > $L/ship45_rule2.txt 2>&1
$PY -m scripts.judge_candidate judge runs/val_eval/ship44 runs/val_eval/ship45 --json > $L/ship45_rule2.json.tmp 2>&1 && mv $L/ship45_rule2.json.tmp $L/ship45_rule2.json
python3 -c "import json,sys; sys.exit(0 if json.load(open('$L/ship45_rule2.json'))['passes'] else 1)" || { echo "rule 2 fails: no test scoring" > $L/v45.done; exit 0; }
T=runs/ship45_test
$PY -m benchmarks.robustness --model runs/ship45 --limit 60 --export-dir $T --db runs/ship45_test.sqlite > $L/ship45_test.log 2>&1 || exit 1
$PY -m benchmarks.robustness --model runs/ship45 --sets real_groups --limit 400 --export-dir $T --db runs/ship45_test.sqlite > $L/ship45_test_groups.log 2>&1 || exit 1
$PY assets/experiments/full-bank-hold-cpu/test_gate.py /work/wt/s19/runs/ship44_test $T > $L/ship45_gate.json.tmp 2>&1 && mv $L/ship45_gate.json.tmp $L/ship45_gate.json
echo "scored" > $L/v45.done
