#!/usr/bin/env bash
# The evaluations every change to the model or the paste-back is judged by
# (models/README.md, sessions 29-32 and, for photos, 35-42), then one summary line.
#
# usage: scripts/eval_battery.sh [--stills] OUT_DIR [extra eval options...]
#   BIN=path   the synctalkface binary (default build/synctalkface; copy it
#              elsewhere first if you will rebuild while this runs)
#   DATA=path  the shared data (default ../shared/data)
#
# Four runs of `eval` on the 9 held-out VoxCeleb2 faces and the 5 presenter
# clips, their JSON and logs in OUT_DIR (about 7-15 minutes on 2 cores):
#   sync   vox, each clip from its own speech and from it 1 s late (issue 6's check)
#   next   vox, each face dubbed with the next clip's speech (SpeakerR)
#   ret    retalking presenters re-generated from their own speech (PSNR, SSIM, LMD)
#   bb     vox, each face dubbed with GRID s1 bbaf2n (clean speech; SpeakerR)
# With --stills, instead three runs of `eval --still` (the photo path: each
# clip's most closed-mouthed frame made to speak; about 4 minutes):
#   still       vox and grid, each photo from its clip's speech (MouthR, Range)
#   still_bb    vox photos dubbed with GRID s1 bbaf2n (SpeakerR)
#   still_next  vox photos dubbed with the next clip's speech (SpeakerR)
# Two such folders (a change and what it changes) are compared clip by clip,
# each figure's change with a 95% paired interval, by scripts/eval_compare.py.
set -euo pipefail
stills=0
if [ "${1:-}" = "--stills" ]; then
  stills=1
  shift
fi
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
out=$1
shift
extra=("$@")  # options after OUT_DIR go to every eval
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$here/build/synctalkface}
data=${DATA:-$here/../shared/data}
[ -x "$bin" ] || { echo "eval_battery: no binary at $bin (build first, or set BIN)" >&2; exit 2; }
[ -d "$data/vox" ] || { echo "eval_battery: no $data/vox (set DATA to the shared data folder)" >&2; exit 2; }
mkdir -p "$out"

run() {  # name, eval options...
  local name=$1
  shift
  echo "eval_battery: $name" >&2
  "$bin" eval "$@" --json "$out/$name.json" "${extra[@]}" > "$out/$name.log" 2>&1 ||
    { echo "eval_battery: $name failed, see $out/$name.log" >&2; exit 1; }
}
if [ $stills = 1 ]; then
  run still --still --data "$data/vox" "$data/grid"
  run still_bb --still --mode dub --data "$data/vox" --audio "$data/grid_s1/bbaf2n.mp4"
  run still_next --still --mode dub --data "$data/vox"
else
  run sync --mode sync --data "$data/vox"
  run next --mode dub --data "$data/vox"
  run ret --data "$data/retalking"
  run bb --mode dub --data "$data/vox" --audio "$data/grid_s1/bbaf2n.mp4"
fi
/usr/bin/python3 "$here/scripts/eval_summary.py" "$out"
