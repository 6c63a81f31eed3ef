#!/usr/bin/env bash
# A training round on a lent GPU machine, device side: runs there, from the carried checkout
# (see scripts/gpu_round.sh for the host side and the three calls).
#   bash scripts/gpu_device.sh setup    # chunk q0: pictures, metadata, facenet-pytorch
#   bash scripts/gpu_device.sh data     # chunk q1: pictures
#   bash scripts/gpu_device.sh train    # chunk q2: pictures, start weights; trains the arms side by side
# Arms: ARMS holds one arm per line, "name seed extra-trainer-args..."; the default pair is the next round
# session 15 asks for (assets/experiments/hold-reals-cpu/): every continuation of 2.3.0 so far let real faces
# in group scenes drift towards "fake", which --hold-reals 1 is meant to stop (on the CPU it held DFDC's real
# faces but cost a little elsewhere); so both arms hold real faces, one with H.264 video frames half of the
# time (--video-p 0.5: the codec gain of assets/experiments/video-frames-cpu-long/; session 16's CPU run at 0.3,
# assets/experiments/video03-hold-cpu/, kept less of the gain and cost as much elsewhere) and its control without
# them, both saving only epochs whose real faces in group scenes are not called likely manipulated more often
# than the start's (+0.005). An arm with --video-p needs PyAV with libx264 on the device: `setup` says
# whether it is there, and `train` skips such an arm (one line) where it is not. DRY=1 prints the trainer
# commands only (VIDEO_OK=0|1 stands in for the check).
set -uo pipefail
WORK=${WORK:-/root/dfx}
REPO=$PWD
DEFAULT_ARMS="video 31 --hold-reals 1 --video-p 0.5
hold 32 --hold-reals 1"
ARMS=${ARMS:-$DEFAULT_ARMS}
common="--sources $WORK/meta --root $WORK/data --init $REPO/.gpu/q2/init --version ${VERSION:-2.4.0-dev} --epochs ${EPOCHS:-12} \
--samples-per-epoch ${SPE:-16384} --batch-size 128 --lr ${LR:-1e-4} --workers ${WORKERS:-7} --val-per-stream 150 \
--max-minutes ${MINUTES:-6.5} --score-init --group-scenes --max-group-reals-rise ${RISE:-0.005}"
video_ok() {  # PyAV with an H.264 encoder, as compose.h264_roundtrip needs
  if [ -n "${VIDEO_OK:-}" ]; then [ "$VIDEO_OK" = 1 ]; return; fi
  PYTHONPATH=$REPO:$WORK/site python3 -c "import av; av.codec.Codec('libx264', 'w')" >/dev/null 2>&1
}
runnable() {  # whether an arm's extra arguments can run here; says why not on stderr
  case " $2 " in
    *" --video-p "*) video_ok || { echo "skipped arm $1: --video-p needs PyAV with libx264, not on this machine" >&2; return 1; } ;;
  esac
}
case "${1:-}" in
  setup)
    set -e
    mkdir -p "$WORK/meta" "$WORK/site" "$WORK/data" "$WORK/runs"
    cp -r .gpu/q0/data/. "$WORK/data/"
    cp .gpu/q0/meta/*.gz "$WORK/meta/" && gunzip -f "$WORK"/meta/*.gz
    python3 -m pip install -q --no-index --no-deps --target "$WORK/site" .gpu/q0/whl/*.whl
    PYTHONPATH=$REPO:$WORK/site python3 -c "import detector.training.reframed, detector.training.calibrate, torch, timm; print(torch.__version__, timm.__version__, torch.cuda.get_device_name())"
    echo "pictures: $(find "$WORK/data" -type f | wc -l)"; nproc
    if video_ok; then echo "H.264 video frames: yes"; else echo "H.264 video frames: no (arms with --video-p will be skipped)"; fi
    ;;
  data)
    cp -r .gpu/q1/data/. "$WORK/data/" && echo "pictures: $(find "$WORK/data" -type f | wc -l)"
    ;;
  train)
    if [ "${DRY:-0}" = 1 ]; then
      while read -r name seed extra; do
        [ -n "$name" ] && runnable "$name" "$extra" && echo "python3 -m detector.training.reframed $common --out $WORK/runs/$name --seed $seed $extra"
      done <<< "$ARMS"
      exit 0
    fi
    mkdir -p "$WORK/runs"
    cp -r .gpu/q2/data/. "$WORK/data/"
    echo "pictures: $(find "$WORK/data" -type f | wc -l)"
    export PYTHONPATH=$REPO:$WORK/site PYTHONUNBUFFERED=1
    names=()
    while read -r name seed extra; do
      [ -z "$name" ] && continue
      runnable "$name" "$extra" || continue
      names+=("$name")
      # shellcheck disable=SC2086  # the arm's extra arguments are meant to split
      timeout "${LIMIT:-480}" python3 -m detector.training.reframed $common --out "$WORK/runs/$name" --seed "$seed" $extra \
        > "$WORK/runs/$name.log" 2>&1 &
    done <<< "$ARMS"
    wait
    for name in "${names[@]}"; do
      echo "== $name"; grep -v -i "warn" "$WORK/runs/$name.log" | grep -v "^ *$" | tail -16 | cut -c1-400
      cp "$WORK/runs/$name.log" "$OUT/$name.log"
      [ -d "$WORK/runs/$name/best" ] && tar -cf "$OUT/${name}_best.tar" -C "$WORK/runs/$name" best
      cp "$WORK/runs/$name/history.json" "$OUT/${name}_history.json" 2>/dev/null
      cp "$WORK/runs/$name/init_val.json" "$OUT/${name}_init_val.json" 2>/dev/null
    done
    ls -la "$OUT"
    ;;
  *)
    echo "usage: bash scripts/gpu_device.sh setup|data|train" >&2
    exit 2
    ;;
esac
