#!/usr/bin/env bash
# After scripts/train_default.sh: pick the arm with the higher validation AUC (never the test sets),
# calibrate both on validation crops, evaluate both on every test set, ship the chosen one.
#   bash scripts/ship_model.sh [CACHE=cache/crops] [OUT=runs/train]
set -euo pipefail
CACHE=${CACHE:-cache/crops}
OUT=${OUT:-runs/train}
PY=${PY:-.venv/bin/python}
best() { $PY -c "import json,sys; h=json.load(open('$1/history.json')); print(max(x['val_auc'] for x in h))"; }
if [ -z "${NEXT:-}" ] && [ "${STAGE2:-0}" != 1 ]; then
base=$(best "$OUT/lite0-base"); sbi=$(best "$OUT/lite0-sbi")
chosen=$($PY -c "print('lite0-sbi' if $sbi > $base else 'lite0-base')")
echo "best val AUC: base $base, sbi $sbi -> shipping $chosen"
for arm in lite0-base lite0-sbi; do
  cp "$OUT/$arm/history.json" "$OUT/$arm/best/history.json"
  cp "$OUT/$arm/train.log" "$OUT/$arm/best/train.log"
  $PY -m detector.training.calibrate "$OUT/$arm/best" --cache "$CACHE"
done
other=$([ "$chosen" = lite0-base ] && echo lite0-sbi || echo lite0-base)
# Both arms ship (the sidebar can switch); the chosen one under the default name.
rm -rf assets/models/dfx-lite0 "assets/models/dfx-$other" assets/runs/*.json
cp -r "$OUT/$chosen/best" assets/models/dfx-lite0
cp -r "$OUT/$other/best" "assets/models/dfx-$other"
$PY -m scripts.ship_model assets/models/dfx-lite0
$PY -m scripts.ship_model "assets/models/dfx-$other"
else
  # A later stage (see train_default.sh) continued from the shipped model: it replaces dfx-lite0
  # and carries every earlier stage's history and log for the model card.
  #   NEXT=lite0-stage3 bash scripts/ship_model.sh   (STAGE2=1 means NEXT=lite0-stage2)
  next="$OUT/${NEXT:-lite0-stage2}"
  cur=assets/models/dfx-lite0
  cp "$next/history.json" "$next/best/history.json"
  cp "$next/train.log" "$next/best/train.log"
  cp "$cur"/history_stage*.json "$cur"/train_stage*.log "$next/best/" 2>/dev/null || true
  k=$(( $(find "$cur" -maxdepth 1 -name 'history_stage*.json' | wc -l) + 1 ))
  cp "$cur/history.json" "$next/best/history_stage$k.json"
  cp "$cur/train.log" "$next/best/train_stage$k.log"
  $PY -m detector.training.calibrate "$next/best" --cache "$CACHE"
  old=$($PY -c "import json; print(json.load(open('$cur/config.json'))['version'].replace('+', '-'))")
  rm -rf "$cur" assets/runs/dfx-lite0_"$old"_*.json
  cp -r "$next/best" "$cur"
  $PY -m scripts.ship_model "$cur"
  $PY -m scripts.write_model_card "$cur" --ablation assets/models/sbi_ablation.json
fi
