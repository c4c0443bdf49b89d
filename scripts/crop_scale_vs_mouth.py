#!/usr/bin/python3
"""Does the face crop's scale tell the mouth opening? (numpy)

usage: crop_scale_vs_mouth.py CLIP.json [CLIP2.json ...]
Each CLIP.json is `synctalkface faces CLIP --json CLIP.json`. crop_transform
(src/face/crop.cpp) with the default `bounds` placement frames the bounds of
all 68 landmarks, chin included, so an opening mouth makes the crop box taller
and the face in it smaller (`preprocess --crop steady` avoids it). Per
clip: the Pearson correlation of the bounds' height over the inter-ocular
distance with the mouth opening (as scripts/mouth_follow.py measures it),
and the mean over the clips whose name starts alike (the part before the
first '_').
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mouth_follow import opening, per_frame  # noqa: E402  (per-frame measures of a faces JSON)


def bounds_height(path):  # the 68 landmarks' vertical extent over the inter-ocular distance
    return per_frame(path, lambda p, iod: (p[:, 1].max() - p[:, 1].min()) / iod)


if __name__ == "__main__":
    groups = {}
    for path in sys.argv[1:]:
        h, o = bounds_height(path), opening(path)
        ok = ~(np.isnan(h) | np.isnan(o))
        r = np.corrcoef(h[ok], o[ok])[0, 1] if ok.sum() >= 10 else float("nan")
        name = os.path.basename(path)
        print(f"{name}: r {r:.2f} over {ok.sum()} frames")
        if not np.isnan(r):
            groups.setdefault(name.split("_")[0], []).append(r)
    for group, rs in sorted(groups.items()):
        print(f"{group}: mean r {np.mean(rs):.2f} over {len(rs)} clips ({min(rs):.2f}..{max(rs):.2f})")
