#!/usr/bin/env bash
# Trains the bundled default model (models/synctalkface_lite.stfm) from
# ../shared/data with the project's own commands. Every step resumes: run it
# again after an interruption. Output goes to runs/ (git-ignored).
#   scripts/train_default_model.sh [FINAL_STEPS]
# FINAL_STEPS: steps of the last stage (5 below); models/README.md has the
# figures of the run that made the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/synctalkface}
DATA=${DATA:-../shared/data}
STEPS=${1:-3000}
RUNS=runs
mkdir -p "$RUNS"

# 1. Synthetic clips: espeak-ng speech over ~600 photos of different people
#    (identity diversity the real clips lack), two processes for two cores.
"$BIN" synth --faces "$DATA/faces" --out "$RUNS/synth_a" --clips 300 --seed 11 --threads 1 > "$RUNS/synth_a.log" 2>&1 &
A=$!
"$BIN" synth --faces "$DATA/faces" --out "$RUNS/synth_b" --clips 300 --seed 22 --threads 1 > "$RUNS/synth_b.log" 2>&1 &
B=$!
wait $A || { tail -n 1 "$RUNS/synth_a.log"; exit 1; }
wait $B || { tail -n 1 "$RUNS/synth_b.log"; exit 1; }

# 2. Face crops at 96 px, mel, landmarks. The VoxCeleb2 clips (9 people never
#    seen in training) are the validation split.
"$BIN" preprocess "$DATA/grid_s1" "$DATA/grid" "$DATA/retalking" "$DATA/vox" "$RUNS/synth_a" "$RUNS/synth_b" \
  --out "$RUNS/data96" --size 96 --val-match /vox/

# 3. SyncNet expert (needed for L_av).
"$BIN" train-sync --data "$RUNS/data96" --config lite --out "$RUNS/sync96" --steps 2000 \
  $( [ -f "$RUNS/sync96/last.ckpt" ] && echo --resume "$RUNS/sync96/last.ckpt" )

# 4. Generator with the Audio-Lip Memory and all losses but L_gan (the quality
#    discriminator needs far more steps than 2 CPU cores give), 4250 steps,
#    then 1500 more with the speech augmented (--augment-audio).
resume() { [ -f "$1/last.ckpt" ] && echo --resume "$1/last.ckpt"; }
"$BIN" train --data "$RUNS/data96" --config lite --sync "$RUNS/sync96/best.ckpt" --out "$RUNS/gen96" \
  --steps 4250 --no-gan --val-every 250 --ckpt-every 250 --sample-every 500 $(resume "$RUNS/gen96")
"$BIN" train --data "$RUNS/data96" --config lite --sync "$RUNS/sync96/best.ckpt" --out "$RUNS/gen_audio" \
  --steps 5750 --no-gan --augment-audio --val-every 250 --ckpt-every 250 --sample-every 500 \
  --resume "$( [ -f "$RUNS/gen_audio/last.ckpt" ] && echo "$RUNS/gen_audio/last.ckpt" || echo "$RUNS/gen96/last.ckpt")"

# 5. A new run from those weights without L_av: the expert does not tell
#    sync on people it never saw, and against it the generator learns red
#    blobs the expert likes (models/README.md, session 7).
"$BIN" train --data "$RUNS/data96" --config lite --out "$RUNS/gen_noav" \
  --steps "$STEPS" --no-gan --no-av --augment-audio --val-every 250 --ckpt-every 250 --sample-every 250 \
  $(resume "$RUNS/gen_noav" || echo --init "$RUNS/gen_audio/last.ckpt")

# 6. Weights only, fp16: the file that ships in models/.
"$BIN" export "$RUNS/gen_noav/best.ckpt" --out models/synctalkface_lite.stfm
