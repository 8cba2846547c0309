"""Point location in simplex meshes and P1 (barycentric) interpolation between meshes.

Supported meshes: triangles in the plane (points (N, 2)), triangulated surfaces in space (points
(N, 3), where a query is located by orthogonal projection onto the surface) and tetrahedra
(points (N, 3)). A P1 field ``u`` (one value per mesh point) is evaluated at a query ``q`` inside
cell c = (v_0, ..., v_k) as ``u(q) = sum_j b_j u(v_j)`` with the barycentric coordinates b of q.

Finding the cell runs without gradients, in up to three stages, all vectorized over the queries:

1. (planar and tet meshes) a visibility walk: start in a cell at the query's nearest mesh vertex
   and step across the facet opposite the most negative barycentric weight until a cell contains
   the query; ends early at the boundary (the domain may be non-convex) or after 64 steps;
2. a multi-level bounding-box grid for the rest (filed in ``spatial.SpatialHash``, the hash the
   nearest-neighbour search uses too): a cell of extent e is filed in the bins of side
   s >= e / (w - 1) (s a power-of-two multiple of a small extent, w = 4 in 2-D, 3 in 3-D) that its
   box touches, so strongly graded meshes cost no more than uniform ones; a query tests the
   cells filed in its own bin at every level;
3. a query that no cell contains is *outside*: it takes, among the cells around its nearest mesh
   vertex and its bin candidates, the cell nearest to it, with the barycentric weights of that
   cell's nearest point (all >= 0: the query clamped onto the mesh), and is flagged, never
   silently.

The weights returned are then recomputed with gradients, so interpolated values are
differentiable in the field, the query points and the mesh points.
"""

from __future__ import annotations

import itertools
import math
import warnings

import torch

from .mesh import Mesh
from .spatial import SpatialHash, nearest_neighbors

__all__ = ["locate_points", "barycentric", "transfer_matrix", "interpolate"]

_CHUNK = 2**16  # queries per pass
_S0_QUANTILE = 0.25  # level-0 bin side: this quantile of the cell extents
_BINS_PER_CELL = {2: 4, 3: 3}  # per dimension: bins per axis a cell box may span (more: fewer candidates)


def _check(mesh, query) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh must be a geomsci Mesh, got {type(mesh).__name__}")
    if mesh.cell_type not in ("triangle", "tetra"):
        raise ValueError(f"mesh must have 'triangle' or 'tetra' cells, got cell_type {mesh.cell_type!r}")
    if mesh.cell_type == "tetra" and mesh.dim != 3:
        raise ValueError(f"a tetra mesh needs 3-D points, got points of shape {tuple(mesh.points.shape)}")
    if mesh.n_cells == 0:
        raise ValueError("mesh has no cells to locate points in")
    if not isinstance(query, torch.Tensor):
        query = torch.as_tensor(query, dtype=mesh.dtype, device=mesh.device)
    if query.dim() != 2 or query.shape[1] != mesh.dim:
        raise ValueError(f"query must have shape (P, {mesh.dim}) to match the mesh points, got {tuple(query.shape)}")
    if not query.is_floating_point():
        query = query.to(mesh.dtype)
    return mesh.points, mesh.cells, query.to(device=mesh.device, dtype=mesh.dtype)


