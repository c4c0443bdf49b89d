#!/usr/bin/python3
"""Independent PSNR and SSIM for the eval tests (numpy + scipy).

usage: metrics_reference.py A.npy B.npy OUT.json
A and B: uint8 arrays (H, W, C). SSIM as Wang et al. 2004: 11x11 Gaussian
window (sigma 1.5, normalised), K1 = 0.01, K2 = 0.03, L = 255, population
covariances, mean of the map over the 'valid' region, per channel, then the
mean over channels.
"""
import json
import sys

import numpy as np
from scipy.signal import convolve2d


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def ssim_channel(x, y):
    r = np.arange(11) - 5
    g = np.exp(-(r ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g)
    w /= w.sum()
    f = lambda m: convolve2d(m, w, mode="valid")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return m.mean()


def main():
    a = np.load(sys.argv[1]).astype(np.float64)
    b = np.load(sys.argv[2]).astype(np.float64)
    s = np.mean([ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])])
    with open(sys.argv[3], "w") as out:
        json.dump({"psnr": psnr(a, b), "ssim": float(s)}, out)


if __name__ == "__main__":
    main()
