"""Potentials of constant-strength source and doublet panels (flat triangles and quads made of two).

For a flat triangle T with unit normal n (right-hand rule on its vertex order) and a field point P,
with R_k = v_k - P, r_k = |R_k|, h = (P - v_1).n and d_k the length of edge k = (v_k, v_k+1):

- signed solid angle (van Oosterom & Strackee 1983), positive when P lies on the side n points to::

      tan(Omega / 2) = -R_1.(R_2 x R_3) / (r_1 r_2 r_3 + (R_1.R_2) r_3 + (R_1.R_3) r_2 + (R_2.R_3) r_1)

- the integral of 1 / |P - Q| over T (the classic polygon formula; s_k is the in-plane distance of
  P's projection to the line of edge k, positive on the triangle's side)::

      I = sum_k s_k ln((r_k + r_k+1 + d_k) / (r_k + r_k+1 - d_k)) - |h| |Omega|

A unit doublet panel (axis along n) then has potential Omega / (4 pi) and a unit source panel
-I / (4 pi) (Katz & Plotkin's sign: a positive source pushes fluid out). Both are exact for flat
panels, with no far-field approximation; a quad (a, b, c, d) is taken as the triangles (a, b, c)
and (a, c, d). Degenerate triangles (coincident corners, e.g. at a pole) contribute zero. The
doublet potential jumps by 1 across the panel (it is +1/2 just above, -1/2 just below its centre);
on the panel itself the formula returns 0 and the caller sets the limit it needs.
"""

from __future__ import annotations

import math

import torch


def triangle_potentials(tri: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integral of 1/r and signed solid angle of triangles tri (T, 3, 3) seen from points (M, 3).

    Returns (I (M, T), Omega (M, T)); differentiable in both inputs away from the singular set.
    """
    R = tri.unsqueeze(0) - points[:, None, None, :]  # (M, T, 3, 3): R_k = v_k - P
    r = R.norm(dim=-1)  # (M, T, 3)
    R1, R2, R3 = R.unbind(2)
    r1, r2, r3 = r.unbind(2)
    num = -(R1 * torch.linalg.cross(R2, R3, dim=-1)).sum(-1)
    den = r1 * r2 * r3 + (R1 * R2).sum(-1) * r3 + (R1 * R3).sum(-1) * r2 + (R2 * R3).sum(-1) * r1
    omega = 2 * torch.atan2(num, den)  # (M, T)
    e = tri.roll(-1, dims=1) - tri  # (T, 3, 3): edge k from v_k to v_k+1
    d = e.norm(dim=-1)  # (T, 3)
    nrm = torch.linalg.cross(e[:, 0], -e[:, 2], dim=-1)  # (T, 3) = (v2 - v1) x (v3 - v1)
    area2 = nrm.norm(dim=-1, keepdim=True)
    tiny = torch.finfo(tri.dtype).tiny ** 0.5
    n = nrm / area2.clamp_min(tiny)
    m = torch.linalg.cross(e, n.unsqueeze(1).expand_as(e), dim=-1) / d.clamp_min(tiny).unsqueeze(-1)  # outward edge normals
    s = (R * m.unsqueeze(0)).sum(-1)  # (M, T, 3): (v_k - P).m_k, > 0 when P is on the inner side
    rk, rk1 = r, r.roll(-1, dims=2)
    scale = (rk + rk1).clamp_min(tiny)
    log = torch.log((rk + rk1 + d) / (rk + rk1 - d).clamp_min(1e-14 * scale))  # (M, T, 3)
    log = torch.where(d > 0, log, torch.zeros_like(log))
    h = -(R1 * n.unsqueeze(0)).sum(-1)  # (M, T): (P - v_1).n
    integral = (s * log).sum(-1) - h.abs() * omega.abs()
    degenerate = (area2.squeeze(-1) <= tiny).unsqueeze(0)
    zero = torch.zeros_like(integral)
    return torch.where(degenerate, zero, integral), torch.where(degenerate, zero, omega)


def panel_influence(corners: torch.Tensor, points: torch.Tensor, chunk: int = 256):
    """Unit source and doublet potentials of quad panels corners (P, 4, 3) at points (M, 3).

    Returns (S (M, P), D (M, P)) with S = -I / (4 pi) and D = Omega / (4 pi). Works in chunks of
    ``chunk`` field points to bound memory (about 300 * chunk * P bytes in float64).
    """
    if corners.dim() != 3 or corners.shape[1:] != (4, 3):
        raise ValueError(f"panel_influence: corners must have shape (P, 4, 3), got {tuple(corners.shape)}")
    if points.dim() != 2 or points.shape[1] != 3:
        raise ValueError(f"panel_influence: points must have shape (M, 3), got {tuple(points.shape)}")
    tri = torch.cat([corners[:, [0, 1, 2]], corners[:, [0, 2, 3]]], 0)  # (2P, 3, 3)
    n_p = corners.shape[0]
    S, D = [], []
    for start in range(0, points.shape[0], chunk):
        I, om = triangle_potentials(tri, points[start : start + chunk])
        S.append(-(I[:, :n_p] + I[:, n_p:]) / (4 * math.pi))
        D.append((om[:, :n_p] + om[:, n_p:]) / (4 * math.pi))
    return torch.cat(S, 0), torch.cat(D, 0)