def barycentric(simplex: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Barycentric coordinates of points in simplices, differentiable in both.

    Parameters
    ----------
    simplex : (T, k, D) vertices; k = 3 (triangle, D = 2 or 3) or k = 4 (tetrahedron, D = 3)
    q : (T, D) points

    Returns
    -------
    bary : (T, k), summing to 1. For a triangle in 3-D these are the coordinates of the orthogonal
        projection of q onto the triangle's plane, from the 2x2 normal equations
        ``[e1.e1 e1.e2; e1.e2 e2.e2] [b1 b2]^T = [d.e1 d.e2]^T``, ``e_i = v_i - v_0``, ``d = q - v_0``.
        For a tetrahedron, Cramer's rule with triple products, ``b1 = d.(e2 x e3) / e1.(e2 x e3)`` etc.
    dist : (T,) distance from q to the plane of a 3-D triangle (0 otherwise)
    """
    v0 = simplex[:, 0]
    e = simplex[:, 1:] - v0.unsqueeze(1)  # (T, k-1, D)
    d = q - v0  # (T, D)
    tiny = torch.finfo(q.dtype).tiny
    if simplex.shape[1] == 3 and q.shape[1] == 2:  # Cramer's rule on the 2x2 system [e1 e2] b = d
        e1, e2 = e[:, 0], e[:, 1]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
        b1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
        b2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
        return torch.stack([1 - b1 - b2, b1, b2], dim=1), torch.zeros_like(b1)
    if simplex.shape[1] == 3:
        e1, e2 = e[:, 0], e[:, 1]
        g11, g12, g22 = (e1 * e1).sum(-1), (e1 * e2).sum(-1), (e2 * e2).sum(-1)
        r1, r2 = (d * e1).sum(-1), (d * e2).sum(-1)
        det = g11 * g22 - g12 * g12
        det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
        b1 = (g22 * r1 - g12 * r2) / det
        b2 = (g11 * r2 - g12 * r1) / det
        resid = d - b1.unsqueeze(1) * e1 - b2.unsqueeze(1) * e2  # (T, 3) normal component
        return torch.stack([1 - b1 - b2, b1, b2], dim=1), torch.linalg.vector_norm(resid, dim=-1)
    e1, e2, e3 = e[:, 0], e[:, 1], e[:, 2]
    det = (e1 * torch.cross(e2, e3, dim=-1)).sum(-1)
    det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
    b1 = (d * torch.cross(e2, e3, dim=-1)).sum(-1) / det
    b2 = (e1 * torch.cross(d, e3, dim=-1)).sum(-1) / det
    b3 = (e1 * torch.cross(e2, d, dim=-1)).sum(-1) / det
    return torch.stack([1 - b1 - b2 - b3, b1, b2, b3], dim=1), torch.zeros_like(b1)


def _keep_nearer(best_w, best_d, w, d):
    """Per row, the weights (T, k) and squared distance (T,) of whichever candidate is nearer."""
    if best_d is None:
        return w, d
    take = d < best_d
    return torch.where(take.unsqueeze(1), w, best_w), torch.minimum(d, best_d)


def _closest_on_triangle(v: torch.Tensor, q: torch.Tensor, bary: torch.Tensor):
    """Barycentric weights (T, 3) >= 0 of the point of triangle v (T, 3, D) nearest q (T, D), given
    the plane barycentrics ``bary``: the plane projection when it falls inside the triangle, else
    the nearest point of one of the three edges, ``a + t (b - a)`` with ``t`` clamped to [0, 1]."""
    best_w = None
    best_d = None
    for a, b in ((0, 1), (1, 2), (2, 0)):
        e = v[:, b] - v[:, a]  # (T, D)
        t = (((q - v[:, a]) * e).sum(-1) / (e * e).sum(-1).clamp_min(torch.finfo(q.dtype).tiny)).clamp(0, 1)
        d = ((v[:, a] + t.unsqueeze(1) * e - q) ** 2).sum(-1)  # (T,)
        w = torch.zeros_like(bary)
        w = w.index_copy(1, torch.tensor([a, b], device=q.device), torch.stack([1 - t, t], 1))
        best_w, best_d = _keep_nearer(best_w, best_d, w, d)
    assert best_w is not None  # set by the loop's first pass
    return torch.where((bary >= 0).all(1, keepdim=True), bary, best_w)


def _closest_bary(v: torch.Tensor, q: torch.Tensor, bary: torch.Tensor) -> torch.Tensor:
    """Barycentric weights (T, k) >= 0 of the point of simplex v (T, k, D) nearest q. For a
    tetrahedron with q outside, the nearest point lies on one of its four faces."""
    if v.shape[1] == 3:
        return _closest_on_triangle(v, q, bary)
    best_w, best_d = None, None
    for face in ((1, 2, 3), (0, 3, 2), (0, 1, 3), (0, 2, 1)):
        idx = torch.tensor(face, device=q.device)
        fv = v[:, idx]  # (T, 3, 3)
        fb, _ = barycentric(fv, q)
        w3 = _closest_on_triangle(fv, q, fb)  # (T, 3)
        d = (((w3.unsqueeze(-1) * fv).sum(1) - q) ** 2).sum(-1)
        w = torch.zeros_like(bary).index_copy(1, idx, w3)
        best_w, best_d = _keep_nearer(best_w, best_d, w, d)
    assert best_w is not None  # set by the loop's first pass
    return torch.where((bary >= 0).all(1, keepdim=True), bary, best_w)


def _affine_maps(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell affine barycentric maps: ``bary_{1..k-1}(q) = lin @ (q - v0)``, ``bary_0 = 1 - sum``.

    v : (M, k, D) cell vertices. Returns v0 (M, D) and lin (M, k-1, D): the rows of E^-1 for a
    full-dimensional simplex (E = [v1 - v0, ...]), or G^-1 E^T (G = E E^T) for a triangle in 3-D.
    """
    d = v.shape[2]
    tiny = torch.finfo(v.dtype).tiny
    e = v[:, 1:] - v[:, :1]  # (M, k-1, D)
    if v.shape[1] == 4:  # rows of E^-1: cross products over the determinant
        e1, e2, e3 = e.unbind(1)
        det = (e1 * torch.cross(e2, e3, dim=-1)).sum(-1, keepdim=True)
        det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
        rows = [torch.cross(e2, e3, dim=-1), torch.cross(e3, e1, dim=-1), torch.cross(e1, e2, dim=-1)]
        lin = torch.stack([r / det for r in rows], 1)  # (M, 3, 3)
    elif d == 2:
        e1, e2 = e.unbind(1)
        det = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).unsqueeze(1)
        det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
        r1 = torch.stack([e2[:, 1], -e2[:, 0]], 1) / det
        r2 = torch.stack([-e1[:, 1], e1[:, 0]], 1) / det
        lin = torch.stack([r1, r2], 1)  # (M, 2, 2)
    else:  # triangle in 3-D: orthogonal projection onto its plane
        e1, e2 = e.unbind(1)
        g11, g12, g22 = ((e1 * e1).sum(-1, keepdim=True), (e1 * e2).sum(-1, keepdim=True), (e2 * e2).sum(-1, keepdim=True))
        det = g11 * g22 - g12 * g12
        det = torch.where(det.abs() > tiny, det, torch.full_like(det, tiny))
        lin = torch.stack([(g22 * e1 - g12 * e2) / det, (g11 * e2 - g12 * e1) / det], 1)  # (M, 2, 3)
    return v[:, 0], lin


