"""Shared time-step criteria: one step size per system, the minimum over its bodies or pairs.

Collision-time criterion (the paper's Hermite ``dt_param``), with pair separation r, relative
speed v and masses m_i, m_j:

    dt = mu * min_{i<j} min( r / v,  sqrt(r^3 / (G (m_i + m_j))) )

Aarseth's criterion (Aarseth 1985, Makino & Aarseth 1992), from the acceleration a, jerk j, snap
a2 and crackle a3 of each body at the end of a Hermite step:

    dt = sqrt( eta * (|a| |a2| + |j|^2) / (|j| |a3| + |a2|^2) )

We store tau = min over bodies of sqrt((|a||a2| + |j|^2) / (|j||a3| + |a2|^2)), so that the step
is dt = sqrt(eta) tau and a controller may change eta between steps.
"""

from __future__ import annotations

import torch

from .forces import dot3, pair_geometry


def _min_last(t: torch.Tensor) -> torch.Tensor:
    # min is exact in any order, so torch's reduction is safe for bitwise batching
    return t.amin(dim=-1)


def collision_timescale(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float) -> torch.Tensor:
    """min over pairs of min(r/v, sqrt(r^3/(G(m_i+m_j)))).  x, v (B,N,D), m (B,N) -> (B,)."""
    _, r2, off, dv, _ = pair_geometry(x, v)
    r = torch.sqrt(r2)  # (B, N, N)
    v2 = dot3(dv, dv)  # (B, N, N)
    inf = torch.full((), float("inf"), dtype=x.dtype, device=x.device)
    t_fly = torch.where(off & (v2 > 0), r / torch.sqrt(torch.where(v2 > 0, v2, 1.0)), inf)
    msum = m.unsqueeze(-1) + m.unsqueeze(-2)  # (B, N, N)
    t_ff = torch.where(off, torch.sqrt(r2 * r / (G * msum)), inf)
    tau = torch.minimum(t_fly, t_ff)  # (B, N, N)
    return _min_last(_min_last(tau))


def _norm(t: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(dot3(t, t))


def end_snap_crackle(a0, j0, a1, j1, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Snap and crackle (B,N,D) at the end of a Hermite step of size ``h (B,1,1) > 0`` from (a, j) at
    its start and end, by the cubic Hermite interpolant of the acceleration:
    a3 = (12 (a0 - a1) + 6 h (j0 + j1)) / h^3,  a2(h) = (-6 (a0 - a1) - h (4 j0 + 2 j1)) / h^2 + h a3.
    """
    da = a0 - a1
    a3 = (12.0 * da + 6.0 * h * (j0 + j1)) / (h * h * h)
    return (-6.0 * da - h * (4.0 * j0 + 2.0 * j1)) / (h * h) + h * a3, a3


def aarseth_timescale(a0, j0, a1, j1, dt: torch.Tensor) -> torch.Tensor:
    """tau at the end of a Hermite step of size ``dt (B,)`` from (a, j) at its start and end (B,N,D),
    with snap and crackle from `end_snap_crackle`.  Returns (B,); systems with dt == 0 get +inf.
    """
    ok = dt > 0
    h = torch.where(ok, dt, torch.ones_like(dt))[:, None, None]  # (B, 1, 1)
    a2, a3 = end_snap_crackle(a0, j0, a1, j1, h)
    na, nj, na2, na3 = _norm(a1), _norm(j1), _norm(a2), _norm(a3)  # (B, N)
    tau = torch.sqrt((na * na2 + nj * nj) / (nj * na3 + na2 * na2))
    tau = _min_last(tau)
    return torch.where(ok, tau, torch.full_like(tau, float("inf")))


def initial_aarseth_timescale(a: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Start-up tau = 0.1 min_i |a_i| / |j_i| (a conservative first step).  (B,N,D) -> (B,)."""
    return 0.1 * _min_last(_norm(a) / _norm(j))
