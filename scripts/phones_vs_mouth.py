#!/usr/bin/python3
"""How well does a phone recogniser's output predict the real mouth opening? (numpy)

usage: phones_vs_mouth.py CLIP.json [CLIP2.json ...]
Each CLIP.json is `synctalkface faces CLIP --json CLIP.json` of a 25 fps clip,
with beside it CLIP.phones: pocketsphinx's phone decoder on the clip's speech
(16 kHz mono WAV; Debian's pocketsphinx and pocketsphinx-en-us, M =
/usr/share/pocketsphinx/model/en-us):
  pocketsphinx_continuous -infile CLIP.wav -hmm $M/en-us -allphone $M/en-us-phone.lm.bin \\
    -backtrace yes -lw 2.0 -time yes > CLIP.phones
Each phone is given an opening (OPENING below), the series is smoothed with
a 40 ms Gaussian and sampled at the frames. Per clip: its Pearson
correlation with the mouth opening (as scripts/mouth_follow.py) at every lag
of -8 .. 8 frames (lag k: the mouth k frames after the phone), and the best.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mouth_follow import opening  # noqa: E402  (mouth opening per frame of a faces JSON)

# Lips shut for bilabials and silence; consonants part them a little; vowels by height.
OPENING = dict(SIL=0, P=0, B=0, M=0, F=.2, V=.2, W=.2, TH=.35, DH=.35, S=.25, Z=.25, SH=.3, ZH=.3, CH=.3,
               JH=.3, T=.35, D=.35, N=.35, L=.4, K=.4, G=.4, NG=.4, R=.35, Y=.3, HH=.5, AA=1, AE=.9, AH=.7,
               AO=.85, AW=.9, AY=.9, EH=.7, ER=.45, EY=.6, IH=.5, IY=.4, OW=.6, OY=.7, UH=.45, UW=.3)
FPS = 25
LAGS = range(-8, 9)


def phones(path):
    """[(phone, start s, end s)] of a pocketsphinx -time yes output (its first line is the hypothesis)."""
    out = []
    for line in open(path).read().splitlines()[1:]:
        p = line.split()
        if len(p) == 4:
            out.append((p[0], float(p[1]), float(p[2]) + 0.01))  # end: the segment's last 10 ms frame
    return out


def predicted(segments, frames, sigma=0.04, step=0.005):
    fine = np.arange(0, frames / FPS + 0.5, step)
    v = np.zeros_like(fine)
    for name, a, b in segments:
        v[(fine >= a) & (fine < b)] = OPENING.get(name, 0.3)  # noise (+SPN+, +NSN+): half open
    k = np.exp(-0.5 * (np.arange(-60, 61) * step / sigma) ** 2)
    return np.interp(np.arange(frames) / FPS, fine, np.convolve(v, k / k.sum(), "same"))


def r_at(pred, mouth, lag):
    """Pearson r of the phone series at frame t with the mouth at t + lag."""
    if lag > 0:
        pred, mouth = pred[:-lag], mouth[lag:]
    elif lag < 0:
        pred, mouth = pred[-lag:], mouth[:lag]
    ok = ~np.isnan(mouth)
    return np.corrcoef(pred[ok], mouth[ok])[0, 1]


if __name__ == "__main__":
    print("clip: r at lags " + " ".join(f"{k:+d}" for k in LAGS))
    for path in sys.argv[1:]:
        mouth = opening(path)
        pred = predicted(phones(os.path.splitext(path)[0] + ".phones"), len(mouth))
        rs = {k: r_at(pred, mouth, k) for k in LAGS}
        best = max(rs, key=rs.get)
        print(f"{path}: " + " ".join(f"{rs[k]:+.2f}" for k in LAGS) +
              f"; same frame {rs[0]:+.3f}, best {rs[best]:+.3f} at {best:+d}")