def _cell_neighbors(cells: torch.Tensor, n: int) -> torch.Tensor:
    """(M, k) index of the cell across the facet opposite each corner, -1 on the boundary (and
    across facets shared by more than two cells)."""
    m, k = cells.shape
    idx = [[c for c in range(k) if c != j] for j in range(k)]  # facet opposite corner j
    facets = torch.sort(cells[:, idx], dim=-1).values.reshape(-1, k - 1)  # (M*k, k-1)
    if n ** (k - 1) < 2**62:
        key = facets[:, 0]
        for c in range(1, k - 1):
            key = key * n + facets[:, c]
    else:  # pragma: no cover - beyond ~2 million vertices in tets
        key = torch.unique(facets, dim=0, return_inverse=True)[1]
    sk, order = torch.sort(key, stable=True)
    nb = torch.full((m * k,), -1, dtype=torch.long, device=cells.device)
    pair = sk[1:] == sk[:-1]
    single = torch.ones_like(pair)  # exclude runs of 3+ (non-manifold facets)
    if pair.numel() > 1:
        single[1:] &= ~pair[:-1]
        single[:-1] &= ~pair[1:]
    a, b = order[:-1][pair & single], order[1:][pair & single]
    nb[a] = b // k
    nb[b] = a // k
    return nb.view(m, k)


def _walk(v0, lin, nb, q, start, tol, max_steps: int = 64):
    """Visibility walk: from ``start`` (P,), step across the facet opposite the most negative
    barycentric weight until a cell contains q. Returns (cell (P,), found (P,) bool); a walk that
    reaches the boundary or runs out of steps is not found (its query goes to the bins)."""
    cell = start.clone()
    found = torch.zeros_like(start, dtype=torch.bool)
    active = torch.arange(q.shape[0], device=q.device)
    for _ in range(max_steps):
        c = cell[active]
        b = torch.einsum("pjd,pd->pj", lin[c], q[active] - v0[c])  # (A, k-1)
        b = torch.cat([(1 - b.sum(1)).unsqueeze(1), b], 1)  # (A, k)
        worst = b.min(1)
        inside = worst.values >= -tol
        found[active[inside]] = True
        nxt = nb[c, worst.indices]
        go = ~inside & (nxt >= 0)
        cell[active[go]] = nxt[go]
        active = active[go]
        if active.numel() == 0:
            break
    return cell, found


