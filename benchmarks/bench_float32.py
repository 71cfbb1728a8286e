"""Would float32 pay in the FFT convolution of extended sources? Time and precision.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_float32.py

The convolution of free extended sources with the PSF is the largest single cost of the
Galactic-centre statistic (~30 % of a value+gradient). This measures, on the sizes of
that dataset's cutouts (16 true-energy planes of 100 x 100 pixels, a 71 x 71 PSF kernel,
transforms of 135 x 135), the time of one convolution (rfft2, product, irfft2) in float64
and float32 (``scipy.fft``), and what float32 does to the Cash statistic of a uniform
disk of 1e3 to 1e5 counts on a flat background (one Poisson draw): the change of the
statistic, and the largest step of the statistic between two parameter values 1e-9
apart (float64 is smooth there; float32 rounding makes it piecewise constant).

The precision budget: MIGRAD stops at an estimated distance to the minimum of 2e-4
(iminuit's default tolerance), and the statistic must stay smooth in every parameter.
"""

from __future__ import annotations

import timeit

import numpy as np
import scipy.fft as sf
from scipy.signal import fftconvolve

PLANES, NPIX, KERNEL, FFT = 16, 100, 71, 135


def fft_time(dtype) -> float:
    """Median ms of one convolution of ``PLANES`` planes in ``dtype``."""
    rng = np.random.default_rng(0)
    x = rng.random((PLANES, NPIX, NPIX)).astype(dtype)
    spec = sf.rfft2(rng.random((PLANES, KERNEL, KERNEL)).astype(dtype), s=(FFT, FFT))

    def once():
        return sf.irfft2(sf.rfft2(x, s=(FFT, FFT)) * spec, s=(FFT, FFT))

    times = timeit.repeat(once, number=10, repeat=7)
    return float(np.median(times)) / 10 * 1e3


def statistic_error(counts_total: float) -> tuple[float, float, float]:
    """(statistic, float32 - float64 change, largest float32 step over 1e-9 moves)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:NPIX, :NPIX]
    r = np.hypot(*(np.mgrid[:KERNEL, :KERNEL] - KERNEL // 2))
    kernel = np.exp(-0.5 * (r / 8.0) ** 2)
    kernel /= kernel.sum()

    def npred(radius, dtype):
        disk = np.clip(radius - np.hypot(yy - 50, xx - 50) + 0.5, 0, 1)  # smooth edge
        disk *= counts_total / disk.sum()
        conv = fftconvolve(disk.astype(dtype), kernel.astype(dtype), mode="same")
        return conv.astype(float) + 2.0

    counts = rng.poisson(npred(15.0, np.float64))

    def cash(mu):
        return float(2 * (mu - counts * np.log(mu)).sum())

    stat64 = cash(npred(15.0, np.float64))
    change = cash(npred(15.0, np.float32)) - stat64
    radii = 15.0 + 1e-9 * np.arange(20)
    steps32 = np.diff([cash(npred(r, np.float32)) for r in radii])
    steps64 = np.diff([cash(npred(r, np.float64)) for r in radii])
    return stat64, change, float(np.abs(steps32 - steps64).max())


def main() -> None:
    t64, t32 = fft_time(np.float64), fft_time(np.float32)
    print(f"FFT convolution, {PLANES} planes of {NPIX}^2, kernel {KERNEL}^2, transform "
          f"{FFT}^2: float64 {t64:.2f} ms, float32 {t32:.2f} ms ({t64 / t32:.1f}x)")
    print("| disk counts | statistic | float32 change | float32 steps (1e-9 moves) |")
    print("| --- | --- | --- | --- |")
    for total in (1e3, 1e4, 1e5):
        stat, change, step = statistic_error(total)
        print(f"| {total:.0e} | {stat:.3f} | {change:.1e} | {step:.1e} |")
    print("budget: MIGRAD's EDM tolerance 2e-4; the statistic smooth in every parameter")


if __name__ == "__main__":
    main()
