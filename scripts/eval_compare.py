#!/usr/bin/python3
"""Is a change's effect on the eval battery more than the clips' noise?

usage: eval_compare.py BEFORE_DIR AFTER_DIR

Both folders are scripts/eval_battery.sh results of the same kind (video, or
--stills). For each figure eval_summary.py prints, over the clips both runs
scored (matched by clip path): the figure before and after, their difference
with a 95% paired bootstrap interval over the clips (10000 draws of the
clips with replacement, the same draws for both runs; fixed seed), and on
how many clips the figure went up. A difference whose interval holds 0 is
within what the choice of clips alone moves. Figures:

video: sync (how much closer the own speech puts the mouth than the 1 s
late one, %: one minus the ratio of the mean distances), vox and ret PSNR,
mouth r or LMD/IOD, sharpness and flicker of the reconstructions, and
SpeakerR (dubbed mouth against the speaker's) with the next clip's voice and
with GRID bbaf2n. stills: MouthR and Range on vox and grid, SpeakerR with
GRID bbaf2n and with the next clip's voice.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_summary import lower_by  # noqa: E402  (1 - own / late of the means, %)

DRAWS = 10000


def clips(folder, run, part):
    """Per-clip results of the model in one eval run's part ("systems", or
    "sync" for the sync check's own / 1 s late pairs), by clip path."""
    with open(os.path.join(folder, run + ".json")) as f:
        return {c["clip"]: c for c in json.load(f)[part]["model"]["clips"]}


def figures(video):
    """(label, run, part, clips of ("vox", "grid") or all (None), per-clip key); each figure is the clips'
    mean of its key, the sync check's (key None) the share by which the own speech's mean distance is lower."""
    if video:
        out = [("sync: own closer than 1 s late (%)", "sync", "sync", None, None)]
        for label, key in (("PSNR", "psnr"), ("mouth r", "mouth_corr"), ("sharpness", "mouth_sharpness"),
                           ("flicker", "mouth_flicker")):
            out.append((f"vox {label}", "sync", "systems", None, key))
        for label, key in (("PSNR", "psnr"), ("LMD/IOD", "lmd_norm"), ("sharpness", "mouth_sharpness"),
                           ("flicker", "mouth_flicker")):
            out.append((f"ret {label}", "ret", "systems", None, key))
        out.append(("SpeakerR next", "next", "systems", None, "driver_corr"))
        out.append(("SpeakerR bb", "bb", "systems", None, "driver_corr"))
        return out
    out = []
    for tag in ("vox", "grid"):
        out.append((f"still {tag} MouthR", "still", "systems", tag, "mouth_corr"))
        out.append((f"still {tag} Range", "still", "systems", tag, "mouth_range"))
    out.append(("still SpeakerR bb", "still_bb", "systems", None, "driver_corr"))
    out.append(("still SpeakerR next", "still_next", "systems", None, "driver_corr"))
    return out


def figure_of(key):
    """The figure over a list of per-clip rows."""
    if key is None:
        return lambda rows: lower_by([r["own"] for r in rows], [r["shifted"] for r in rows])
    return lambda rows: sum(r[key] for r in rows) / len(rows)


def compare(before, after):
    video = not os.path.exists(os.path.join(before, "still.json"))
    if video == os.path.exists(os.path.join(after, "still.json")):
        sys.exit("eval_compare: one folder is a --stills battery and the other is not")
    rng = random.Random(1)
    lines = [f"{'figure':<38}{'before':>9}{'after':>9}{'change':>9}  {'95% interval':<19} up on"]
    for label, run, part, subset, key in figures(video):
        figure = figure_of(key)
        a, b = clips(before, run, part), clips(after, run, part)
        names = sorted(n for n in a if n in b and (subset is None or f"/{subset}/" in n))
        if key is not None:
            names = [n for n in names if key in a[n] and key in b[n]]
        if not names:
            continue
        ra, rb = [a[n] for n in names], [b[n] for n in names]
        fa, fb = figure(ra), figure(rb)
        diffs = []
        for _ in range(DRAWS):
            d = [rng.randrange(len(names)) for _ in names]
            diffs.append(figure([rb[i] for i in d]) - figure([ra[i] for i in d]))
        diffs.sort()
        lo, hi = diffs[int(0.025 * DRAWS)], diffs[int(0.975 * DRAWS) - 1]
        up = sum(figure([y]) > figure([x]) for x, y in zip(ra, rb))  # each clip's own figure
        lines.append(f"{label:<38}{fa:9.4f}{fb:9.4f}{fb - fa:+9.4f}  ({lo:+.4f} .. {hi:+.4f}) {up} of {len(names)}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    print(compare(sys.argv[1], sys.argv[2]))
