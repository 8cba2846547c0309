"""Tetrahedral grids and differentiable marching tetrahedra.

One job: turn a scalar field given at the vertices of a tetrahedral grid into a triangle mesh of
its level set, differentiably (DMTet / nvdiffrec style), and say exactly how every output vertex
was made so that other per-vertex fields can be carried to the surface with the same weights.

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

Marching tetrahedra
-------------------
With ``s = sdf - level`` and a vertex "inside" when ``s < 0``, every tet edge (a, b) whose ends
are on different sides holds one surface vertex

    p = w_a p_a + w_b p_b,    w_a = s_b / (s_b - s_a),    w_b = -s_a / (s_b - s_a),

the zero of the linear interpolant of s along the edge. Vertices are welded: one per crossed edge
of the grid, shared by all tets around that edge, so the output of a closed level set is a
watertight, consistently oriented triangle mesh. A tet with one vertex on one side gives a
triangle, a tet with two on each side a quad split into two triangles. Triangles are oriented so
that their normals point from negative to positive s (outward for the usual "negative inside"
SDF). The pair ``(edge, edge_weight)`` is returned as point fields: a second field nu given at the
grid vertices is carried to the surface as ``w_a nu_a + w_b nu_b`` (see ``interpolate_on_edges``).
"""
from __future__ import annotations

import itertools

import torch

from .mesh import Mesh

__all__ = [
    "tet_grid",
    "tet_edges",
    "deform_vertices",
    "orient_tets",
    "marching_tetrahedra",
    "interpolate_on_edges",
]

# Local edges of a tet (pairs of local vertex ids 0..3), in a fixed order.
TET_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _build_tables():
    """Triangle table of marching tetrahedra, derived (not typed in) for the positive reference tet.

    case = sum_i inside_i 2^i. Returns (triangles (16, 2, 3) of local edge ids, -1 where unused;
    number of triangles (16,)). Triangles are oriented with normals pointing from inside vertices
    to outside vertices for a tet of positive volume det[p1-p0, p2-p0, p3-p0] > 0.
    """
    ref = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]  # positive volume
    edge_id = {e: k for k, e in enumerate(TET_EDGES)}
    edge_id.update({(b, a): k for (a, b), k in list(edge_id.items())})

    def mid(e):
        a, b = TET_EDGES[e]
        return [(ref[a][d] + ref[b][d]) / 2 for d in range(3)]

    def sub(u, v):
        return [u[d] - v[d] for d in range(3)]

    def cross(u, v):
        return [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]

    def dot(u, v):
        return sum(u[d] * v[d] for d in range(3))

    tris = [[[-1, -1, -1], [-1, -1, -1]] for _ in range(16)]
    counts = [0] * 16
    for case in range(16):
        inside = [i for i in range(4) if case >> i & 1]
        outside = [i for i in range(4) if not case >> i & 1]
        if len(inside) in (0, 4):
            continue
        if len(inside) == 1 or len(outside) == 1:
            lone, rest = (inside[0], outside) if len(inside) == 1 else (outside[0], inside)
            polys = [[edge_id[(lone, r)] for r in rest]]
        else:
            (i, j), (k, l) = inside, outside
            quad = [edge_id[(i, k)], edge_id[(i, l)], edge_id[(j, l)], edge_id[(j, k)]]  # a cycle
            polys = [[quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]]
        c_in = [sum(ref[i][d] for i in inside) / len(inside) for d in range(3)]
        c_out = [sum(ref[i][d] for i in outside) / len(outside) for d in range(3)]
        for t, poly in enumerate(polys):
            p0, p1, p2 = (mid(e) for e in poly)
            n = cross(sub(p1, p0), sub(p2, p0))
            if dot(n, sub(c_out, c_in)) < 0:
                poly = [poly[0], poly[2], poly[1]]
            tris[case][t] = poly
        counts[case] = len(polys)
    return tris, counts


_TRI_TABLE, _NUM_TRI = _build_tables()


