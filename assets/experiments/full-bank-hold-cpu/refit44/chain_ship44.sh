#!/bin/bash
# the pre-registered steps 3-4 of the soup44 threshold refit (full-bank-hold-cpu README)
cd /work/wt/s19
export PYTHONPATH=.
M=runs/ship44
D=runs/val_eval/ship44
.venv/bin/python -m scripts.judge_candidate score $M --out $D --db runs/val_eval/val.sqlite > runs/logs/ship44_val.log 2>&1 || exit 1
.venv/bin/python -m scripts.judge_candidate judge runs/val_eval/2.3.0 $D > runs/logs/ship44_rule2.txt 2>&1
.venv/bin/python -m scripts.judge_candidate judge runs/val_eval/2.3.0 $D --json > runs/logs/ship44_rule2.json 2>&1
python3 -c "import json,sys; sys.exit(0 if json.load(open('runs/logs/ship44_rule2.json'))['passes'] else 1)" || { echo "rule 2 fails: no test scoring" > runs/logs/ship44.done; exit 0; }
T=runs/ship44_test
.venv/bin/python -m benchmarks.robustness --model $M --limit 60 --export-dir $T --db runs/ship44_test.sqlite > runs/logs/ship44_test.log 2>&1 || exit 1
.venv/bin/python -m benchmarks.robustness --model $M --sets real_groups --limit 400 --export-dir $T --db runs/ship44_test.sqlite > runs/logs/ship44_test_groups.log 2>&1 || exit 1
.venv/bin/python assets/experiments/full-bank-hold-cpu/test_gate.py runs/ship43/ref_2.3.0_test $T > runs/logs/ship44_gate.json 2>&1
echo "scored" > runs/logs/ship44.done
