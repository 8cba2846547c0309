"""Tetrahedral grids of a box (the DMTet / G-Shell lattice).

One job: the conforming tetrahedral grid of a box on which DMTet / G-Shell fields live, and the
small operations on it (edges, bounded deformation, orientation).

The grid
--------
A box is cut into ``n^3`` cubes and every cube into 6 tetrahedra around its main diagonal
(Kuhn / Freudenthal subdivision). Every cube is split the same way, so the triangulation of a
shared cube face is identical on both sides and the tetrahedra form a conforming mesh (faces
match, no T-junctions). Vertices are ordered like ``Grid.node_points`` (x slowest), so a vertex
field reshapes to ``(n+1, n+1, n+1)``::

        6-------7            the 6 tets of a cube all contain the diagonal 0-7:
       /|      /|            (0, 0+e_a, 0+e_a+e_b, 7) for each ordering (a, b, c) of the axes
      4-------5 |
      | 2-----|-3            corner index = x + 2 y + 4 z
      |/      |/
      0-------1

Marching tetrahedra on it (``marching_tetrahedra``, ``interpolate_on_edges``) lives in
:mod:`geomsci.core.isosurface` and is re-exported here.
"""

from __future__ import annotations

import itertools

import torch

from .isosurface import TET_EDGES, interpolate_on_edges, marching_tetrahedra, parse_bounds, parse_resolution  # noqa: F401

__all__ = [
    "tet_grid",
    "tet_edges",
    "deform_vertices",
    "orient_tets",
    "marching_tetrahedra",
    "interpolate_on_edges",
]


def tet_grid(
    resolution,
    bounds=((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)),
    *,
    dtype: torch.dtype | None = None,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A conforming tetrahedral grid of a box: ``n^3`` cubes, 6 tets each (see module docstring).

    Parameters
    ----------
    resolution : int or (nx, ny, nz)
        Number of cubes (cells) per axis, the ``resolution`` convention of ``geomsci.core.isosurface``.
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)) or a half-width b for [-b, b]^3
        The box; vertex (i, j, k) sits at ``lo + (i, j, k) * (hi - lo) / n``.

    Returns
    -------
    vertices : (V, 3) float, V = (nx+1)(ny+1)(nz+1), x index slowest (like ``Grid.node_points``)
    tets : (T, 4) long, T = 6 nx ny nz, every tet with positive volume
    """
    nx, ny, nz = parse_resolution(resolution, "tet_grid")
    b = parse_bounds(bounds, dtype, device, "tet_grid")
    lo, hi = b[0], b[1]
    axes = [torch.linspace(0.0, 1.0, n + 1, dtype=dtype, device=device) for n in (nx, ny, nz)]
    gx, gy, gz = torch.meshgrid(*axes, indexing="ij")
    vertices = lo + torch.stack([gx, gy, gz], dim=-1).reshape(-1, 3) * (hi - lo)  # (V, 3)

    # Local cube corners (x + 2y + 4z) of the 6 Kuhn tets, each made positively oriented.
    corner_off = [(c & 1, c >> 1 & 1, c >> 2 & 1) for c in range(8)]
    local = []
    for perm in itertools.permutations(range(3)):
        path, cur = [0], [0, 0, 0]
        for axis in perm:
            cur[axis] = 1
            path.append(cur[0] + 2 * cur[1] + 4 * cur[2])
        p = [corner_off[c] for c in path]
        u, v, w = ([p[i][d] - p[0][d] for d in range(3)] for i in (1, 2, 3))
        det = u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) + u[2] * (v[0] * w[1] - v[1] * w[0])
        if det < 0:
            path[2], path[3] = path[3], path[2]
        local.append(path)
    sy, sx = nz + 1, (ny + 1) * (nz + 1)  # index strides of y and x
    corner_stride = torch.tensor([ox * sx + oy * sy + oz for ox, oy, oz in corner_off], dtype=torch.long, device=device)  # (8,)
    local_t = corner_stride[torch.tensor(local, dtype=torch.long, device=device)]  # (6, 4)
    i, j, k = torch.meshgrid(
        torch.arange(nx, device=device), torch.arange(ny, device=device), torch.arange(nz, device=device), indexing="ij"
    )
    base = (i * sx + j * sy + k).reshape(-1, 1, 1)  # (C, 1, 1) lowest corner of each cube
    tets = (base + local_t).reshape(-1, 4)  # (6C, 4)
    return vertices, tets


def tet_edges(tets: torch.Tensor) -> torch.Tensor:
    """Unique edges of a tet mesh: (E, 2) long, each sorted (a < b), rows sorted."""
    if tets.dim() != 2 or tets.shape[1] != 4:
        raise ValueError(f"tet_edges: tets must have shape (T, 4), got {tuple(tets.shape)}")
    with torch.no_grad():
        e = tets[:, list(itertools.chain(*TET_EDGES))].reshape(-1, 2)
        e = torch.sort(e, dim=1).values
        n = int(tets.max()) + 1 if tets.numel() else 1
        key = torch.unique(e[:, 0] * n + e[:, 1])
        return torch.stack([key // n, key % n], dim=1)


def deform_vertices(vertices: torch.Tensor, deformation: torch.Tensor, cell_size, max_fraction: float = 0.5) -> torch.Tensor:
    """Move grid vertices by a bounded offset: ``x + max_fraction * h * tanh(d)``.

    Each coordinate moves by less than ``max_fraction`` of the cell size ``h`` (a float or (3,)),
    which keeps the deformed grid close to the regular one (DMTet uses half a cell).

    vertices (V, 3), deformation (V, 3) unbounded parameters -> (V, 3).
    """
    if deformation.shape != vertices.shape:
        raise ValueError(
            f"deform_vertices: deformation must have the shape of vertices {tuple(vertices.shape)}, "
            f"got {tuple(deformation.shape)}"
        )
    h = torch.as_tensor(cell_size, dtype=vertices.dtype, device=vertices.device)
    return vertices + max_fraction * h * torch.tanh(deformation)


def orient_tets(vertices: torch.Tensor, tets: torch.Tensor) -> torch.Tensor:
    """Reorder each tet's vertices so that its volume ``det[p1-p0, p2-p0, p3-p0]`` is positive
    (swaps the last two where it is negative). vertices (V, 3), tets (T, 4) -> (T, 4)."""
    with torch.no_grad():
        p = vertices[tets]  # (T, 4, 3)
        neg = torch.linalg.det(p[:, 1:] - p[:, :1]) < 0
        return torch.where(neg[:, None], tets[:, [0, 1, 3, 2]], tets)