def _resolution3(resolution) -> tuple[int, int, int]:
    if isinstance(resolution, int):
        res = (resolution,) * 3
    else:
        res = tuple(int(r) for r in resolution)
    if len(res) != 3 or min(res) < 1:
        raise ValueError(f"tet_grid: resolution must be a positive int or 3 positive ints, got {resolution!r}")
    return res


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
        Number of cubes per axis.
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax))
        The box; vertex (i, j, k) sits at ``lo + (i, j, k) * (hi - lo) / n``.

    Returns
    -------
    vertices : (V, 3) float, V = (nx+1)(ny+1)(nz+1), x index slowest (like ``Grid.node_points``)
    tets : (T, 4) long, T = 6 nx ny nz, every tet with positive volume
    """
    nx, ny, nz = _resolution3(resolution)
    dtype = dtype or torch.get_default_dtype()
    try:
        lo, hi = (torch.as_tensor(b, dtype=dtype, device=device) for b in bounds)
    except (TypeError, ValueError, RuntimeError):
        lo = hi = None
    if lo is None or lo.shape != (3,) or hi.shape != (3,):
        raise ValueError(f"tet_grid: bounds must be ((xmin, ymin, zmin), (xmax, ymax, zmax)), got {bounds!r}")
    if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
        raise ValueError(f"tet_grid: bounds must be finite, got {bounds!r}")
    if (hi <= lo).any():
        raise ValueError(f"tet_grid: bounds must have lo < hi on every axis, got {bounds!r}")
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
        det = (
            u[0] * (v[1] * w[2] - v[2] * w[1])
            - u[1] * (v[0] * w[2] - v[2] * w[0])
            + u[2] * (v[0] * w[1] - v[1] * w[0])
        )
        if det < 0:
            path[2], path[3] = path[3], path[2]
        local.append(path)
    sy, sx = nz + 1, (ny + 1) * (nz + 1)  # index strides of y and x
    corner_stride = torch.tensor(
        [ox * sx + oy * sy + oz for ox, oy, oz in corner_off], dtype=torch.long, device=device
    )  # (8,)
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


def deform_vertices(
    vertices: torch.Tensor, deformation: torch.Tensor, cell_size, max_fraction: float = 0.5
) -> torch.Tensor:
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


def interpolate_on_edges(field: torch.Tensor, edges: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Carry a vertex field to edge points: ``w_a f[a] + w_b f[b]``.

    field (V, ...) ; edges (K, 2) long ; weights (K, 2) -> (K, ...).
    Use ``weights.detach()`` for a stop-gradient on the interpolation coefficients.
    """
    fa, fb = field[edges[:, 0]], field[edges[:, 1]]
    shape = (-1,) + (1,) * (field.dim() - 1)
    return weights[:, 0].reshape(shape) * fa + weights[:, 1].reshape(shape) * fb


def _guard(denom: torch.Tensor) -> torch.Tensor:
    """Keep a denominator away from zero (magnitude >= machine eps), keeping its sign (0 -> +eps)."""
    eps = torch.finfo(denom.dtype).eps
    sign = torch.where(denom < 0, -torch.ones_like(denom), torch.ones_like(denom))
    return torch.where(denom.abs() < eps, sign * eps, denom)


