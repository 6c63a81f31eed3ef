# Two arms side by side from 2.1.0 on every training picture (7 data workers each):
#   r288: default streams and framings at 288 px input (seed 7)
#   swap: 224 px, face-swap-heavy fake streams (sbi/swap/inswapper up, GAN/T2I down; reals unchanged) (seed 8)
REPO=$PWD
cp -r .gpu/q2/data/. /root/dfx/data/
echo "pictures: $(find /root/dfx/data -type f | wc -l)"
export PYTHONPATH=$REPO:/root/dfx/site PYTHONUNBUFFERED=1
cd /root/dfx
common="--sources meta --root data --init $REPO/.gpu/q2/init --version 2.3.0 --epochs ${EPOCHS:-12} --samples-per-epoch ${SPE:-16384} --batch-size 128 --lr 1e-4 --workers 7 --val-per-stream 150 --max-minutes ${MINUTES:-6.5} --score-init"
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --out runs/r288 --seed 7 --input-size 288 > runs/r288.log 2>&1 &
timeout ${LIMIT:-480} python3 -m detector.training.reframed $common --out runs/swap --seed 8 \
  --shares fake:dfdc=0.09 fake:sbi=0.14 fake:swap=0.12 fake:inswapper_faceswap=0.04 fake:stylegan1_ffhq=0.03 \
  fake:stylegan2_unsplash=0.02 fake:sd21_faces=0.025 fake:sfhq_t2i_tiles=0.025 fake:t2i_people_scenes=0.01 > runs/swap.log 2>&1 &
wait
for a in r288 swap; do
  echo "== $a"; grep -v -i "warn" runs/$a.log | grep -v "^ *$" | tail -16
  cp runs/$a.log $OUT/$a.log
  [ -d runs/$a/best ] && tar -cf $OUT/${a}_best.tar -C runs/$a best
  cp runs/$a/history.json $OUT/${a}_history.json 2>/dev/null; cp runs/$a/init_val.json $OUT/${a}_init_val.json 2>/dev/null
done
ls -la $OUT
