"""Fourier pseudo-spectral ETDRK4 reference for the periodic Allen-Cahn equation

    u_t = eps u_xx + 5 u - 5 u^3,   x in [-1, 1) periodic,   u(x, 0) = x^2 cos(pi x)

(eps = 1e-4). In Fourier space u_hat' = L u_hat + N(u), with the diagonal linear part
L = -eps k^2 + 5 (k = pi m, the wavenumbers of period 2) and N(u) = FFT(-5 u^3).
Time stepping: the exponential time-differencing RK4 scheme of Cox & Matthews (2002); its
coefficients phi(h L) are evaluated by the contour-integral mean over M points on a circle around
each h L (Kassam & Trefethen 2005), which avoids the cancellation of the direct formulas when
h L is near zero.
"""

from __future__ import annotations

import numpy as np


def allen_cahn_etdrk4(n: int = 512, dt: float = 1e-4, times=np.linspace(0.0, 1.0, 101), eps: float = 1e-4, n_contour: int = 32):
    """Solve Allen-Cahn on ``n`` equispaced points of [-1, 1) and return snapshots.

    Returns
    -------
    x : (n,) grid points; snapshots : (len(times), n) with ``snapshots[i] = u(x, times[i])``.
    Output times must be multiples of ``dt`` (up to 1e-9 relative); raises ValueError otherwise.
    """
    if n < 8 or n % 2:
        raise ValueError(f"allen_cahn_etdrk4: n must be an even number >= 8, got {n}")
    times = np.asarray(times, dtype=np.float64)
    if not dt > 0:
        raise ValueError(f"allen_cahn_etdrk4: dt must be > 0, got {dt}")
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or times[0] < 0:
        raise ValueError(f"allen_cahn_etdrk4: times must be a non-empty 1-D array of finite times >= 0, got {times!r}")
    steps_at = np.rint(times / dt).astype(int)
    if np.any(np.abs(steps_at * dt - times) > 1e-9 * max(1.0, times.max())) or np.any(np.diff(steps_at) < 0):
        raise ValueError(f"allen_cahn_etdrk4: times must be increasing multiples of dt={dt}")
    x = -1.0 + 2.0 * np.arange(n) / n
    v = np.fft.rfft(x**2 * np.cos(np.pi * x))  # (n/2 + 1,)
    k = np.pi * np.arange(n // 2 + 1)  # wavenumbers of period 2
    L = -eps * k**2 + 5.0
    h = dt
    E, E2 = np.exp(h * L), np.exp(h * L / 2)
    r = np.exp(1j * np.pi * (np.arange(1, n_contour + 1) - 0.5) / n_contour)  # (M,) on the unit circle
    LR = h * L[:, None] + r[None, :]  # (K, M)
    Q = h * np.real(np.mean((np.exp(LR / 2) - 1) / LR, axis=1))
    f1 = h * np.real(np.mean((-4 - LR + np.exp(LR) * (4 - 3 * LR + LR**2)) / LR**3, axis=1))
    f2 = h * np.real(np.mean((2 + LR + np.exp(LR) * (-2 + LR)) / LR**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * LR - LR**2 + np.exp(LR) * (4 - LR)) / LR**3, axis=1))

    def N(vh):
        u = np.fft.irfft(vh, n)
        return np.fft.rfft(-5.0 * u**3)

    snaps = np.empty((len(times), n))
    step = 0
    for i, target in enumerate(steps_at):
        while step < target:
            Nv = N(v)
            a = E2 * v + Q * Nv
            Na = N(a)
            b = E2 * v + Q * Na
            Nb = N(b)
            c = E2 * a + Q * (2 * Nb - Nv)
            Nc = N(c)
            v = E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3
            step += 1
        snaps[i] = np.fft.irfft(v, n)
    return x, snaps