def marching_tetrahedra(
    vertices: torch.Tensor, tets: torch.Tensor, sdf: torch.Tensor, level: float = 0.0
) -> Mesh:
    """Differentiable marching tetrahedra: the level set ``sdf = level`` as a welded triangle mesh.

    Parameters
    ----------
    vertices : (V, 3) float
        Grid vertex positions (possibly deformed; gradients flow to them).
    tets : (T, 4) long
        Tetrahedra, all positively oriented (``det[p1-p0, p2-p0, p3-p0] > 0``) in the reference
        grid, as ``tet_grid`` makes them (``orient_tets`` fixes an arbitrary tet mesh once). The
        orientation is combinatorial: a deformation that inverts a tet does not flip its
        triangles, so the output stays consistently oriented.
    sdf : (V,) float
        Field at the vertices; negative is inside. Gradients flow to it.
    level : float
        Iso-value.

    Returns
    -------
    Mesh
        Triangle mesh with K points (one per crossed grid edge) and F faces, normals pointing from
        negative to positive ``sdf - level``. Point fields:
        ``"edge"`` (K, 2) long, the grid edge (a, b) each point lies on (a < b), and
        ``"edge_weight"`` (K, 2), the weights (w_a, w_b), w_a + w_b = 1, with
        ``point = w_a * vertices[a] + w_b * vertices[b]``. The weights carry gradients (use
        ``.detach()`` for a stop-gradient).

    Notes
    -----
    Vertices with ``sdf == level`` exactly count as outside, so an edge from inside to such a vertex
    puts the surface point on it; the denominator ``s_b - s_a`` of a crossed edge is then nonzero,
    and it is additionally guarded to a magnitude of at least machine epsilon (no NaN or inf).
    Empty level sets return a mesh with 0 points and a (0, 3) face array.
    """
    if vertices.dim() != 2 or vertices.shape[1] != 3:
        raise ValueError(f"marching_tetrahedra: vertices must have shape (V, 3), got {tuple(vertices.shape)}")
    if tets.dim() != 2 or tets.shape[1] != 4 or tets.is_floating_point():
        raise ValueError(f"marching_tetrahedra: tets must be an integer tensor (T, 4), got {tuple(tets.shape)} {tets.dtype}")
    if sdf.shape != (vertices.shape[0],):
        raise ValueError(
            f"marching_tetrahedra: sdf must have shape ({vertices.shape[0]},) (one value per vertex), got {tuple(sdf.shape)}"
        )
    device, n_vert = vertices.device, vertices.shape[0]
    if tets.numel() and bool(((tets < 0) | (tets >= n_vert)).any()):  # negative ones would index from the end
        raise ValueError(f"marching_tetrahedra: tets must index the {n_vert} vertices (0 ... {n_vert - 1}), "
                         f"got indices in [{int(tets.min())}, {int(tets.max())}]")
    s = sdf - level  # (V,)

    # -- topology (no gradients): which tets and edges are crossed, welded edge ids, triangles --------
    with torch.no_grad():
        inside = s < 0  # (V,)
        occ = inside[tets]  # (T, 4)
        n_in = occ.sum(1)
        valid = (n_in > 0) & (n_in < 4)
        vt = tets[valid]  # (Tv, 4)
        occ_v = occ[valid]
        if vt.shape[0] == 0:
            return Mesh(
                vertices.new_zeros((0, 3)) + 0 * s.sum(),
                torch.zeros((0, 3), dtype=torch.long, device=device),
                "triangle",
                {
                    "edge": torch.zeros((0, 2), dtype=torch.long, device=device),
                    "edge_weight": vertices.new_zeros((0, 2)),
                },
            )
        local = torch.tensor(list(itertools.chain(*TET_EDGES)), device=device)
        e = vt[:, local].reshape(-1, 2)  # (6 Tv, 2)
        e = torch.sort(e, dim=1).values
        key = e[:, 0] * n_vert + e[:, 1]
        ukey, inv = torch.unique(key, return_inverse=True)  # welding: one id per grid edge
        ua, ub = ukey // n_vert, ukey % n_vert
        crossed = inside[ua] != inside[ub]
        new_id = torch.cumsum(crossed.long(), 0) - 1  # ids of crossed edges, in order
        edge_of_tet = torch.where(crossed, new_id, -1)[inv].reshape(-1, 6)  # (Tv, 6)
        edges = torch.stack([ua[crossed], ub[crossed]], dim=1)  # (K, 2)

        case = (occ_v.long() * torch.tensor([1, 2, 4, 8], device=device)).sum(1)  # (Tv,)
        table = torch.tensor(_TRI_TABLE, dtype=torch.long, device=device)  # (16, 2, 3)
        ntri = torch.tensor(_NUM_TRI, dtype=torch.long, device=device)[case]  # (Tv,)
        faces = []
        for t in (0, 1):
            has = ntri > t
            loc = table[case[has], t]  # (n, 3) local edge ids
            faces.append(torch.gather(edge_of_tet[has], 1, loc))  # (n, 3)
        faces = torch.cat(faces, 0)  # (F, 3)

    # -- geometry (differentiable) --------------------------------------------------------------
    sa, sb = s[edges[:, 0]], s[edges[:, 1]]  # (K,)
    denom = _guard(sb - sa)
    weights = torch.stack([sb / denom, -sa / denom], dim=1)  # (K, 2)
    points = interpolate_on_edges(vertices, edges, weights)  # (K, 3)
    return Mesh(points, faces, "triangle", {"edge": edges, "edge_weight": weights})
