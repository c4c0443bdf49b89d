#!/usr/bin/python3
"""Does a generated mouth move as a speaker's did? (numpy)

usage: mouth_follow.py GENERATED.json SPEAKER.json [GENERATED2.json SPEAKER2.json ...]
Each file is `synctalkface faces VIDEO --json FILE` output: GENERATED of a
clip (or photo) lip-synced to a speaker's speech, SPEAKER of the video that
speech came from. Per pair: the Pearson correlation of the two mouth-opening
series (inner-lip gaps 61-67, 62-66, 63-65 over the inter-ocular distance,
as docs/metrics.md defines it; frame i with frame i, both at the same fps),
and each series' mean and standard deviation, the amplitude of the motion.
"""
import json
import sys

import numpy as np


def per_frame(path, measure):
    """measure(landmarks (68, 2), inter-ocular distance) for each frame of a faces JSON; nan where it has none."""
    out = []
    for f in json.load(open(path)):
        if f is None or not f.get("landmarks"):
            out.append(np.nan)
            continue
        p = np.array(f["landmarks"], float)
        out.append(measure(p, np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0))))
    return np.array(out)


def opening(path):  # the three inner-lip gaps, mean, over the inter-ocular distance
    gaps = ((61, 67), (62, 66), (63, 65))
    return per_frame(path, lambda p, iod: np.mean([np.linalg.norm(p[a] - p[b]) for a, b in gaps]) / iod)


if __name__ == "__main__":
    for gen_path, spk_path in zip(sys.argv[1::2], sys.argv[2::2]):
        g, s = opening(gen_path), opening(spk_path)
        n = min(len(g), len(s))
        g, s = g[:n], s[:n]
        ok = ~(np.isnan(g) | np.isnan(s))
        r = np.corrcoef(g[ok], s[ok])[0, 1] if ok.sum() >= 10 else float("nan")
        print(f"{gen_path}: r {r:.3f} over {ok.sum()} frames; opening mean/std generated "
              f"{np.nanmean(g):.4f}/{np.nanstd(g):.4f}, speaker {np.nanmean(s):.4f}/{np.nanstd(s):.4f}")
