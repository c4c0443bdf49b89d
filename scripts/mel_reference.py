#!/usr/bin/python3
"""Independent reference for the Wav2Lip-compatible mel (PAPER.md, "Audio features").

Written from the formula with numpy/scipy only (no librosa), so a test can
compare the C++ implementation with it.

Usage: mel_reference.py SAMPLES.npy OUT_DIR
  SAMPLES.npy: float32 mono samples at 16 kHz.
  Writes OUT_DIR/filterbank.npy (80, 401) float64 and OUT_DIR/mel.npy (80, T) float32.
"""
import os
import sys

import numpy as np
import scipy.signal

SR, N_FFT, HOP, WIN, N_MELS, FMIN, FMAX = 16000, 800, 200, 800, 80, 55.0, 7600.0


def hz_to_mel(f):
    """Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def filterbank():
    """Triangular filters between mel-spaced edges, each scaled to unit area (Slaney norm)."""
    bins = np.linspace(0, SR / 2, N_FFT // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    fb = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - lo) / (mid - lo)
        falling = (hi - bins) / (hi - mid)
        fb[m] = np.maximum(0, np.minimum(rising, falling)) * 2.0 / (hi - lo)
    return fb


def mel(x):
    x = scipy.signal.lfilter([1, -0.97], [1], x.astype(np.float64))
    x = np.pad(x, N_FFT // 2, mode="reflect")
    window = scipy.signal.get_window("hann", WIN, fftbins=True)  # periodic Hann
    n_frames = 1 + (x.size - N_FFT) // HOP
    frames = np.stack([x[i * HOP:i * HOP + N_FFT] * window for i in range(n_frames)], axis=1)
    mag = np.abs(np.fft.rfft(frames, axis=0))
    db = 20 * np.log10(np.maximum(1e-5, filterbank() @ mag)) - 20
    return np.clip(8 * ((db + 100) / 100) - 4, -4, 4).astype(np.float32)


if __name__ == "__main__":
    samples = np.load(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    np.save(os.path.join(sys.argv[2], "filterbank.npy"), filterbank())
    np.save(os.path.join(sys.argv[2], "mel.npy"), mel(samples))
