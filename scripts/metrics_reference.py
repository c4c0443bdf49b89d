#!/usr/bin/python3
"""Independent PSNR, SSIM and Laplacian variance for the eval tests (numpy + scipy).

usage: metrics_reference.py A.npy B.npy OUT.json [X Y W H]
A and B: uint8 arrays (H, W, C), channels in BGR order. SSIM as Wang et al.
2004: 11x11 Gaussian window (sigma 1.5, normalised), K1 = 0.01, K2 = 0.03,
L = 255, population covariances, mean of the map over the 'valid' region,
per channel, then the mean over channels. With a box X Y W H: also the
variance of the Laplacian (0 1 0 / 1 -4 1 / 0 1 0, 'valid' region) of each
image's grey values 0.299 R + 0.587 G + 0.114 B inside that box.
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


def laplacian_variance(img, x, y, w, h):
    box = img[y:y + h, x:x + w]
    grey = 0.114 * box[..., 0] + 0.587 * box[..., 1] + 0.299 * box[..., 2]
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)
    return float(np.var(convolve2d(grey, lap, mode="valid")))


def main():
    a = np.load(sys.argv[1]).astype(np.float64)
    b = np.load(sys.argv[2]).astype(np.float64)
    s = np.mean([ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])])
    result = {"psnr": psnr(a, b), "ssim": float(s)}
    if len(sys.argv) == 8:
        box = [int(v) for v in sys.argv[4:8]]
        result["laplacian_variance_a"] = laplacian_variance(a, *box)
        result["laplacian_variance_b"] = laplacian_variance(b, *box)
    with open(sys.argv[3], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
