"""A plate with circular holes, meshed with SciPy's Delaunay triangulation, and a scikit-fem P2
reference for the Poisson problem -lap u = f on it with u = g on every boundary edge.

Meshing: boundary nodes spaced ~h on the square and on each circle, interior nodes on a
hexagonal lattice of spacing h kept at least 0.6 h away from the boundaries, Delaunay of all
nodes, and triangles whose centroid lies inside a hole removed. The domain the `Mesh` describes is
the resulting polygon (holes are inscribed polygons); the reference solves on exactly that polygon
(refined uniformly, which keeps the polygon), so the two agree on the geometry.
"""

from __future__ import annotations

import numpy as np
import torch

from geomsci.core.mesh import Mesh

DEFAULT_HOLES = ((-0.4, -0.35, 0.3), (0.45, 0.4, 0.25))


def plate_with_holes(h: float = 0.1, holes=DEFAULT_HOLES, size: float = 1.0, dtype=torch.float64) -> Mesh:
    """Triangle `Mesh` of the square [-size, size]^2 minus discs ``holes = ((cx, cy, r), ...)``.

    Parameters
    ----------
    h : target edge length (> 0); holes : discs inside the square, not touching each other or the
    square's sides; size : half side of the square.
    """
    from scipy.spatial import Delaunay

    if not h > 0:
        raise ValueError(f"plate_with_holes: h must be > 0, got {h}")
    if not 0 < size < np.inf:
        raise ValueError(f"plate_with_holes: size (half side of the square) must be > 0 and finite, got {size}")
    for cx, cy, r in holes:
        if r <= 0 or abs(cx) + r >= size or abs(cy) + r >= size:
            raise ValueError(f"plate_with_holes: hole {(cx, cy, r)} must lie strictly inside the square of half side {size}")
    for k, (cx, cy, r) in enumerate(holes):
        for cx2, cy2, r2 in holes[k + 1 :]:
            if np.hypot(cx - cx2, cy - cy2) <= r + r2:
                raise ValueError(
                    f"plate_with_holes: holes {(cx, cy, r)} and {(cx2, cy2, r2)} overlap or touch; "
                    "move them apart or make them smaller"
                )
    n_side = max(2, int(np.ceil(2 * size / h)))
    s = np.linspace(-size, size, n_side + 1)
    square = np.concatenate(
        [
            np.stack([s[:-1], np.full(n_side, -size)], 1),
            np.stack([np.full(n_side, size), s[:-1]], 1),
            np.stack([s[::-1][:-1], np.full(n_side, size)], 1),
            np.stack([np.full(n_side, -size), s[::-1][:-1]], 1),
        ]
    )
    pts = [square]
    for cx, cy, r in holes:
        m = max(8, int(np.ceil(2 * np.pi * r / h)))
        a = 2 * np.pi * np.arange(m) / m
        pts.append(np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1))
    # hexagonal lattice interior nodes
    dy = h * np.sqrt(3) / 2
    rows = np.arange(-size, size + dy, dy)
    lat = np.concatenate(
        [
            np.stack(
                [np.arange(-size, size + h, h) + (0.5 * h if i % 2 else 0.0), np.full_like(np.arange(-size, size + h, h), y)], 1
            )
            for i, y in enumerate(rows)
        ]
    )
    keep = (np.abs(lat) <= size - 0.6 * h).all(1)
    for cx, cy, r in holes:
        keep &= np.hypot(lat[:, 0] - cx, lat[:, 1] - cy) >= r + 0.6 * h
    pts.append(lat[keep])
    P = np.concatenate(pts)
    tri = Delaunay(P).simplices
    cen = P[tri].mean(1)
    inside = np.zeros(len(tri), bool)
    for cx, cy, r in holes:
        inside |= np.hypot(cen[:, 0] - cx, cen[:, 1] - cy) < r
    tri = tri[~inside]
    # counter-clockwise orientation
    e1, e2 = P[tri[:, 1]] - P[tri[:, 0]], P[tri[:, 2]] - P[tri[:, 0]]
    flip = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    used = np.unique(tri)
    remap = -np.ones(len(P), np.int64)
    remap[used] = np.arange(len(used))
    return Mesh(torch.as_tensor(P[used], dtype=dtype), torch.as_tensor(remap[tri]), "triangle")


def poisson_p2(mesh: Mesh, f, g=None, refine: int = 2):
    """Solve -lap u = f, u = g on the boundary, with P2 elements on ``mesh`` refined ``refine`` times.

    Parameters
    ----------
    mesh : 2-D triangle `Mesh`; f, g : callables (P, 2) float64 ndarray -> (P,) (g = 0 when None)

    Returns
    -------
    basis : the scikit-fem ``CellBasis`` (for ``basis.probes``); u : (n_dofs,) P2 coefficients;
    vertices : (V, 2) vertices of the refined mesh; u_vertices : (V,) solution there.
    """
    import skfem
    from skfem.helpers import dot, grad

    if mesh.cell_type != "triangle" or mesh.dim != 2:
        raise ValueError(f"poisson_p2: needs a 2-D triangle mesh, got {mesh!r}")
    m = skfem.MeshTri(mesh.points.detach().cpu().numpy().T.astype(np.float64), mesh.cells.cpu().numpy().T)
    if refine:
        m = m.refined(refine)
    basis = skfem.Basis(m, skfem.ElementTriP2())

    @skfem.BilinearForm
    def laplace(u, v, _):
        return dot(grad(u), grad(v))

    @skfem.LinearForm
    def load(v, w):
        return f(np.stack([w.x[0].ravel(), w.x[1].ravel()], 1)).reshape(w.x[0].shape) * v

    A, b = laplace.assemble(basis), load.assemble(basis)
    D = basis.get_dofs()  # all boundary facets (outer square and holes)
    x_bc = np.zeros(basis.N)
    if g is not None:
        x_bc[D.flatten()] = g(basis.doflocs[:, D.flatten()].T)
    u = skfem.solve(*skfem.condense(A, b, x=x_bc, D=D))
    return basis, u, m.p.T.copy(), u[basis.nodal_dofs[0]]
