"""Analytic test shapes: meshes whose area, volume, curvature and topology are known in closed form,
and signed distance functions of the same shapes.

Every mesh is consistently oriented with outward normals (counter-clockwise seen from outside), so
``signed_volume`` is positive for the closed ones. Reference values for tests:

==================  ======================  =======================  ======================
shape               area                    volume                   topology
==================  ======================  =======================  ======================
sphere, radius r    4 pi r^2                4/3 pi r^3               genus 0, watertight
torus (R, r)        4 pi^2 R r              2 pi^2 R r^2             genus 1, watertight
open cylinder       2 pi r h                (open)                   2 boundary loops
plane, a x b        a b                     (open)                   1 boundary loop
==================  ======================  =======================  ======================

Meshes are inscribed (vertices on the surface), so their areas and volumes approach these values
from below as the resolution grows.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .mesh import Mesh


def _mesh(points: np.ndarray, faces: np.ndarray, dtype, device) -> Mesh:
    dtype = dtype or torch.get_default_dtype()
    return Mesh(
        torch.as_tensor(points, dtype=dtype, device=device),
        torch.as_tensor(faces, dtype=torch.long, device=device),
        "triangle",
    )


def _check_int(name: str, value, minimum: int) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(name: str, value) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def _grid_faces(n_u: int, n_v: int, wrap_u: bool, wrap_v: bool) -> np.ndarray:
    """Two triangles per cell of a (u, v) lattice whose vertex (i, j) has index i * n_v + j.

    ``n_u``/``n_v`` count vertices; a wrapped axis joins its last vertex to its first. The triangles
    are counter-clockwise in (u, v), so their normal is d/du x d/dv of the parameterisation::

        d=(i,j+1) ---- c=(i+1,j+1)
           |        /  |
           |     /     |
        a=(i,j) ------ b=(i+1,j)
    """
    cu = n_u if wrap_u else n_u - 1
    cv = n_v if wrap_v else n_v - 1
    i_grid, j_grid = np.meshgrid(np.arange(cu), np.arange(cv), indexing="ij")
    i, j = i_grid.ravel(), j_grid.ravel()
    i1, j1 = (i + 1) % n_u, (j + 1) % n_v
    a, b, c, d = i * n_v + j, i1 * n_v + j, i1 * n_v + j1, i * n_v + j1
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int64)  # (2 cu cv, 3)


def icosphere(subdivisions: int = 3, radius: float = 1.0, *, center=(0.0, 0.0, 0.0), dtype=None, device=None) -> Mesh:
    """Sphere made by splitting each triangle of an icosahedron into four, ``subdivisions`` times.

    Has ``10 * 4**s + 2`` points and ``20 * 4**s`` faces (s = 3: 642 points, 1280 faces), all
    vertices on the sphere and nearly uniform triangles.
    """
    s = _check_int("subdivisions", subdivisions, 0)
    radius = _check_positive("radius", radius)
    t = (1.0 + math.sqrt(5.0)) / 2.0
    pts = np.array(
        [
            [-1, t, 0],
            [1, t, 0],
            [-1, -t, 0],
            [1, -t, 0],
            [0, -1, t],
            [0, 1, t],
            [0, -1, -t],
            [0, 1, -t],
            [t, 0, -1],
            [t, 0, 1],
            [-t, 0, -1],
            [-t, 0, 1],
        ],
        dtype=np.float64,
    )
    faces = np.array(
        [
            [0, 11, 5],
            [0, 5, 1],
            [0, 1, 7],
            [0, 7, 10],
            [0, 10, 11],
            [1, 5, 9],
            [5, 11, 4],
            [11, 10, 2],
            [10, 7, 6],
            [7, 1, 8],
            [3, 9, 4],
            [3, 4, 2],
            [3, 2, 6],
            [3, 6, 8],
            [3, 8, 9],
            [4, 9, 5],
            [2, 4, 11],
            [6, 2, 10],
            [8, 6, 7],
            [9, 8, 1],
        ],
        dtype=np.int64,
    )
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    for _ in range(s):
        # one new vertex per unique edge, at its midpoint pushed back onto the sphere
        e = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)  # (3F, 2)
        uniq, inv = np.unique(e, axis=0, return_inverse=True)
        mid = pts[uniq].mean(axis=1)
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = (inv.reshape(-1) + len(pts)).reshape(-1, 3)  # (F, 3): midpoints of edges 01, 12, 20
        a, b, c = faces.T
        faces = np.concatenate(
            [np.stack([a, m[:, 0], m[:, 2]], 1), np.stack([b, m[:, 1], m[:, 0]], 1), np.stack([c, m[:, 2], m[:, 1]], 1), m]
        )
        pts = np.concatenate([pts, mid])
    return _mesh(pts * radius + np.asarray(center, dtype=np.float64), faces, dtype, device)


def uv_sphere(n_lat: int = 16, n_lon: int = 32, radius: float = 1.0, *, center=(0.0, 0.0, 0.0), dtype=None, device=None) -> Mesh:
    """Latitude-longitude sphere: ``n_lat`` bands between the poles, ``n_lon`` segments around z.

    The equator (present when ``n_lat`` is even) is a regular ``n_lon``-gon, so the silhouette seen
    along z has area ``n_lon / 2 * sin(2 pi / n_lon) * r^2``.
    """
    n_lat = _check_int("n_lat", n_lat, 2)
    n_lon = _check_int("n_lon", n_lon, 3)
    radius = _check_positive("radius", radius)
    theta = np.linspace(0, np.pi, n_lat + 1)[1:-1]  # polar angles of the rings
    phi = np.arange(n_lon) * 2 * np.pi / n_lon
    th, ph = np.meshgrid(theta, phi, indexing="ij")  # ring-major: vertex (ring, k) = ring * n_lon + k
    ring = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    n_ring = len(ring)
    pts = np.concatenate([ring, [[0, 0, 1.0], [0, 0, -1.0]]])
    north, south = n_ring, n_ring + 1
    # bands between rings; here u runs down the rings (polar angle), v around: d/dtheta x d/dphi is outward
    faces = [_grid_faces(n_lat - 1, n_lon, False, True)] if n_lat > 2 else []
    k = np.arange(n_lon)
    k1 = (k + 1) % n_lon
    faces.append(np.stack([np.full(n_lon, north), k, k1], 1))
    last = (n_lat - 2) * n_lon
    faces.append(np.stack([np.full(n_lon, south), last + k1, last + k], 1))
    return _mesh(pts * radius + np.asarray(center, dtype=np.float64), np.concatenate(faces), dtype, device)


def torus_mesh(R: float = 1.0, r: float = 0.25, n_major: int = 48, n_minor: int = 24, *, dtype=None, device=None) -> Mesh:
    """Torus around the z axis: ``((R + r cos v) cos u, (R + r cos v) sin u, r sin v)``.

    ``n_major`` vertices around z (u), ``n_minor`` around the tube (v); genus 1. Analytic mean
    curvature ``H = (R + 2 r cos v) / (2 r (R + r cos v))``, Gaussian ``K = cos v / (r (R + r cos v))``.
    """
    R, r = _check_positive("R", R), _check_positive("r", r)
    if r >= R:
        raise ValueError(f"torus_mesh: need r < R for a ring torus, got R={R}, r={r}")
    n_major = _check_int("n_major", n_major, 3)
    n_minor = _check_int("n_minor", n_minor, 3)
    u = np.arange(n_major) * 2 * np.pi / n_major
    v = np.arange(n_minor) * 2 * np.pi / n_minor
    uu, vv = np.meshgrid(u, v, indexing="ij")
    w = R + r * np.cos(vv)
    pts = np.stack([w * np.cos(uu), w * np.sin(uu), r * np.sin(vv)], -1).reshape(-1, 3)
    return _mesh(pts, _grid_faces(n_major, n_minor, True, True), dtype, device)


def cylinder_mesh(
    radius: float = 1.0,
    height: float = 2.0,
    n_around: int = 32,
    n_height: int = 8,
    capped: bool = False,
    *,
    dtype=None,
    device=None,
) -> Mesh:
    """Cylinder around the z axis, z in [-height/2, height/2].

    Open (``capped=False``): two boundary loops of ``n_around`` vertices, area ``n_around sin(2 pi /
    n_around) r h``. Capped: each end closed by a fan around a centre vertex (watertight, genus 0).
    """
    radius, height = _check_positive("radius", radius), _check_positive("height", height)
    n_around = _check_int("n_around", n_around, 3)
    n_height = _check_int("n_height", n_height, 1)
    u = np.arange(n_around) * 2 * np.pi / n_around
    z = np.linspace(-height / 2, height / 2, n_height + 1)
    uu, zz = np.meshgrid(u, z, indexing="ij")  # vertex (i, j) = i * (n_height + 1) + j
    pts = np.stack([radius * np.cos(uu), radius * np.sin(uu), zz], -1).reshape(-1, 3)
    faces = [_grid_faces(n_around, n_height + 1, True, False)]
    if capped:
        nv = n_height + 1
        i = np.arange(n_around)
        i1 = (i + 1) % n_around
        bottom, top = len(pts), len(pts) + 1
        pts = np.concatenate([pts, [[0, 0, -height / 2], [0, 0, height / 2]]])
        faces.append(np.stack([np.full(n_around, bottom), i1 * nv, i * nv], 1))
        faces.append(np.stack([np.full(n_around, top), i * nv + n_height, i1 * nv + n_height], 1))
    return _mesh(pts, np.concatenate(faces), dtype, device)


def plane_mesh(nx: int = 10, ny: int = 10, bounds=((0.0, 0.0), (1.0, 1.0)), *, dim: int = 3, dtype=None, device=None) -> Mesh:
    """Rectangle ``bounds = ((xmin, ymin), (xmax, ymax))`` split into ``nx * ny`` cells of two triangles.

    ``dim=3`` puts it in the z = 0 plane with normal +z; ``dim=2`` gives a 2-D triangle mesh (points
    (N, 2)) for PDE work. Vertex (i, j) (i along x) has index ``j * (nx + 1) + i``.
    """
    nx, ny = _check_int("nx", nx, 1), _check_int("ny", ny, 1)
    if dim not in (2, 3):
        raise ValueError(f"plane_mesh: dim must be 2 or 3, got {dim!r}")
    (x0, y0), (x1, y1) = bounds
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"plane_mesh: bounds must be ((xmin, ymin), (xmax, ymax)) with max > min, got {bounds!r}")
    x = np.linspace(x0, x1, nx + 1)
    y = np.linspace(y0, y1, ny + 1)
    yy, xx = np.meshgrid(y, x, indexing="ij")  # row j (y) major, x fastest
    pts = np.stack([xx.ravel(), yy.ravel()] + ([np.zeros(xx.size)] if dim == 3 else []), -1)
    # lattice with u = y (rows), v = x: d/dy x d/dx is -z, so flip to get +z (counter-clockwise in xy)
    faces = _grid_faces(ny + 1, nx + 1, False, False)[:, [0, 2, 1]]
    return _mesh(pts, faces, dtype, device)


def sphere_sdf(points: torch.Tensor, radius: float = 1.0, center=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Signed distance ``|p - c| - r`` (negative inside) of points (P, 3) -> (P,)."""
    if points.dim() != 2 or points.shape[-1] != 3:
        raise ValueError(f"sphere_sdf: points must have shape (P, 3), got {tuple(points.shape)}")
    c = torch.as_tensor(center, dtype=points.dtype, device=points.device)
    return torch.linalg.vector_norm(points - c, dim=-1) - radius


def torus_sdf(points: torch.Tensor, R: float = 1.0, r: float = 0.25) -> torch.Tensor:
    """Signed distance of the torus around z (see `torus_mesh`) for points (P, 3) -> (P,).

    With q = (sqrt(x^2 + y^2) - R, z), the distance to the tube's core circle is |q|, so sdf = |q| - r.
    """
    if points.dim() != 2 or points.shape[-1] != 3:
        raise ValueError(f"torus_sdf: points must have shape (P, 3), got {tuple(points.shape)}")
    rho = torch.linalg.vector_norm(points[:, :2], dim=-1) - R  # (P,)
    return torch.sqrt(rho * rho + points[:, 2] * points[:, 2]) - r
