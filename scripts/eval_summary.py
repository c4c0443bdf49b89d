#!/usr/bin/python3
"""One line per folder of scripts/eval_battery.sh results, to compare runs.

usage: eval_summary.py DIR [DIR ...]

A folder of `eval_battery.sh --stills` (it has still.json): per set of clips
(vox, grid) the mouth-opening correlation r of the photo's drawn mouth with
the clip's real one and its spread Range (1: as much as the real one moves),
means over the clips; still_bb and still_next: SpeakerR with its 95%
interval over the clips. Otherwise:

sync: mean mouth landmark distance / inter-ocular distance with the own and
the 1 s late speech, how much lower the own is (and the same over the 8
clips without vox/00002, whose landmark fits are fragile: models/README.md,
session 30); vox and ret: PSNR, SSIM, the mouth-opening correlation r or
LMD/IOD, mouth sharpness and flicker (where the results have it) of the
reconstructions; next and bb: SpeakerR, the
dubbed mouth's opening correlated with the speaker's (docs/metrics.md).
"""
import json
import os
import sys


def load(folder, name):
    with open(os.path.join(folder, name + ".json")) as f:
        return json.load(f)


def lower_by(own, late):
    return 100 * (1 - sum(own) / sum(late))


def stills_summary(folder):
    clips = load(folder, "still")["systems"]["model"]["clips"]
    parts = []
    for tag in ("vox", "grid"):
        c = [x for x in clips if f"/{tag}/" in x["clip"]]
        if c:
            r = sum(x["mouth_corr"] for x in c) / len(c)
            spread = sum(x["mouth_range"] for x in c) / len(c)
            parts.append(f"{tag} r {r:.3f} Range {spread:.2f}")
    for name, voice in (("still_bb", "bb"), ("still_next", "next")):
        s = load(folder, name)["speaker_r"]["model"]
        lo, hi = s["interval95"]
        parts.append(f"SpeakerR {voice} {s['speaker_r']:.3f} ({lo:.3f}..{hi:.3f})")
    return f"{os.path.basename(os.path.normpath(folder))}: stills " + " | ".join(parts)


def flicker(m):
    return f" flicker {m['mouth_flicker']:.2f}" if "mouth_flicker" in m else ""


def summary(folder):
    if os.path.exists(os.path.join(folder, "still.json")):
        return stills_summary(folder)
    sync = load(folder, "sync")
    clips = sync["sync"]["model"]["clips"]
    own = [c["own"] for c in clips]
    late = [c["shifted"] for c in clips]
    rest = [i for i, c in enumerate(clips) if not c["clip"].endswith("/00002.mp4")]
    vox = sync["systems"]["model"]["mean"]
    ret = load(folder, "ret")["systems"]["model"]["mean"]
    nxt = load(folder, "next")["speaker_r"]["model"]["speaker_r"]
    bb = load(folder, "bb")["speaker_r"]["model"]["speaker_r"]
    lo, hi = sync["sync"]["model"]["interval95"]
    return (f"{os.path.basename(os.path.normpath(folder))}: "
            f"sync {sum(own) / len(own):.4f}/{sum(late) / len(late):.4f} {lower_by(own, late):.1f}% "
            f"({100 * lo:.1f}..{100 * hi:.1f}%), 8 clips {lower_by([own[i] for i in rest], [late[i] for i in rest]):.1f}% | "
            f"vox PSNR {vox['psnr']:.2f} SSIM {vox['ssim']:.4f} r {vox['mouth_corr']:.3f} "
            f"sharp {vox['mouth_sharpness']:.3f}{flicker(vox)} | "
            f"ret PSNR {ret['psnr']:.2f} SSIM {ret['ssim']:.4f} LMD/IOD {ret['lmd_norm']:.4f} "
            f"sharp {ret['mouth_sharpness']:.3f}{flicker(ret)} | SpeakerR next {nxt:.3f} bb {bb:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for d in sys.argv[1:]:
        print(summary(d))
