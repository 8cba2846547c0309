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
