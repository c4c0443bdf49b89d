#!/usr/bin/env bash
# The ablation study (PAPER.md's table, issue #7) at the lite configuration,
# with the project's own commands: every row trains from the same seed for
# the same number of steps on the same data, then is evaluated on
#   (a) GRID s1 sentences kept out of training (the speaker is known, the
#       sentences are not), and
#   (b) the VoxCeleb2 clips (people never trained on).
# Rows: reference copy (from eval), no memory + L_av (Wav2Lip-style),
# memory + L_av, memory + L_vv, memory + L_av + L_vv, and the last with
# 24 / 48 / 120 slots (96 is the row before). L_gan is off in every row.
#
#   scripts/run_ablation.sh [STEPS] [OUT]      (default 3000 steps, runs/ablation)
#   environment: BIN (the program), DATA (../shared/data), HELDOUT (20),
#   SYNC_STEPS (2000), REUSE (a dataset folder whose tracked clips to keep)
#
# Every step resumes, so the script can be run again after an interruption.
# On 2 CPU cores a lite step takes ~1.2 s: 7 rows x 3000 steps is about 7
# hours of training. The table is written to OUT/results.md (copy it into
# docs/results.md with the date and the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/synctalkface}
DATA=${DATA:-../shared/data}
STEPS=${1:-3000}
OUT=${2:-runs/ablation}
HELDOUT=${HELDOUT:-20}          # GRID s1 sentences kept out of training
SYNC_STEPS=${SYNC_STEPS:-2000}
mkdir -p "$OUT"

# Data: GRID s1 minus the held-out sentences, other GRID speakers, presenter
# clips, synthetic clips if scripts/train_default_model.sh made them; the
# VoxCeleb2 people are the validation split.
ls "$DATA"/grid_s1/*.mp4 | sort > "$OUT/grid_s1_all.txt"
tail -n "$HELDOUT" "$OUT/grid_s1_all.txt" > "$OUT/heldout.txt"
# The training sentences as a folder of links, so clip ids are the file
# names, as in scripts/train_default_model.sh's dataset.
mkdir -p "$OUT/grid_s1_train"
head -n -"$HELDOUT" "$OUT/grid_s1_all.txt" | while read -r f; do ln -sf "$(realpath "$f")" "$OUT/grid_s1_train/"; done
inputs=("$OUT/grid_s1_train" "$DATA/grid" "$DATA/retalking" "$DATA/vox")
for s in runs/synth_a runs/synth_b; do [ -d "$s" ] && inputs+=("$s"); done
# preprocess keeps clips already in the dataset folder: REUSE=runs/data96
# (the default model's dataset, same inputs and size) saves the tracking.
if [ -n "${REUSE:-}" ] && [ ! -d "$OUT/data/clips" ]; then
  mkdir -p "$OUT/data/clips" && cp -al "$REUSE/clips/." "$OUT/data/clips/"
fi
"$BIN" preprocess "${inputs[@]}" --out "$OUT/data" --size 96 --val-match /vox/

resume() { [ -f "$1/last.ckpt" ] && echo --resume "$1/last.ckpt" || true; }
"$BIN" train-sync --data "$OUT/data" --config lite --out "$OUT/sync" --steps "$SYNC_STEPS" $(resume "$OUT/sync")

train_row() {  # name, flags...
  local name=$1; shift
  "$BIN" train --data "$OUT/data" --config lite --sync "$OUT/sync/best.ckpt" --out "$OUT/$name" \
    --steps "$STEPS" --seed 1 --no-gan --val-every 250 --ckpt-every 250 --sample-every 1000 "$@" $(resume "$OUT/$name")
}
train_row no_memory_av --no-memory --no-vv
train_row memory_av --no-vv
train_row memory_vv --no-av
train_row memory_av_vv
for slots in 24 48 120; do train_row "memory_av_vv_slots$slots" --slots "$slots"; done

# Evaluation: each row's best checkpoint (by validation L1) on both sets.
rows=(no_memory_av memory_av memory_vv memory_av_vv memory_av_vv_slots24 memory_av_vv_slots48 memory_av_vv_slots120)
for row in "${rows[@]}"; do
  for set in heldout vox; do
    json="$OUT/eval_${row}_${set}.json"
    [ -f "$json" ] && continue
    if [ "$set" = heldout ]; then clips=$(cat "$OUT/heldout.txt"); else clips="$DATA/vox"; fi
    "$BIN" eval --data $clips --model "$OUT/$row/best.ckpt" --sync "$OUT/sync/best.ckpt" --json "$json"
  done
done

# The table (reference copy and real rows come from any eval file).
/usr/bin/python3 - "$OUT" "${rows[@]}" <<'EOF'
import json, sys
out, rows = sys.argv[1], sys.argv[2:]
def mean(row, s, system="model"):
    return json.load(open(f"{out}/eval_{row}_{s}.json"))["systems"][system]["mean"]
keys = [("psnr", "PSNR", "%.2f"), ("ssim", "SSIM", "%.4f"), ("lmd_norm", "LMD/IOD", "%.4f"),
        ("lse_d", "LSE-D*", "%.3f"), ("lse_c", "LSE-C*", "%.3f")]
def cells(m):
    return " | ".join((f % m[k]) if isinstance(m.get(k), (int, float)) else str(m.get(k, "-")) for k, _, f in keys)
lines = ["| row | " + " | ".join(f"{n} (a)" for _, n, _ in keys) + " | " + " | ".join(f"{n} (b)" for _, n, _ in keys) + " |",
         "|---" * (1 + 2 * len(keys)) + "|"]
for label, system in (("real (ceiling)", "real"), ("reference copy", "reference_copy")):
    lines.append(f"| {label} | {cells(mean(rows[0], 'heldout', system))} | {cells(mean(rows[0], 'vox', system))} |")
for r in rows:
    lines.append(f"| {r} | {cells(mean(r, 'heldout'))} | {cells(mean(r, 'vox'))} |")
open(f"{out}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
