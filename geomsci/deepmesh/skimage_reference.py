"""The reference our marching cubes is measured against: scikit-image's mesh of the same grid, and
the mean distance of a mesh to an analytic surface (used by tests and ``benchmarks/deepmesh.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from geomsci.core.mesh import Mesh
from geomsci.core.sampling import sample_points


def skimage_mesh(values: torch.Tensor, spacing: float, origin) -> Mesh:
    """``skimage.measure.marching_cubes`` (Lewiner) of ``values`` (X, Y, Z) at level 0 as a Mesh,
    faces flipped so that they point toward increasing values like ours."""
    from skimage.measure import marching_cubes as sk_mc

    verts, faces, _, _ = sk_mc(values.detach().cpu().numpy(), 0.0, spacing=(float(spacing),) * 3)
    verts = verts + np.asarray(origin, dtype=verts.dtype)
    return Mesh(torch.as_tensor(verts, dtype=values.dtype), torch.as_tensor(faces[:, ::-1].copy(), dtype=torch.long))


def surface_error(mesh: Mesh, sdf: Callable, n: int = 200_000, seed: int = 0) -> float:
    """Mean absolute distance to the analytic surface ``{sdf = 0}`` of ``n`` area-uniform samples
    of ``mesh`` (the one-sided Chamfer distance, exact because ``sdf`` is a true distance).

    Parameters
    ----------
    mesh : Mesh, triangle surface (V, 3) / (F, 3)
    sdf : callable, points (P, 3) -> signed distance (P,)
    """
    g = torch.Generator(device=mesh.device).manual_seed(seed)
    with torch.no_grad():
        pts = sample_points(mesh.points.detach(), mesh.cells, n, generator=g)  # (n, 3)
        return float(sdf(pts).abs().mean())
