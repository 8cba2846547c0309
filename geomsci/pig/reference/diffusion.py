"""Finite-difference reference for the nonlinear diffusion problem

    u_t = 0.05 (|grad u|^2 + u lap u)  on [-1, 1]^2,  u = 0 on the boundary.

Since lap(u^2) / 2 = |grad u|^2 + u lap u, the equation is the conservative porous-medium form
u_t = 0.025 lap(u^2), discretised with the 5-point Laplacian of w = u^2 on an n x n node lattice
(second order in space) and advanced with classical RK4 at a step inside its stability region
(|lambda dt| <= 2.78 on the negative axis, lambda_max = 8 * 0.05 max|u| / h^2).
"""

from __future__ import annotations

import numpy as np

NU = 0.05


def initial_condition(x, y):
    """The three-Gaussian initial state of Kang et al. (2025), for numpy arrays or torch tensors
    (tensors stay on their device)."""
    exp = np.exp if isinstance(x, np.ndarray) or np.isscalar(x) else type(x).exp
    return (
        0.25 * exp(-((x - 0.3) ** 2 + (y - 0.2) ** 2) / 0.1)
        + 0.4 * exp(-((x + 0.5) ** 2 + (y + 0.1) ** 2) * 15)
        + 0.3 * exp(-(x**2 + (y + 0.5) ** 2) * 20)
    )


def nonlinear_diffusion_fd(n: int = 129, times=np.linspace(0.0, 1.0, 51), cfl: float = 0.5):
    """Solve on an ``n`` x ``n`` node lattice of [-1, 1]^2 and return snapshots.

    Parameters
    ----------
    n : nodes per axis (h = 2 / (n - 1)); boundary nodes are held at 0
    times : increasing output times (>= 0)
    cfl : fraction of the RK4 stability limit used for the step

    Returns
    -------
    axis : (n,) node coordinates; snapshots : (len(times), n, n) with ``snapshots[t, i, j] = u(x_i, y_j, t)``
    """
    if n < 5:
        raise ValueError(f"nonlinear_diffusion_fd: n must be >= 5, got {n}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0) or times[0] < 0:
        raise ValueError(
            f"nonlinear_diffusion_fd: times must be a non-empty 1-D increasing array of finite, non-negative times, got {times!r}"
        )
    if not 0 < cfl <= 1:
        raise ValueError(f"nonlinear_diffusion_fd: cfl must be in (0, 1] (a fraction of the RK4 stability limit), got {cfl}")
    axis = np.linspace(-1.0, 1.0, n)
    h = axis[1] - axis[0]
    X, Y = np.meshgrid(axis, axis, indexing="ij")
    u = initial_condition(X, Y)
    u[0, :] = u[-1, :] = u[:, 0] = u[:, -1] = 0.0
    lam = 8.0 * NU * max(np.abs(u).max(), 1e-12) / h**2
    dt_max = cfl * 2.78 / lam

    def rhs(v):
        w = 0.5 * NU * v * v  # 0.025 u^2
        out = np.zeros_like(v)
        out[1:-1, 1:-1] = (w[2:, 1:-1] + w[:-2, 1:-1] + w[1:-1, 2:] + w[1:-1, :-2] - 4 * w[1:-1, 1:-1]) / h**2
        return out

    snaps = np.empty((len(times), n, n))
    t = 0.0
    for k, t_out in enumerate(times):
        steps = int(np.ceil((t_out - t) / dt_max - 1e-12))
        if steps > 0:
            dt = (t_out - t) / steps
            for _ in range(steps):
                k1 = rhs(u)
                k2 = rhs(u + 0.5 * dt * k1)
                k3 = rhs(u + 0.5 * dt * k2)
                k4 = rhs(u + dt * k3)
                u = u + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            t = t_out
        snaps[k] = u
    return axis, snaps
