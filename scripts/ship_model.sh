#!/usr/bin/env bash
# After scripts/train_default.sh: pick the arm with the higher validation AUC (never the test sets),
# calibrate both on validation crops, evaluate both on every test set, ship the chosen one.
#   bash scripts/ship_model.sh [CACHE=cache/crops] [OUT=runs/train]
set -euo pipefail
CACHE=${CACHE:-cache/crops}
OUT=${OUT:-runs/train}
PY=${PY:-.venv/bin/python}
best() { $PY -c "import json,sys; h=json.load(open('$1/history.json')); print(max(x['val_auc'] for x in h))"; }
if [ "${STAGE2:-0}" != 1 ]; then
base=$(best "$OUT/lite0-base"); sbi=$(best "$OUT/lite0-sbi")
chosen=$($PY -c "print('lite0-sbi' if $sbi > $base else 'lite0-base')")
echo "best val AUC: base $base, sbi $sbi -> shipping $chosen"
for arm in lite0-base lite0-sbi; do
  cp "$OUT/$arm/history.json" "$OUT/$arm/best/history.json"
  cp "$OUT/$arm/train.log" "$OUT/$arm/best/train.log"
  $PY -m detector.calibrate "$OUT/$arm/best" --cache "$CACHE"
done
other=$([ "$chosen" = lite0-base ] && echo lite0-sbi || echo lite0-base)
# Both arms ship (the sidebar can switch); the chosen one under the default name.
rm -rf assets/models/dfx-lite0 "assets/models/dfx-$other" assets/runs/*.json
cp -r "$OUT/$chosen/best" assets/models/dfx-lite0
cp -r "$OUT/$other/best" "assets/models/dfx-$other"
$PY -m benchmarks.eval_model --model assets/models/dfx-lite0 --ship
$PY -m benchmarks.eval_model --model "assets/models/dfx-$other" --ship
else
  # Stage 2 (after the stage-2 command in train_default.sh): the continued base arm replaces
  # dfx-lite0; stage 1's history and log travel with it for the model card.
  #   STAGE2=1 bash scripts/ship_model.sh
  s2="$OUT/lite0-stage2"
  cp "$s2/history.json" "$s2/best/history.json"
  cp "$s2/train.log" "$s2/best/train.log"
  cp assets/models/dfx-lite0/history.json "$s2/best/history_stage1.json"
  cp assets/models/dfx-lite0/train.log "$s2/best/train_stage1.log"
  $PY -m detector.calibrate "$s2/best" --cache "$CACHE"
  old=$($PY -c "import json; print(json.load(open('assets/models/dfx-lite0/config.json'))['version'].replace('+', '-'))")
  rm -rf assets/models/dfx-lite0 assets/runs/dfx-lite0_"$old"_*.json
  cp -r "$s2/best" assets/models/dfx-lite0
  $PY -m benchmarks.eval_model --model assets/models/dfx-lite0 --ship
  $PY -m scripts.write_model_card assets/models/dfx-lite0 --ablation assets/models/sbi_ablation.json
fi
