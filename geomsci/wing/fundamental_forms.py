"""Riemannian quantities of a surface patch from the derivatives of its parametrization.

Given x(u, v) and its derivatives at a point, everything the wing features need follows from
dot products (do Carmo, *Differential Geometry of Curves and Surfaces*, ch. 3 and 4)::

    first fundamental form   g = [[E, F], [F, G]],  E = x_u.x_u,  F = x_u.x_v,  G = x_v.x_v
    unit normal              n = x_u x x_v / |x_u x x_v|
    second fundamental form  L = x_uu.n,  M = x_uv.n,  N = x_vv.n
    Gaussian curvature       K = (L N - M^2) / (E G - F^2)
    mean curvature           H = -(E N - 2 F M + G L) / (2 (E G - F^2))
    principal curvatures     k1,2 = H +- sqrt(H^2 - K)          (k1 >= k2)
    Christoffel symbols      Gamma^k_ij = g^kl (x_ij . x_l)     (second kind, Levi-Civita)

The last line holds because Gamma_ijl = 1/2 (d_i g_jl + d_j g_il - d_l g_ij) = x_ij . x_l, so the
connection needs only second derivatives of x, never derivatives of the metric.

Signs (docs/conventions.md, the same as :func:`geomsci.core.geometry.mean_curvature`): L, M, N are
taken along the normal n = x_u x x_v (outward for the wing grids of :mod:`geomsci.wing.planform`), and
H, k1, k2 are curvatures of the surface *bending away from n*: a sphere of radius R with outward
normal has H = k1 = k2 = +1/R and K = +1/R^2. (The minus sign in H, i.e. k = -II/I, makes a
convex closed surface positive; L, M, N themselves are negative on it.)
"""

from __future__ import annotations

import torch

#: Names of the per-point fields, grouped as the learning benchmark ablates them.
FEATURE_GROUPS = {
    "metric": ["E", "F", "G", "det_g", "g11_inv", "g12_inv", "g22_inv"],
    "christoffel": ["Gamma1_11", "Gamma1_12", "Gamma1_22", "Gamma2_11", "Gamma2_12", "Gamma2_22"],
    "curvature": ["K", "H", "k1", "k2"],
}


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


def fundamental_forms(xu, xv, xuu, xuv, xvv) -> dict[str, torch.Tensor]:
    """Metric, inverse metric, Christoffel symbols and curvatures from derivatives of x(u, v).

    Parameters
    ----------
    xu, xv, xuu, xuv, xvv : tensors, shape (N, 3)
        First and second partial derivatives of the parametrization at N points.

    Returns
    -------
    dict of name -> tensor (N,) for every name in :data:`FEATURE_GROUPS`, plus ``"normal"`` (N, 3).
    Differentiable in the inputs; dtype and device follow them.
    """
    for name, t in (("xu", xu), ("xv", xv), ("xuu", xuu), ("xuv", xuv), ("xvv", xvv)):
        if t.dim() != 2 or t.shape[-1] != 3 or t.shape != xu.shape:
            raise ValueError(f"fundamental_forms: {name} must have shape (N, 3) like xu {tuple(xu.shape)}, got {tuple(t.shape)}")
    E, F, G = _dot(xu, xu), _dot(xu, xv), _dot(xv, xv)  # (N,)
    det = E * G - F * F  # (N,) = |x_u x x_v|^2
    g11, g12, g22 = G / det, -F / det, E / det  # inverse metric
    cross = torch.linalg.cross(xu, xv, dim=-1)  # (N, 3)
    n = cross / det.clamp_min(torch.finfo(det.dtype).tiny).sqrt().unsqueeze(-1)
    L, M, N = _dot(xuu, n), _dot(xuv, n), _dot(xvv, n)
    K = (L * N - M * M) / det
    H = -(E * N - 2 * F * M + G * L) / (2 * det)  # + on a sphere with outward n (docs/conventions.md)
    disc = (H * H - K).clamp_min(0).sqrt()
    out = {
        "E": E,
        "F": F,
        "G": G,
        "det_g": det,
        "g11_inv": g11,
        "g12_inv": g12,
        "g22_inv": g22,
        "K": K,
        "H": H,
        "k1": H + disc,
        "k2": H - disc,
        "normal": n,
    }
    # Gamma^k_ij = g^k1 (x_ij . x_u) + g^k2 (x_ij . x_v)
    for ij, xij in (("11", xuu), ("12", xuv), ("22", xvv)):
        a1, a2 = _dot(xij, xu), _dot(xij, xv)
        out[f"Gamma1_{ij}"] = g11 * a1 + g12 * a2
        out[f"Gamma2_{ij}"] = g12 * a1 + g22 * a2
    return out