class _CellBins:
    """Cells filed into multi-level grid bins by their bounding boxes (see the module docstring)."""

    def __init__(self, points: torch.Tensor, cells: torch.Tensor, surface: bool):
        d = points.shape[1]
        dev = points.device
        v = points[cells]  # (M, k, D)
        bmin, bmax = v.min(1).values, v.max(1).values  # (M, D)
        ext = (bmax - bmin).max(1).values  # (M,)
        if surface:  # a query a little off a curved surface must still land in the bin
            pad = 0.25 * ext.unsqueeze(1)
            bmin, bmax, ext = bmin - pad, bmax + pad, 1.5 * ext
        tiny = torch.finfo(points.dtype).tiny
        pad = 1e-9 * ext.unsqueeze(1) + tiny  # boxes a hair larger: a point on a face is in the box
        self.bmin, self.bmax = bmin - pad, bmax + pad  # (M, D) for a cheap pre-test
        self.v0, self.lin = _affine_maps(v)  # bary_{1..k-1}(q) = lin @ (q - v0)
        self.origin = bmin.min(0).values  # (D,)
        span = float((bmax.max(0).values - self.origin).max())
        bits = 56 // d
        pos = ext[ext > 0]
        small = float(torch.sort(pos).values[int(_S0_QUANTILE * (pos.numel() - 1))]) if pos.numel() else span
        self.s0 = max(small, span / 2 ** (bits - 1), 1e-300)  # smaller cells all share level 0
        self.r0 = int(span / self.s0) + 2  # bins per axis at level 0
        w = _BINS_PER_CELL[d]  # a cell spans at most w bins per axis: bin side >= extent / (w - 1)
        level = torch.ceil(torch.log2((ext / ((w - 1) * self.s0)).clamp_min(1.0))).long()  # (M,)
        for _ in range(3):  # rounding can leave a box across w + 1 bins: move it up a level
            size = self.s0 * torch.pow(2.0, level.to(points.dtype)).unsqueeze(1)  # (M, 1) bin side
            lo = ((bmin - self.origin) / size).floor().long()  # (M, D)
            hi = ((bmax - self.origin) / size).floor().long()
            wide = (hi - lo > w - 1).any(1)
            if not wide.any():
                break
            level = level + wide.long()
        self.levels = torch.unique(level).tolist()
        self.stride_level = self.r0**d
        self.strides = torch.tensor([self.r0 ** (d - 1 - a) for a in range(d)], device=dev)  # (D,)
        base = level * self.stride_level + (lo * self.strides).sum(-1)  # (M,) key of the lowest bin
        cell_id = torch.arange(cells.shape[0], device=dev)
        keys, ids = [], []
        for off in itertools.product(range(w), repeat=d):  # one (M,) pass per bin offset
            off_t = torch.tensor(off, device=dev)
            keep = (lo + off_t <= hi).all(1)  # (M,) the box reaches this bin
            keys.append(base[keep] + int((off_t * self.strides).sum()))
            ids.append(cell_id[keep])
        self.cell_of_entry = torch.cat(ids)  # (E,)
        self.hash = SpatialHash(torch.cat(keys))  # entries filed under their bin keys

    def candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(query index (T,), cell index (T,)) of every cell filed in a query's bins."""
        keys = []
        for lev in self.levels:
            size = self.s0 * 2.0**lev
            b = ((q - self.origin) / size).floor().long()  # (P, D)
            r = self.r0
            inside = ((b >= 0) & (b < r)).all(-1)
            k = lev * self.stride_level + (b.clamp(0, r - 1) * self.strides).sum(-1)
            keys.append(torch.where(inside, k, torch.full_like(k, -1)))
        qi, entry = self.hash.candidates(torch.stack(keys, 1))  # keys (P, L) -> pairs (T,)
        return qi, self.cell_of_entry[entry]


def _vertex_cells(cells: torch.Tensor, n: int):
    """CSR map vertex -> incident cells: (start (N,), count (N,), cell ids)."""
    flat = cells.reshape(-1)
    order = torch.argsort(flat, stable=True)
    count = torch.bincount(flat, minlength=n)
    start = torch.cumsum(count, 0) - count
    return start, count, order // cells.shape[1]


