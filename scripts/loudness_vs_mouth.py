#!/usr/bin/python3
"""How well does the speech's loudness predict the real mouth opening? (numpy)

usage: loudness_vs_mouth.py CLIP.json [CLIP2.json ...]
Each CLIP.json is `synctalkface faces CLIP --json CLIP.json`, with beside it
CLIP.npy from `synctalkface mel CLIP --out CLIP.npy` and, for a clip not at
25 fps, CLIP.fps holding its frame rate. Per clip: the Pearson correlation of
the mouth opening (inner-lip gaps over the inter-ocular distance, as
scripts/mouth_follow.py) with loudness features of the normalised log-mel,
each taken per frame from 40 ms before to 80 ms after it, as
`frame_loudness` (src/audio/mel.cpp) does for --ref-choice:
  mean          the mean over the 80 bands (what --ref-choice uses)
  voice         the bands of 250-4000 Hz
  excess        each band above its 10th percentile over the clip, mean over the bands
  excess_voice  the same over 250-4000 Hz
  excess_f1     the same over 300-1200 Hz (the first formant)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mouth_follow import opening  # noqa: E402  (mouth opening per frame of a faces JSON)


def band_centres():  # the mel filterbank's centres: 80 bands over 55-7600 Hz (HTK mel scale)
    lo, hi = 2595 * np.log10(1 + 55 / 700), 2595 * np.log10(1 + 7600 / 700)
    pts = np.linspace(lo, hi, 82)
    return 700 * (10 ** (pts[1:-1] / 2595) - 1)


def per_frame(column, frames, fps):
    out = np.zeros(frames)
    for i in range(frames):
        at = int(np.floor(80 * i / fps + 1e-9))
        a = min(max(at - 3, 0), len(column) - 1)
        b = min(max(at + 7, a + 1), len(column))
        out[i] = column[a:b].mean()
    return out


def features(mel, frames, fps):
    hz = band_centres()
    voice, f1 = (hz > 250) & (hz < 4000), (hz > 300) & (hz < 1200)
    excess = np.clip(mel - np.percentile(mel, 10, axis=1, keepdims=True), 0, None)
    return {
        "mean": per_frame(mel.mean(0), frames, fps),
        "voice": per_frame(mel[voice].mean(0), frames, fps),
        "excess": per_frame(excess.mean(0), frames, fps),
        "excess_voice": per_frame(excess[voice].mean(0), frames, fps),
        "excess_f1": per_frame(excess[f1].mean(0), frames, fps),
    }


rows = {}
for path in sys.argv[1:]:
    base = path[:-5]
    mouth = opening(path)
    fps = float(open(base + ".fps").read()) if os.path.exists(base + ".fps") else 25.0
    ok = ~np.isnan(mouth)
    rows[os.path.basename(base)] = {k: np.corrcoef(v[ok], mouth[ok])[0, 1]
                                    for k, v in features(np.load(base + ".npy"), len(mouth), fps).items()}
keys = list(next(iter(rows.values())))
print("clip".ljust(24) + "".join(k.rjust(14) for k in keys))
for name, r in rows.items():
    print(name.ljust(24) + "".join(f"{r[k]:14.3f}" for k in keys))
print("mean".ljust(24) + "".join(f"{np.mean([r[k] for r in rows.values()]):14.3f}" for k in keys))
