"""Newtonian accelerations and jerks of B independent N-body systems at once.

For body i (sums over j != i, r_ij = x_j - x_i, v_ij = v_j - v_i):

    a_i = G sum_j m_j r_ij / |r_ij|^3
    j_i = G sum_j m_j [ v_ij / |r_ij|^3 - 3 (r_ij . v_ij) r_ij / |r_ij|^5 ]

Bit-for-bit batching: every line is elementwise except the sums over j and over the three
components, which are done by `ordered_sum` (sequential adds over the reduced dimension). The
result for one system then does not depend on how many other systems share the batch, on the
thread count, or on how torch would have split a reduction kernel. Only correctly rounded
operations (+, -, *, /, sqrt) are used, so vectorized and scalar code paths agree too.
"""

from __future__ import annotations

import torch


def ordered_sum(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over ``dim`` by sequential adds (index 0, 1, 2, ...), independent of batch layout."""
    n = t.shape[dim]
    if n == 0:
        shape = list(t.shape)
        del shape[dim]
        return t.new_zeros(shape)
    acc = t.select(dim, 0)
    for k in range(1, n):
        acc = acc + t.select(dim, k)
    return acc


def dot3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot product over the last dimension in a fixed order: (..., D), (..., D) -> (...)."""
    return ordered_sum(a * b, -1)


def pair_geometry(x: torch.Tensor, v: torch.Tensor | None = None):
    """Pairwise separations of B systems.

    Returns ``dx (B,N,N,D)`` with dx[b,i,j] = x[b,j] - x[b,i], ``r2 (B,N,N)`` with the diagonal set
    to 1 (so divisions stay finite), ``off (N,N)`` the boolean off-diagonal mask, and, when ``v``
    is given, ``dv (B,N,N,D)`` and ``rv (B,N,N)`` = dx . dv.
    """
    n = x.shape[-2]
    off = ~torch.eye(n, dtype=torch.bool, device=x.device)  # (N, N)
    dx = x.unsqueeze(-3) - x.unsqueeze(-2)  # (B, N, N, D)
    r2 = torch.where(off, dot3(dx, dx), torch.ones((), dtype=x.dtype, device=x.device))  # (B, N, N)
    if v is None:
        return dx, r2, off, None, None
    dv = v.unsqueeze(-3) - v.unsqueeze(-2)  # (B, N, N, D)
    rv = dot3(dx, dv)  # (B, N, N)
    return dx, r2, off, dv, rv


def accelerations(x: torch.Tensor, m: torch.Tensor, G: float) -> torch.Tensor:
    """Gravitational accelerations.

    Parameters
    ----------
    x : (B, N, D) positions
    m : (B, N) masses
    G : gravitational constant in the units of x, m and time

    Returns
    -------
    a : (B, N, D)
    """
    dx, r2, off, _, _ = pair_geometry(x)
    inv_r3 = torch.where(off, 1.0 / (r2 * torch.sqrt(r2)), torch.zeros((), dtype=x.dtype, device=x.device))
    w = (G * m).unsqueeze(-2) * inv_r3  # (B, N, N): G m_j / r_ij^3
    return ordered_sum(w.unsqueeze(-1) * dx, -2)  # (B, N, D)


def accelerations_and_jerks(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float):
    """Accelerations and their time derivatives (jerks).

    Parameters
    ----------
    x, v : (B, N, D) positions and velocities
    m : (B, N) masses

    Returns
    -------
    a, j : (B, N, D) each
    """
    dx, r2, off, dv, rv = pair_geometry(x, v)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    inv_r3 = torch.where(off, 1.0 / (r2 * torch.sqrt(r2)), zero)  # (B, N, N)
    w = (G * m).unsqueeze(-2) * inv_r3  # (B, N, N)
    a = ordered_sum(w.unsqueeze(-1) * dx, -2)  # (B, N, D)
    c = 3.0 * rv / r2  # (B, N, N)
    jt = w.unsqueeze(-1) * (dv - c.unsqueeze(-1) * dx)  # (B, N, N, D)
    return a, ordered_sum(jt, -2)
