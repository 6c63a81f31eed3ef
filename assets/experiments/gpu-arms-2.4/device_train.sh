# Two arms side by side from 2.3.0 (288 px) on every training picture (7 data workers each):
#   cont:  default streams and framings, 288 px (seed 21): does a longer run keep paying?
#   group: the same plus the `group` framing at weight 0.25 (seed 22): does it lower false alarms in group photos at GPU scale?
REPO=$PWD
cp -r .gpu/q2/data/. /root/dfx/data/
echo "pictures: $(find /root/dfx/data -type f | wc -l)"
export PYTHONPATH=$REPO:/root/dfx/site PYTHONUNBUFFERED=1
cd /root/dfx
common="--sources meta --root data --init $REPO/.gpu/q2/init --version 2.4.0-dev --samples-per-epoch ${SPE:-16384} --batch-size 128 --lr 1e-4 --workers 7 --val-per-stream 150 --max-minutes ${MINUTES:-6.5} --score-init --input-size 288"
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --epochs ${EPOCHS_A:-12} --out runs/cont --seed 21 > runs/cont.log 2>&1 &
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --epochs ${EPOCHS_B:-11} --out runs/group --seed 22 --framings group=0.25 > runs/group.log 2>&1 &
wait
for a in cont group; do
  echo "== $a"; grep -v -i "warn" runs/$a.log | grep -v "^ *$" | tail -16
  cp runs/$a.log $OUT/$a.log
  [ -d runs/$a/best ] && tar -cf $OUT/${a}_best.tar -C runs/$a best
  cp runs/$a/history.json $OUT/${a}_history.json 2>/dev/null; cp runs/$a/init_val.json $OUT/${a}_init_val.json 2>/dev/null
done
ls -la $OUT