def _best(bins, points, cells, q, qi, ci, n_q, tol, surface):
    """Best candidate cell per query: among containing cells the one nearest the query's plane
    (then the lowest id); when none contains it, the cell whose nearest point is closest.
    Returns (cell (n_q,), score (n_q,), inside (n_q,)); cell is -1 without candidates."""
    sentinel = cells.shape[0]
    dev = q.device
    # cheap pre-test: only candidates whose (padded) box holds the query can contain it
    qq = q[qi]  # (T, D)
    inbox = ((qq >= bins.bmin[ci]) & (qq <= bins.bmax[ci])).all(1).nonzero().flatten()  # (S,)
    bq, bc = qq[inbox], ci[inbox]
    b = torch.einsum("sjd,sd->sj", bins.lin[bc], bq - bins.v0[bc])  # (S, k-1)
    bmin_all = torch.minimum(b.min(1).values, 1 - b.sum(1))
    inside_s = bmin_all >= -tol  # (S,)
    any_in = torch.zeros(n_q, dtype=torch.bool, device=dev).scatter_reduce(0, qi[inbox], inside_s, "amax")
    score = torch.full((ci.numel(),), math.inf, dtype=q.dtype, device=dev)
    if surface:  # among containing triangles, the one whose plane is nearest
        hit = inbox[inside_s]
        v = points[cells[ci[hit]]]  # (H, 3, 3)
        _, dist = barycentric(v, qq[hit])
        score[hit] = dist
    else:
        score[inbox[inside_s]] = 0.0
    rest = (~any_in[qi]).nonzero().flatten()  # pairs of queries no candidate contains
    if rest.numel():
        # prune: a cell whose box is farther than some candidate's first vertex cannot be nearest
        qr, cr = qq[rest], ci[rest]
        gap = torch.clamp_min(torch.maximum(bins.bmin[cr] - qr, qr - bins.bmax[cr]), 0)  # (R, D)
        lower = torch.linalg.vector_norm(gap, dim=-1)  # (R,)
        upper = torch.linalg.vector_norm(qr - bins.v0[cr], dim=-1)
        ub = torch.full((n_q,), math.inf, dtype=q.dtype, device=dev).scatter_reduce(0, qi[rest], upper, "amin")
        rest = rest[lower <= ub[qi[rest]]]
        v = points[cells[ci[rest]]]  # (R, k, D)
        bary, _ = barycentric(v, qq[rest])
        foot = _closest_bary(v, qq[rest], bary)  # (R, k)
        clamped = (foot.unsqueeze(-1) * v).sum(1)  # (R, D) nearest point of the cell
        score[rest] = torch.linalg.vector_norm(clamped - qq[rest], dim=-1)
    best = torch.full((n_q,), math.inf, dtype=q.dtype, device=dev).scatter_reduce(0, qi, score, "amin")
    cand = torch.where(score == best[qi], ci, sentinel)
    cell = torch.full((n_q,), sentinel, dtype=torch.long, device=dev).scatter_reduce(0, qi, cand, "amin")
    return torch.where(cell == sentinel, -1, cell), best, any_in


def _merge(current, rows, new) -> None:
    """Overwrite (cell, score, inside) of queries ``rows`` in place where the new candidate is
    better: containing beats not containing, then the lower score."""
    c_cell, c_score, c_in = current
    r_cell, r_score, r_in = new
    old_in = c_in[rows]
    better = ((r_in & ~old_in) | ((r_in == old_in) & (r_score < c_score[rows]))) & (r_cell >= 0)
    c_cell[rows] = torch.where(better, r_cell, c_cell[rows])
    c_score[rows] = torch.where(better, r_score, c_score[rows])
    c_in[rows] = old_in | r_in


