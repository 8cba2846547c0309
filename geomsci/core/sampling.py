"""Area-weighted, reparameterized point sampling on triangle meshes.

A sample is drawn in two steps: a face f with probability ``area_f / total_area`` (a discrete,
non-differentiable choice), then a uniform point inside it from two uniforms (u, v)::

    s = sqrt(u)
    p = (1 - s) v0 + s (1 - v) v1 + s v v2

The point is a fixed barycentric combination of the face's vertices, so gradients flow from the
samples back to ``points`` (the reparameterization trick used by pytorch3d's
``sample_points_from_meshes``).
"""

from __future__ import annotations

import operator

import torch

from .geometry import _check, face_normals
from .spatial import as_points

__all__ = ["sample_points", "sample_faces"]


def sample_faces(points: torch.Tensor, faces: torch.Tensor, n: int, *, generator: torch.Generator | None = None):
    """Draw ``n`` faces with probability proportional to their area and uniform barycentrics in each.

    Returns
    -------
    face_idx : (n,) long tensor
    bary : (n, 3) tensor of barycentric weights, same dtype/device as ``points`` (no gradient)
    """
    points, faces = _check(as_points(points, "points", dims=(2, 3)), faces, dims=(2, 3))
    try:
        n = operator.index(n)
    except TypeError:
        if not (isinstance(n, float) and float(n).is_integer()):  # float(): n is typed int (a whole float is accepted)
            raise TypeError(f"n must be an integer number of samples, got {n!r} ({type(n).__name__})") from None
        n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if faces.shape[0] == 0:
        raise ValueError("cannot sample points from a mesh with no faces")
    with torch.no_grad():
        v0, v1, v2 = points[faces].unbind(1)
        e1, e2 = v1 - v0, v2 - v0
        if points.shape[1] == 2:
            area = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs()
        else:
            area = torch.linalg.vector_norm(torch.cross(e1, e2, dim=-1), dim=-1)  # (F,) 2x area
        if not (area.sum() > 0):
            if not bool(torch.isfinite(area).all()):
                raise ValueError("cannot sample points: points contain NaN or inf; check the mesh coordinates")
            raise ValueError("cannot sample points: the mesh has zero total area")
        if n == 0:
            return faces.new_zeros(0), points.new_zeros((0, 3))
        face_idx = torch.multinomial(area, n, replacement=True, generator=generator)  # (n,)
        uv = torch.rand((n, 2), dtype=points.dtype, device=points.device, generator=generator)
        s = uv[:, 0].sqrt()
        bary = torch.stack([1 - s, s * (1 - uv[:, 1]), s * uv[:, 1]], dim=1)  # (n, 3)
    return face_idx, bary


def sample_points(
    points: torch.Tensor,
    faces: torch.Tensor,
    n: int,
    *,
    generator: torch.Generator | None = None,
    return_normals: bool = False,
    planar: bool = False,
):
    """Sample ``n`` points uniformly (by area) on a triangle mesh, differentiably in ``points``.

    Parameters
    ----------
    points : (N, 3) float tensor or array (converted); (N, 2) only with ``planar=True``
    faces : (F, 3) long tensor or array
    n : number of samples
    generator : torch.Generator on ``points``' device, for reproducible samples. With the same
        generator state and the same face areas, the same faces and barycentrics are drawn, so
        the samples are a smooth function of ``points`` (this is what gradcheck relies on).
    return_normals : also return the unit normal of the face each sample lies on.
    planar : allow a planar mesh with (N, 2) points (samples (n, 2), no normals). Without it (N, 2)
        points are refused: a surface sampler handed 2-D points is more often a mistake.

    Returns
    -------
    samples : (n, D) tensor
    normals : (n, 3) tensor, only with ``return_normals=True``
    """
    points = as_points(points, "points", dims=(2, 3))
    if points.shape[1] == 2 and not planar:
        raise ValueError(
            f"sample_points samples triangle surfaces in 3-D, got points of shape {tuple(points.shape)}; "
            "pass planar=True to sample a planar (N, 2) mesh by area, or add a z column"
        )
    points, faces = _check(points, faces, dims=(2, 3))
    if return_normals and points.shape[1] != 3:
        raise ValueError(f"return_normals needs 3-D points, got points of shape {tuple(points.shape)}")
    face_idx, bary = sample_faces(points, faces, n, generator=generator)
    tri = points[faces[face_idx]]  # (n, 3, D)
    samples = (bary.unsqueeze(-1) * tri).sum(1)  # (n, D)
    if not return_normals:
        return samples
    normals = face_normals(points, faces[face_idx])  # (n, 3)
    return samples, normals
