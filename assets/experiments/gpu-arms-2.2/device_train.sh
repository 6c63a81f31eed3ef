# Two arms side by side from 2.1.0 on every training picture (7 data workers each):
#   g2a default framings, seed 5;  g2b more multi-face framings (canvas/grid), seed 6.
REPO=$PWD
cp -r .gpu/q2/data/. /root/dfx/data/
echo "pictures: $(find /root/dfx/data -type f | wc -l)"
export PYTHONPATH=$REPO:/root/dfx/site PYTHONUNBUFFERED=1
cd /root/dfx
common="--sources meta --root data --init $REPO/.gpu/q2/init --version 2.2.0 --epochs ${EPOCHS:-12} --samples-per-epoch ${SPE:-16384} --batch-size 128 --lr 1e-4 --workers 7 --val-per-stream 150 --max-minutes ${MINUTES:-6.5} --score-init"
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --out runs/g2a --seed 5 > runs/g2a.log 2>&1 &
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --out runs/g2b --seed 6 --framings plain=0.2 canvas=0.3 post=0.15 screenshot=0.1 grid=0.25 > runs/g2b.log 2>&1 &
wait
for a in g2a g2b; do
  echo "== $a"; grep -v -i "warn" runs/$a.log | grep -v "^ *$" | tail -16
  cp runs/$a.log $OUT/$a.log
  [ -d runs/$a/best ] && tar -cf $OUT/${a}_best.tar -C runs/$a best
  cp runs/$a/history.json $OUT/${a}_history.json 2>/dev/null; cp runs/$a/init_val.json $OUT/${a}_init_val.json 2>/dev/null
done
ls -la $OUT