def _beyond_boundary(cells, cell, bary) -> torch.Tensor:
    """For a 3-D surface: whether the foot point (nearest point of the cell, weights ``bary`` with
    exact zeros off its edge or vertex) of each non-contained query lies on a boundary edge or
    boundary vertex of the mesh, i.e. the query is beyond the surface's border."""
    from .geometry import boundary_edges

    be = boundary_edges(cells)  # (B, 2)
    n = int(cells.max()) + 1
    bkeys = torch.sort(torch.minimum(be[:, 0], be[:, 1]) * n + torch.maximum(be[:, 0], be[:, 1])).values
    bvert = torch.zeros(n, dtype=torch.bool, device=cells.device)
    bvert[be.reshape(-1)] = True
    tri = cells[cell]  # (m, 3)
    pos = bary > 0  # (m, 3) corners that carry weight
    one = pos.sum(1) == 1
    vert = tri[torch.arange(tri.shape[0], device=tri.device), pos.long().argmax(1)]  # the single corner
    # with two corners left, the foot point is on the edge opposite the dropped corner
    drop = (~pos).long().argmax(1)
    a = tri.gather(1, ((drop + 1) % 3).unsqueeze(1)).squeeze(1)
    b = tri.gather(1, ((drop + 2) % 3).unsqueeze(1)).squeeze(1)
    key = torch.minimum(a, b) * n + torch.maximum(a, b)
    if bkeys.numel():
        at = torch.searchsorted(bkeys, key).clamp_max(bkeys.numel() - 1)
        on_edge = bkeys[at] == key
    else:
        on_edge = torch.zeros_like(one)
    return torch.where(one, bvert[vert], on_edge)


def locate_points(mesh: Mesh, query: torch.Tensor, *, tol: float | None = None):
    """Find the cell of ``mesh`` that contains each query point, and its barycentric coordinates.

    Parameters
    ----------
    mesh : Mesh with 'triangle' cells (points (N, 2) or (N, 3)) or 'tetra' cells (points (N, 3))
    query : (P, D) points, D = mesh.dim
    tol : a point is inside a cell when all barycentric weights are >= -tol.
        Default ``1000 * eps`` of the dtype (~1e-4 in float32, ~2e-13 in float64).

    Returns
    -------
    cell : (P,) long, the containing cell (for an outside point: the nearest candidate cell)
    bary : (P, k) barycentric weights in that cell (k = 3 or 4), summing to 1; for an outside
        point those of the cell's point nearest to it (all >= 0); differentiable in the query and
        mesh points
    outside : (P,) bool, True where no cell contains the point. For a 3-D surface a query is
        located by its foot point on the surface (orthogonal projection onto a triangle, or the
        nearest point of an edge or vertex where it projects between faces, e.g. above a convex
        vertex); it is outside only when that foot point lies on the surface's boundary and the
        projection falls beyond it. Distance from the surface is not judged.
    """
    points, cells, query = _check(mesh, query)
    tol = 1000 * torch.finfo(points.dtype).eps if tol is None else float(tol)
    p = query.shape[0]
    k = cells.shape[1]
    cell = torch.zeros(p, dtype=torch.long, device=points.device)
    outside = torch.zeros(p, dtype=torch.bool, device=points.device)
    if p == 0:
        return cell, points.new_zeros((0, k)), outside
    surface = mesh.cell_type == "triangle" and mesh.dim == 3
    with torch.no_grad():
        pts = points.detach()
        vstart, vcount, vcell = _vertex_cells(cells, pts.shape[0])
        used = torch.unique(cells)  # vertices of at least one cell
        todo = torch.arange(p, device=points.device)
        if not surface:  # walk from a cell at the nearest vertex; most queries end here
            v0, lin = _affine_maps(pts[cells])
            nb = _cell_neighbors(cells, pts.shape[0])
            _, near = nearest_neighbors(query.detach(), pts[used])
            c_walk, found = _walk(v0, lin, nb, query.detach(), vcell[vstart[used[near]]], tol)
            cell[found] = c_walk[found]
            todo = (~found).nonzero().flatten()
        bins = _CellBins(pts, cells, surface) if todo.numel() else None
        for s in range(0, todo.numel(), _CHUNK):
            rows = todo[s : s + _CHUNK]
            q = query[rows].detach()  # (c, D)
            assert bins is not None  # built whenever todo is non-empty
            qi, ci = bins.candidates(q)
            c_cell, c_score, c_in = _best(bins, pts, cells, q, qi, ci, q.shape[0], tol, surface)
            miss = (~c_in).nonzero().flatten()  # queries no cell contains
            if miss.numel():
                _, near = nearest_neighbors(q[miss], pts[used])
                near = used[near]  # (m,) nearest mesh vertex that has cells
                cnt = vcount[near]
                total = int(cnt.sum())
                first = torch.cumsum(cnt, 0) - cnt
                e = torch.arange(total, device=q.device) + torch.repeat_interleave(vstart[near] - first, cnt, output_size=total)
                mi = torch.repeat_interleave(torch.arange(miss.numel(), device=q.device), cnt, output_size=total)
                _merge((c_cell, c_score, c_in), miss, _best(bins, pts, cells, q[miss], mi, vcell[e], miss.numel(), tol, surface))
                miss = (~c_in).nonzero().flatten()
            if surface and miss.numel():
                # a query far off a surface can miss the bins of the triangle below it: search
                # again from its foot point on the best triangle found so far
                v = pts[cells[c_cell[miss]]]  # (m, 3, 3)
                fb, _ = barycentric(v, q[miss])
                foot = (_closest_bary(v, q[miss], fb).unsqueeze(-1) * v).sum(1)  # (m, 3)
                fi, fc = bins.candidates(foot)
                _merge((c_cell, c_score, c_in), miss, _best(bins, pts, cells, q[miss], fi, fc, miss.numel(), tol, surface))
            cell[rows] = c_cell
            outside[rows] = ~c_in
    v = points[cells[cell]]  # (P, k, D)
    bary, _ = barycentric(v, query)  # (P, k), with gradients
    off = bary.detach().min(1).values < -tol  # (P,) query beyond its cell: use the nearest point
    if off.any():
        idx = off.nonzero().flatten()
        bary = bary.index_put((idx,), _closest_bary(v[idx], query[idx], bary[idx]))
    if surface and outside.any():  # off the triangles' planes but within the surface: not outside
        with torch.no_grad():
            idx = outside.nonzero().flatten()
            outside[idx] = _beyond_boundary(cells, cell[idx], bary[idx].detach())
    return cell, bary, outside


