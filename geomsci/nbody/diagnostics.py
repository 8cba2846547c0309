"""Conserved quantities of B N-body systems: energy, angular momentum, centre of mass.

All sums use `ordered_sum`, so a system's numbers do not depend on the batch it sits in.
"""

from __future__ import annotations

import torch

from .forces import dot3, ordered_sum, pair_geometry


def kinetic_energy(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """T = sum_i m_i |v_i|^2 / 2.  v (B,N,D), m (B,N) -> (B,)."""
    return ordered_sum(0.5 * m * dot3(v, v), -1)


def potential_energy(x: torch.Tensor, m: torch.Tensor, G: float) -> torch.Tensor:
    """U = - sum_{i<j} G m_i m_j / r_ij.  x (B,N,D), m (B,N) -> (B,)."""
    _, r2, off, _, _ = pair_geometry(x)
    mm = m.unsqueeze(-1) * m.unsqueeze(-2)  # (B, N, N)
    pair = torch.where(off, mm / torch.sqrt(r2), torch.zeros((), dtype=x.dtype, device=x.device))
    return -0.5 * G * ordered_sum(ordered_sum(pair, -1), -1)


def energy(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float) -> torch.Tensor:
    """Total energy T + U, shape (B,)."""
    return kinetic_energy(v, m) + potential_energy(x, m, G)


def angular_momentum(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """L = sum_i m_i x_i cross v_i.  x, v (B,N,3) -> (B,3) (for D = 2 pad with zeros first)."""
    return ordered_sum(m.unsqueeze(-1) * torch.cross(x, v, dim=-1), -2)


def center_of_mass(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor):
    """Centre-of-mass position and velocity, (B,D) each."""
    M = ordered_sum(m, -1).unsqueeze(-1)  # (B, 1)
    xc = ordered_sum(m.unsqueeze(-1) * x, -2) / M
    vc = ordered_sum(m.unsqueeze(-1) * v, -2) / M
    return xc, vc


def pair_orbit(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float, i: int, j: int) -> dict:
    """Two-body (osculating Kepler) elements of the pair (i, j) in each of B systems.

    The pair is treated as isolated: useful to foresee a close approach (its pericentre ``q`` and
    when it happens) or to tell a bound binary from a fly-by. Works for bound (e < 1) and unbound
    (e > 1) relative orbits; a parabolic one (e = 1 exactly) has no finite a and is not handled.

    Parameters
    ----------
    x, v : (B, N, 3) positions and velocities (D = 2: pad a zero z first)
    m : (B, N) masses;  G : gravitational constant in the same units
    i, j : body indices

    Returns
    -------
    dict of (B,) tensors: ``r`` separation, ``energy`` specific orbital energy v^2/2 - G M / r
    (< 0: bound), ``a`` |semi-major axis|, ``e`` eccentricity, ``q`` pericentre distance,
    ``t_peri`` time since the nearest pericentre passage (negative: still approaching; for a
    bound orbit the passage within half a period).
    """
    if x.shape[-1] != 3:
        raise ValueError(f"pair_orbit: positions must be 3-D (pad D = 2 with zeros), got shape {tuple(x.shape)}")
    r_vec, w = x[:, j] - x[:, i], v[:, j] - v[:, i]  # (B, 3)
    gm = G * (m[:, i] + m[:, j])
    r = torch.sqrt(dot3(r_vec, r_vec))
    eps = 0.5 * dot3(w, w) - gm / r
    h = torch.cross(r_vec, w, dim=-1)  # specific angular momentum
    h2 = dot3(h, h)
    e = torch.sqrt((1 + 2 * eps * h2 / gm**2).clamp_min(0))
    q = h2 / (gm * (1 + e))
    a = (gm / (2 * eps)).abs()
    n = torch.sqrt(gm / a**3)  # mean motion
    approach = torch.sign(dot3(r_vec, w))  # < 0 before pericentre
    ecc_anom = torch.acos(((1 - r / a) / e).clamp(-1, 1)) * approach
    hyp_anom = torch.acosh(((1 + r / a) / e).clamp_min(1)) * approach
    mean_anom = torch.where(eps < 0, ecc_anom - e * torch.sin(ecc_anom), e * torch.sinh(hyp_anom) - hyp_anom)
    return {"r": r, "energy": eps, "a": a, "e": e, "q": q, "t_peri": mean_anom / n}


def nearest_pericentres(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float):
    """Pericentre distance and signed time to the nearest pericentre passage of every pair, from `pair_orbit`.

    Each pair is treated as an isolated two-body orbit; the nearest passage is the coming one of an
    approaching pair and the last one of a receding pair (for a bound pair: within half a period).

    Parameters
    ----------
    x, v : (B, N, 3) positions and velocities;  m : (B, N) masses;  G : gravitational constant

    Returns
    -------
    q : (B, P) pericentre distances of the P = N (N - 1) / 2 pairs (i < j, in row order)
    t_to : (B, P) time to the nearest pericentre passage (-t_peri: > 0 ahead, < 0 passed); NaN where the
        elements are not finite (an exactly parabolic pair)
    """
    n = x.shape[1]
    els = [pair_orbit(x, v, m, G, i, j) for i in range(n) for j in range(i + 1, n)]
    return torch.stack([el["q"] for el in els], dim=1), torch.stack([-el["t_peri"] for el in els], dim=1)
