#!/usr/bin/env bash
# The training commands themselves on a GPU (docs/gpu.md), after
# scripts/gpu_check.sh has built the training-only CLI (-DSTF_MODEL_ONLY=ON)
# into BUILD_DIR. DATASET is a folder made by `synctalkface preprocess` on
# another machine (the GPU machine needs no OpenCV, FFmpeg or dlib).
#
# For each configuration: train-sync, then train with that expert (all six
# losses), then the same training resumed from its middle checkpoint in a
# second folder, whose losses are compared with the uninterrupted run's;
# then, for the lite configuration, the data augmentations (train-sync
# --augment --augment-audio) and a new run from the trained weights (train
# --init ... --no-av --no-gan --augment-audio, as scripts/train_default_model.sh
# ends); finally the lite generator is exported, to run `generate` with it elsewhere.
#
#   scripts/gpu_train_check.sh BUILD_DIR DATASET WORK_DIR
#   env: TRAIN_CONFIGS="lite paper", SYNC_STEPS=300, GEN_STEPS=200, DEVICE=cuda, WORKERS=8,
#        LOG_EVERY=10 (the logged losses are means since the last log line, so
#        GEN_STEPS/2 must be a multiple of it for the resume comparison),
#        DETERMINISTIC=1 (train with --deterministic: the resume must then match exactly)
set -euo pipefail
BUILD=$1 DATA=$2 WORK=$3
CLI=$BUILD/synctalkface
DEVICE=${DEVICE:-cuda}
SYNC_STEPS=${SYNC_STEPS:-300}
GEN_STEPS=${GEN_STEPS:-200}
HALF=$((GEN_STEPS / 2))
COMMON="--data $DATA --device $DEVICE --workers ${WORKERS:-8} --log-every ${LOG_EVERY:-10}"
[ -n "${DETERMINISTIC:-}" ] && COMMON="$COMMON --deterministic"
mkdir -p "$WORK"
for config in ${TRAIN_CONFIGS:-lite paper}; do
  echo "== $config: train-sync, $SYNC_STEPS steps"
  SECONDS=0
  "$CLI" train-sync $COMMON --config "$config" --out "$WORK/sync-$config" --steps "$SYNC_STEPS" \
    --batch 32 --val-every $((SYNC_STEPS / 3)) --ckpt-every "$SYNC_STEPS"
  echo "train-sync $config: $SECONDS s wall"
  echo "== $config: train, $GEN_STEPS steps, all six losses"
  SECONDS=0
  "$CLI" train $COMMON --config "$config" --sync "$WORK/sync-$config/best.ckpt" --out "$WORK/gen-$config" \
    --steps "$GEN_STEPS" --val-every "$HALF" --ckpt-every "$HALF" --sample-every "$HALF"
  echo "train $config: $SECONDS s wall"
  echo "== $config: resumed from step $HALF"
  mkdir -p "$WORK/resume-$config"
  "$CLI" train $COMMON --config "$config" --sync "$WORK/sync-$config/best.ckpt" --out "$WORK/resume-$config" \
    --steps "$GEN_STEPS" --val-every "$HALF" --ckpt-every "$HALF" --sample-every 0 \
    --resume "$WORK/gen-$config/step_$HALF.ckpt"
  # Every logged step after the resume point: largest relative difference of any loss.
  python3 - "$WORK/gen-$config/log.jsonl" "$WORK/resume-$config/log.jsonl" "$HALF" <<'EOF'
import json, sys
def steps(path):
    rows = [json.loads(l) for l in open(path)]
    return {r["step"]: r for r in rows if "step" in r and "total" in r}
a, b, half = steps(sys.argv[1]), steps(sys.argv[2]), int(sys.argv[3])
common = sorted(s for s in a if s > half and s in b)
worst = 0.0
for s in common:
    for k, v in a[s].items():
        if isinstance(v, float) and k in b[s] and k not in ("time", "elapsed", "steps_per_s", "lr"):
            worst = max(worst, abs(v - b[s][k]) / max(abs(v), 1e-6))
print(f"resume check: {len(common)} logged steps compared, largest relative loss difference {worst:.3g}")
EOF
done
if [ -f "$WORK/gen-lite/best.ckpt" ]; then
  echo "== lite: train-sync --augment --augment-audio, $HALF steps"
  "$CLI" train-sync $COMMON --config lite --out "$WORK/sync-aug" --steps "$HALF" --batch 32 \
    --val-every "$HALF" --ckpt-every "$HALF" --augment --augment-audio
  echo "== lite: train --init (new run from gen-lite's weights), $HALF steps, --no-av --no-gan --augment-audio"
  "$CLI" train $COMMON --config lite --out "$WORK/init-lite" --init "$WORK/gen-lite/best.ckpt" \
    --steps "$HALF" --val-every "$HALF" --ckpt-every "$HALF" --sample-every 0 --no-av --no-gan --augment-audio
fi
if [ -f "$WORK/gen-lite/best.ckpt" ]; then "$CLI" export "$WORK/gen-lite/best.ckpt" --out "$WORK/gen-lite.stfm"; fi