def _warn_outside(outside: torch.Tensor, who: str) -> None:
    n = int(outside.sum())
    if n:
        warnings.warn(
            f"{who}: {n} of {outside.numel()} query points lie outside the mesh; they take the values "
            "at the nearest point of the nearest cell",
            stacklevel=3,
        )


def transfer_matrix(mesh: Mesh, query: torch.Tensor, *, tol: float | None = None):
    """Sparse P1 interpolation matrix ``T`` (P, N) with ``T @ u = u(query)`` for any point field u.

    Row i holds the barycentric weights of query i at the vertices of its cell (so rows sum to 1).
    Warns when points fall outside the mesh (see ``locate_points``).

    Returns
    -------
    T : torch sparse COO (P, N), coalesced, dtype/device of the mesh points
    outside : (P,) bool
    """
    cell, bary, outside = locate_points(mesh, query, tol=tol)
    _warn_outside(outside, "transfer_matrix")
    p, k = bary.shape
    rows = torch.arange(p, device=bary.device).repeat_interleave(k)  # (P*k,)
    cols = mesh.cells[cell].reshape(-1)
    t = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), bary.reshape(-1), (p, mesh.n_points), check_invariants=False
    ).coalesce()
    return t, outside


def interpolate(mesh: Mesh, field, query: torch.Tensor, *, tol: float | None = None):
    """Evaluate a P1 point field of ``mesh`` at query points: ``u(q) = sum_j b_j u(v_j)``.

    Parameters
    ----------
    mesh : triangle or tetra Mesh (see ``locate_points``)
    field : (N, ...) values at the mesh points (tensor or array)
    query : (P, D) points

    Returns
    -------
    values : (P, ...) tensor, differentiable in ``field``, the query and the mesh points
    outside : (P,) bool; outside points take the value at the nearest point of the mesh (of the
        candidate cells, see ``locate_points``), and a warning says
        how many there were
    """
    field = field if isinstance(field, torch.Tensor) else torch.as_tensor(field)
    field = field.to(mesh.device)
    if field.dim() == 0 or field.shape[0] != mesh.n_points:
        raise ValueError(f"field must have shape (N, ...) with N = {mesh.n_points} mesh points, got {tuple(field.shape)}")
    cell, bary, outside = locate_points(mesh, query, tol=tol)
    _warn_outside(outside, "interpolate")
    if not field.is_floating_point():
        field = field.to(bary.dtype)
    vals = field[mesh.cells[cell]]  # (P, k, ...)
    w = bary.to(field.dtype).reshape(bary.shape + (1,) * (field.dim() - 1))  # (P, k, 1, ...)
    return (w * vals).sum(1), outside
