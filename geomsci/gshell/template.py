"""The watertight template a G-Shell fit starts from, and the normalized frame it works in.

With oriented samples of the target (a mesh's faces, or a point cloud with normals), the
generalized winding number (Jacobson et al. 2013) ``w(x) = sum_f Omega_f(x) / 4 pi`` is 1 inside a
closed surface, 0 outside, and for an open surface it still jumps by 1 across the surface while it
fills each hole smoothly with w = 1/2. So ``s0 = sign(1/2 - w) * dist(x, target)`` is an SDF whose
zero set is a *watertight* template containing the open target plus hole-filling patches.
"""

from __future__ import annotations

import math

import torch

from geomsci.core.mesh import Mesh


@torch.no_grad()
def winding_number(
    query: torch.Tensor, points: torch.Tensor, normals: torch.Tensor, areas: torch.Tensor, chunk: int = 2**22
) -> torch.Tensor:
    """Generalized winding number of an oriented, area-weighted point cloud (dipole sum, Barill
    et al. 2018, "Fast winding numbers for soups and clouds", far-field term)::

        w(x) = sum_i a_i (p_i - x) . n_i / (4 pi |p_i - x|^3)

    1 inside a closed outward-oriented surface, 0 outside, 1/2 across the holes of an open one.
    Accurate at distances well above the sample spacing; see :func:`template_sdf` for the
    treatment near the surface. query (Q, 3), points (N, 3), normals (N, 3), areas (N,) -> (Q,).
    """
    # expanded so that the (q, N) work is two matrix products and a few elementwise ops:
    # (p - x) . a n = (p . a n) - x . (a n),   |p - x|^2 = |p|^2 + |x|^2 - 2 x . p
    out = torch.empty(query.shape[0], dtype=points.dtype, device=points.device)
    step = max(1, chunk // max(1, points.shape[0]))
    an = areas[:, None] * normals  # (N, 3)
    pan = (points * an).sum(-1)  # (N,)
    p2 = points.square().sum(-1)  # (N,)
    for i in range(0, query.shape[0], step):
        q = query[i : i + step]  # (q, 3)
        num = pan - q @ an.T  # (q, N)
        r2 = (p2 + q.square().sum(-1, keepdim=True) - 2 * q @ points.T).clamp_min(1e-12)
        out[i : i + step] = (num * r2.rsqrt() / r2).sum(1) / (4 * math.pi)
    return out


@torch.no_grad()
def template_sdf(
    query: torch.Tensor,
    points: torch.Tensor,
    normals: torch.Tensor,
    areas: torch.Tensor,
    band: float,
    max_dipoles: int = 3000,
) -> torch.Tensor:
    """A watertight-template SDF for an oriented (possibly open) surface given by samples.

    ``|s| = distance to the nearest sample``; the sign is "inside" where the winding number
    exceeds 1/2, except within ``band`` of the surface where the dipole sum is unreliable and the
    side of the nearest sample's tangent plane decides: ``sign((x - p_nn) . n_nn)``. The far-field
    sum uses at most ``max_dipoles`` of the samples (evenly strided; area rescaled).
    query (Q, 3) -> (Q,).
    """
    from scipy.spatial import cKDTree  # initialization only: an exact KD-tree on the CPU

    dist, index = cKDTree(points.cpu().double().numpy()).query(query.cpu().double().numpy())
    d = torch.as_tensor(dist, dtype=query.dtype, device=query.device)
    idx = torch.as_tensor(index, device=query.device)
    near = d < band
    side = ((query - points[idx]) * normals[idx]).sum(-1)  # (Q,) > 0 outside
    inside = torch.zeros_like(near)
    inside[near] = side[near] < 0
    far = ~near
    # far field: a subset of the samples carries the same total area
    n = points.shape[0]
    sub = torch.arange(0, n, max(1, -(-n // max_dipoles)), device=points.device)
    a_sub = areas[sub] * (areas.sum() / areas[sub].sum())
    inside[far] = winding_number(query[far], points[sub], normals[sub], a_sub) > 0.5
    return torch.where(inside, -d, d)


def area_per_sample(target: Mesh, pts: torch.Tensor, n: int) -> torch.Tensor:
    """(n,) area carried by each of n area-uniform samples (total area / n), or for a point cloud
    pi r^2 with r half the mean distance to the nearest other point."""
    from geomsci.core.geometry import surface_area

    if target.cells is not None:
        return surface_area(pts, target.cells).expand(n) / n
    gen = torch.Generator(device=pts.device).manual_seed(0)
    sub = pts[torch.randperm(pts.shape[0], generator=gen, device=pts.device)[: min(2000, pts.shape[0])]]
    # distance to the second nearest = nearest among the others
    dist = torch.cdist(sub, pts).topk(2, largest=False).values[:, 1]
    r = 0.5 * float(dist.mean())
    return torch.full((n,), math.pi * r * r, dtype=pts.dtype, device=pts.device)


def normalize(points: torch.Tensor, extent: float = 0.8) -> tuple[torch.Tensor, float]:
    """Center and scale of the map putting ``points`` (P, 3) into [-extent, extent]^3."""
    lo, hi = points.min(0).values, points.max(0).values
    center = (lo + hi) / 2
    scale = float((hi - lo).max()) / (2 * extent)
    return center, scale


_area_per_sample = area_per_sample  # the name fit.py used
