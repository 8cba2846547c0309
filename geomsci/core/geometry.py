"""Differential geometry and topology of triangle meshes, as plain functions over tensors.

Geometry (normals, areas, volume, Laplacians, curvature) is autograd-aware and keeps the dtype and
device of ``points``. Topology (edges, boundaries, Euler characteristic, manifold checks) depends only
on ``faces`` and is computed under ``torch.no_grad()``.

Conventions
-----------
``points`` is a float tensor (N, 3) (several ops also accept planar meshes, (N, 2));
``faces`` a long tensor (F, 3) of vertex indices, counter-clockwise seen from the outside::

        v2
        / \\        normal = (v1 - v0) x (v2 - v0) points towards the viewer
       /   \\       area   = |normal| / 2
     v0 --- v1

The cotangent Laplacian ``L`` returned here is the symmetric *weight* matrix
``L_ij = (cot a_ij + cot b_ij) / 2`` for an edge (i, j), ``L_ii = -sum_j L_ij`` (rows sum to zero,
negative semi-definite, the same convention as ``igl.cotmatrix``). The discrete Laplace-Beltrami
operator is ``M^-1 L`` with ``M`` the lumped mass matrix, so that on a smooth surface
``M^-1 L x ~ Delta x = -2 H n``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.weak import WeakIdKeyDictionary

__all__ = [
    "face_normals",
    "face_areas",
    "vertex_normals",
    "vertex_areas",
    "voronoi_areas",
    "signed_volume",
    "surface_area",
    "corner_angles",
    "cotangent_weights",
    "cotangent_laplacian",
    "uniform_laplacian",
    "mass_matrix",
    "mean_curvature_normal",
    "mean_curvature",
    "gaussian_curvature",
    "edges",
    "boundary_edges",
    "boundary_vertices",
    "boundary_loops",
    "euler_characteristic",
    "genus",
    "is_watertight",
    "is_manifold",
    "is_oriented",
    "connected_components",
]


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def _check_faces(faces, name: str = "faces", k: int = 3, nonnegative: bool = True) -> torch.Tensor:
    if not isinstance(faces, torch.Tensor):
        faces = torch.as_tensor(np.asarray(faces))
    if faces.dim() != 2 or faces.shape[1] != k:
        raise ValueError(f"{name} must have shape (F, {k}), got {tuple(faces.shape)}")
    if faces.is_floating_point() or faces.is_complex() or faces.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor of vertex indices, got dtype {faces.dtype}")
    if nonnegative and faces.numel() and int(faces.min()) < 0:
        raise ValueError(f"{name} must hold vertex indices >= 0, got {int(faces.min())}")
    return faces.long()


def _check(points, faces, dims=(3,)) -> tuple[torch.Tensor, torch.Tensor]:
    """Points as a float tensor (numpy arrays and nested lists are converted, keeping their precision)
    of shape (N, d) with d in ``dims``, and faces as a long tensor on the same device."""
    if not isinstance(points, torch.Tensor):
        try:
            points = torch.as_tensor(np.asarray(points))
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"points must be a float tensor or array (N, 3), got {type(points).__name__}") from None
    if not points.is_floating_point():
        raise ValueError(f"points must be a float tensor, got dtype {points.dtype}; convert with .double() or .float()")
    if points.dim() != 2 or points.shape[1] not in dims:
        want = " or ".join(f"(N, {d})" for d in dims)
        hint = ""
        if dims == (3,) and points.dim() == 2 and points.shape[1] == 2:
            hint = (
                "; this quantity is defined for surfaces in 3-D, not planar meshes (append a zero z coordinate "
                "to treat the mesh as a flat surface in 3-D)"
            )
        raise ValueError(f"points must have shape {want}, got {tuple(points.shape)}{hint}")
    faces = _check_faces(faces, nonnegative=False).to(points.device)  # range checked below, in one pass
    if faces.numel():
        lo, hi = (int(v) for v in torch.aminmax(faces))
        if hi >= points.shape[0] or lo < 0:
            raise ValueError(f"faces index out of range: indices span [{lo}, {hi}] for {points.shape[0]} points")
    return points, faces


def _double_areas(v0, v1, v2) -> torch.Tensor:
    """|(v1 - v0) x (v2 - v0)| for triangles in 2-D or 3-D, shape (F,)."""
    e1, e2 = v1 - v0, v2 - v0  # (F, D)
    if v0.shape[-1] == 2:
        return (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs()
    return torch.linalg.vector_norm(torch.cross(e1, e2, dim=-1), dim=-1)


# ------------------------------------------------------------------------------------------------
# normals, areas, volume
# ------------------------------------------------------------------------------------------------
def face_normals(points: torch.Tensor, faces: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Face normals ``n_f = (v1 - v0) x (v2 - v0)``.

    Parameters
    ----------
    points : (N, 3) float tensor
    faces : (F, 3) long tensor
    normalize : bool
        True gives unit normals; zero for a degenerate face (zero area, or an area at rounding level for
        its edge lengths: collinear or coincident corners). False gives the raw cross product,
        whose length is twice the face area.

    Returns
    -------
    (F, 3) tensor, same dtype/device as ``points``.
    """
    points, faces = _check(points, faces)
    v0, v1, v2 = points[faces].unbind(1)  # 3 x (F, 3)
    e1, e2 = v1 - v0, v2 - v0
    n = torch.cross(e1, e2, dim=-1)  # (F, 3)
    if normalize:
        length = torch.linalg.vector_norm(n, dim=-1, keepdim=True)  # (F, 1)
        # a face whose area is at rounding level for its edge lengths (collinear or coincident corners)
        # has no direction: zero normal, not a unit vector made of rounding errors
        scale = (e1 * e1).sum(-1, keepdim=True) + (e2 * e2).sum(-1, keepdim=True)
        flat = length <= 4 * torch.finfo(n.dtype).eps * scale
        n = torch.where(flat, torch.zeros_like(n), n / length.clamp_min(torch.finfo(n.dtype).tiny))
    return n


def face_areas(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Triangle areas ``|(v1 - v0) x (v2 - v0)| / 2``, shape (F,). Accepts 2-D or 3-D points."""
    points, faces = _check(points, faces, dims=(2, 3))
    v0, v1, v2 = points[faces].unbind(1)
    return 0.5 * _double_areas(v0, v1, v2)


def vertex_normals(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals, shape (N, 3).

    ``n_i = normalize(sum_{f ni i} (v1 - v0) x (v2 - v0))``: the raw cross product already carries the
    face-area weight. Vertices used by no face get a zero normal.
    """
    points, faces = _check(points, faces)
    fn = face_normals(points, faces, normalize=False)  # (F, 3), |fn| = 2 area
    vn = torch.zeros_like(points)
    vn = vn.index_add(0, faces.reshape(-1), fn.repeat_interleave(3, dim=0))  # (N, 3)
    return vn / torch.linalg.vector_norm(vn, dim=-1, keepdim=True).clamp_min(torch.finfo(vn.dtype).tiny)


def vertex_areas(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Barycentric vertex areas: one third of the area of every adjacent face, shape (N,).

    They sum to the surface area. Accepts 2-D (planar) or 3-D points.
    """
    points, faces = _check(points, faces, dims=(2, 3))
    a = face_areas(points, faces) / 3.0  # (F,)
    out = torch.zeros(points.shape[0], dtype=points.dtype, device=points.device)
    return out.index_add(0, faces.reshape(-1), a.repeat_interleave(3))


def voronoi_areas(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mixed Voronoi vertex areas (Meyer et al. 2003), shape (N,); they sum to the surface area.

    In a non-obtuse triangle vertex i gets its Voronoi cell,
    ``(|e_ij|^2 cot theta_k + |e_ik|^2 cot theta_j) / 8``; in an obtuse triangle the obtuse vertex
    gets half the area and the other two a quarter each. The curvature estimators divide by these
    areas, which is what makes them accurate on irregular meshes (barycentric areas over-weight
    vertices of low valence by several percent).
    """
    points, faces = _check(points, faces, dims=(2, 3))
    v = points[faces]  # (F, 3, D)
    cot = 2.0 * cotangent_weights(points, faces)  # (F, 3) cot of the angle at corner j
    sq = ((v.roll(-1, dims=1) - v.roll(-2, dims=1)) ** 2).sum(-1)  # (F, 3) |edge opposite j|^2
    # corner j touches the edges opposite j+1 and j+2, weighted by cot of those corners
    vor = (sq.roll(-1, dims=1) * cot.roll(-1, dims=1) + sq.roll(-2, dims=1) * cot.roll(-2, dims=1)) / 8.0
    area = face_areas(points, faces).unsqueeze(1)  # (F, 1)
    dot = ((v.roll(-1, dims=1) - v) * (v.roll(1, dims=1) - v)).sum(-1)  # (F, 3) < 0 at an obtuse corner
    obtuse = dot < 0  # (F, 3)
    any_obtuse = obtuse.any(dim=1, keepdim=True)  # (F, 1)
    a = torch.where(any_obtuse, torch.where(obtuse, area / 2, area / 4), vor)  # (F, 3)
    out = torch.zeros(points.shape[0], dtype=points.dtype, device=points.device)
    return out.index_add(0, faces.reshape(-1), a.reshape(-1))


def signed_areas_2d(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Signed areas of 2-D triangles, (F,): positive for counter-clockwise vertex order, zero for
    degenerate ones. Their signs tell whether a planar map flipped any triangle."""
    points, faces = _check(points, faces, dims=(2,))
    p0, p1, p2 = points[faces].unbind(1)  # (F, 2) each
    d1, d2 = p1 - p0, p2 - p0
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def signed_volume(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Enclosed volume ``sum_f v0 . (v1 x v2) / 6`` (divergence theorem), a 0-d tensor.

    Positive for a closed mesh whose faces are oriented outwards; meaningful only when watertight.
    """
    points, faces = _check(points, faces)
    v0, v1, v2 = points[faces].unbind(1)
    return (v0 * torch.cross(v1, v2, dim=-1)).sum() / 6.0


def surface_area(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Total area of a surface in 3-D, a 0-d tensor. Planar (N, 2) meshes are refused (their area is
    ``face_areas(points, faces).sum()``), so a 2-D mesh passed by mistake is not taken for a surface."""
    points, faces = _check(points, faces)
    return face_areas(points, faces).sum()


# ------------------------------------------------------------------------------------------------
# angles, Laplacians, curvature
# ------------------------------------------------------------------------------------------------
def corner_angles(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Interior angle (radians) at each corner, shape (F, 3); column j is the angle at ``faces[:, j]``.

    ``theta = atan2(|e1 x e2|, e1 . e2)``, stable for small and obtuse angles. 2-D or 3-D points.
    """
    points, faces = _check(points, faces, dims=(2, 3))
    v = points[faces]  # (F, 3, D)
    a = v.roll(-1, dims=1) - v  # (F, 3, D) edge to the next corner
    b = v.roll(1, dims=1) - v  # (F, 3, D) edge to the previous corner
    dot = (a * b).sum(-1)  # (F, 3)
    v0, v1, v2 = v.unbind(1)
    cross = _double_areas(v0, v1, v2).unsqueeze(1).expand_as(dot)  # |a x b| = 2 area at every corner
    return torch.atan2(cross, dot)


def cotangent_weights(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Half cotangents of the corner angles, shape (F, 3).

    Column j holds ``cot(theta_j) / 2`` and is the weight of the edge *opposite* corner j, i.e. the
    edge ``(faces[:, j+1], faces[:, j+2])``. ``cot = (a . b) / |a x b| = (a . b) / (2 area)``.
    Degenerate faces (zero area) get zero weight.
    """
    points, faces = _check(points, faces, dims=(2, 3))
    return _cotangent_weights(points, faces)


def _cotangent_weights(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`cotangent_weights` on checked tensors."""
    # coordinate-major layout: every op below runs on contiguous (F,) rows
    pt = points.T.contiguous()  # (D, N)
    ft = faces.T.contiguous()  # (3, F)
    v0, v1, v2 = (pt.index_select(1, ft[k]) for k in range(3))  # (D, F) each
    a, b, c = v1 - v0, v2 - v1, v0 - v2  # edges opposite corners 2, 0, 1
    tiny = torch.finfo(points.dtype).tiny
    if pt.shape[0] == 3:
        cx = a[1] * c[2] - a[2] * c[1]
        cy = a[2] * c[0] - a[0] * c[2]
        cz = a[0] * c[1] - a[1] * c[0]
        sq = cx * cx + cy * cy + cz * cz  # (F,) |a x c|^2
        # sqrt only where it is safe: at 0 its gradient is inf, and inf * 0 from the masking below is NaN
        dbl = torch.sqrt(torch.where(sq > tiny, sq, torch.ones_like(sq)))  # (F,) |a x c| = 2 area
        dbl = torch.where(sq > tiny, dbl, torch.zeros_like(dbl))
    else:
        dbl = (a[0] * c[1] - a[1] * c[0]).abs()

    def dot(u, v):  # (F,)
        out = u[0] * v[0]
        for k in range(1, u.shape[0]):
            out = out.addcmul(u[k], v[k])
        return out

    ok = dbl > tiny
    scale = torch.where(ok, -0.5 / dbl.clamp_min(tiny), torch.zeros_like(dbl))  # (F,)
    # angle at v0 is between a and -c, at v1 between b and -a, at v2 between c and -b
    return torch.stack([dot(a, c) * scale, dot(a, b) * scale, dot(b, c) * scale], 1)


def _opposite_edges(faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # edge opposite corner j is (faces[:, j+1], faces[:, j+2])
    return faces.roll(-1, dims=1), faces.roll(-2, dims=1)  # (F, 3), (F, 3)


def cotangent_laplacian(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Cotangent Laplacian weight matrix as a coalesced sparse COO tensor (N, N).

    ``L_ij = (cot a_ij + cot b_ij) / 2`` for an edge (i, j) with opposite angles a_ij, b_ij (one
    angle on a boundary edge); ``L_ii = -sum_{j != i} L_ij``, so rows sum to zero and ``L`` is
    symmetric negative semi-definite (``igl.cotmatrix``'s convention). The Laplace-Beltrami
    operator is ``M^-1 L`` with ``M = mass_matrix(points, faces)``. Differentiable in ``points``
    through the sparse values. Works for planar (N, 2) meshes too (the P1 stiffness matrix is -L).

    The sparsity layout (which depends on ``faces`` only) is kept with the ``faces`` tensor and reused
    while it is alive and unmodified, so a loop that moves the points pays for it once.
    """
    points, faces = _check(points, faces, dims=(2, 3))
    n = points.shape[0]
    w = _cotangent_weights(points, faces).reshape(-1)  # (3F,)

    (index, src, inv, valid, lo, hi), all_valid = _laplacian_layout(faces, n)
    w_e = torch.zeros(lo.numel(), dtype=w.dtype, device=w.device).index_add(0, inv, w if all_valid else w[valid])  # (E,)
    diag = torch.zeros(n, dtype=w.dtype, device=w.device).index_add(0, lo, -w_e).index_add(0, hi, -w_e)
    vals = torch.cat([w_e, diag])[src]  # (2E + N,) in coalesced order
    return torch.sparse_coo_tensor(index, vals, (n, n), is_coalesced=True, check_invariants=False)


# The sparsity layout depends on the faces only, and an optimisation loop passes the same faces tensor every
# step: it is kept for as long as that tensor lives, and rebuilt when the tensor is modified in place
# (torch bumps its version counter) or the vertex count changes.
_LAYOUTS = WeakIdKeyDictionary()  # keyed by identity: a tensor's == is element-wise


def _laplacian_layout(faces: torch.Tensor, n: int):
    """``(_symmetric_layout(faces, n), every corner valid)``, the layout from numpy on the CPU, cached per faces
    tensor (see ``_LAYOUTS``). The flag lets the caller skip masking the weights (the common case)."""
    key = (faces._version, n)
    hit = _LAYOUTS.get(faces)
    if hit is not None and hit[0] == key:
        return hit[1]
    layout = _symmetric_layout_numpy(faces, n) if faces.device.type == "cpu" and faces.numel() and n > 0 else None
    layout = layout if layout is not None else _symmetric_layout(faces, n)
    entry = (layout, bool(layout[3].all()))  # one host sync, at build time only
    _LAYOUTS[faces] = (key, entry)
    return entry


@torch.no_grad()
def _symmetric_layout_numpy(faces: torch.Tensor, n: int):
    """The layout of ``_symmetric_layout`` from numpy's sort on packed (key, position) integers:
    on the CPU torch's sort of int64 is ~8x slower than numpy's (AVX-512) and the two sorts are
    most of the assembly. Same layout; None when the packed keys would not fit 63 bits."""
    f = faces.numpy()
    i, j = np.empty_like(f), np.empty_like(f)  # (F, 3): corner k's opposite edge is (f[:, k+1], f[:, k+2])
    i[:, 0], i[:, 1], i[:, 2] = f[:, 1], f[:, 2], f[:, 0]  # column copies: ~2x faster than fancy indexing
    j[:, 0], j[:, 1], j[:, 2] = f[:, 2], f[:, 0], f[:, 1]
    i, j = i.reshape(-1), j.reshape(-1)  # (3F,)
    valid = i != j
    if not valid.all():
        i, j = i[valid], j[valid]
    m, b = i.size, max(int(n - 1).bit_length(), 1)  # a vertex id takes b bits: keys are bit-packed pairs
    mask, shift = (1 << b) - 1, max(m, 2 * m + n).bit_length()  # room for the positions of both sorts
    if 2 * b + shift > 62:
        return None
    # (M,) undirected edge key (min << b | max), packed with the position; built in place (fewer large allocations)
    packed = np.minimum(i, j)
    np.maximum(i, j, out=i)
    packed <<= b
    packed |= i
    packed <<= shift
    packed |= np.arange(m)
    packed.sort()
    order = packed & ((1 << shift) - 1)
    packed >>= shift
    skey = packed
    first = np.empty(m, dtype=bool)
    first[:1] = True
    np.not_equal(skey[1:], skey[:-1], out=first[1:])
    inv = np.empty(m, dtype=np.int64)
    inv[order] = np.cumsum(first) - 1  # (M,) edge of each valid corner
    ukeys = skey[first]
    lo, hi = ukeys >> b, ukeys & mask  # (E,) sorted by (lo, hi)
    e, diag_ids = ukeys.size, np.arange(n)
    # coalesced (row, col) order of the upper, lower and diagonal entries
    key2 = np.concatenate([ukeys, (hi << b) | lo, (diag_ids << b) | diag_ids])  # (2E + N,)
    key2 <<= shift
    key2 |= np.arange(key2.size)
    key2.sort()
    src = np.concatenate([np.arange(e), np.arange(e), e + diag_ids])[key2 & ((1 << shift) - 1)]
    key2 >>= shift
    index = np.empty((2, key2.size), dtype=key2.dtype)
    np.right_shift(key2, b, out=index[0])
    np.bitwise_and(key2, mask, out=index[1])
    return [torch.from_numpy(a) for a in (index, src, inv, valid, lo, hi)]


@torch.no_grad()
def _symmetric_layout(faces: torch.Tensor, n: int):
    """Coalesced (row-major) layout of a symmetric matrix with one entry per mesh edge and a full
    diagonal, built with a single sort of the 3F undirected edge keys.

    Row r holds, in column order: its lower entries (r, c < r), the diagonal, its upper entries.
    Returns index (2, 2E + N), src (2E + N,) into ``cat([edge values, diagonal])``, valid (3F,)
    marking the corners whose opposite edge joins two distinct vertices (a degenerate face that
    repeats a vertex has none), inv mapping each valid corner's opposite edge to its edge, and
    the edges' endpoints lo < hi (E,).
    """
    dev = faces.device
    i, j = _opposite_edges(faces)
    i, j = i.reshape(-1), j.reshape(-1)  # (3F,)
    valid = i != j
    i, j = i[valid], j[valid]
    ukeys, inv = torch.unique(torch.minimum(i, j) * n + torch.maximum(i, j), sorted=True, return_inverse=True)
    lo, hi = ukeys // n, ukeys % n  # (E,) sorted by (lo, hi): the upper entries in row order
    e = ukeys.numel()
    perm = torch.argsort(hi * n + lo)  # the lower entries (hi, lo) in row order
    cu = torch.bincount(lo, minlength=n)  # upper entries per row
    cl = torch.bincount(hi, minlength=n)  # lower entries per row
    width = cl + cu + 1
    rowptr = torch.cumsum(width, 0) - width  # (N,) first slot of each row
    ar = torch.arange(e, device=dev)
    pos_low = rowptr[hi[perm]] + ar - (torch.cumsum(cl, 0) - cl)[hi[perm]]  # (E,)
    pos_up = rowptr[lo] + cl[lo] + 1 + ar - (torch.cumsum(cu, 0) - cu)[lo]  # (E,)
    pos_diag = rowptr + cl  # (N,)
    nnz = 2 * e + n
    diag_ids = torch.arange(n, device=dev)
    # src: for every slot, the entry of cat([edges, diagonal]) it holds; cols follow from it
    src = torch.empty(nnz, dtype=torch.long, device=dev)
    src[pos_low] = perm
    src[pos_up] = ar
    src[pos_diag] = e + diag_ids
    rows = torch.repeat_interleave(diag_ids, width, output_size=nnz)
    low_slot = torch.zeros(nnz, dtype=torch.bool, device=dev)
    low_slot[pos_low] = True
    other = torch.cat([hi, diag_ids])[src]  # upper entries' and diagonal's column
    cols = torch.where(low_slot, lo[src.clamp_max(e - 1)] if e else other, other)
    return torch.stack([rows, cols]), src, inv, valid, lo, hi


def uniform_laplacian(faces: torch.Tensor, n_points: int | None = None, *, dtype=None) -> torch.Tensor:
    """Uniform ("umbrella") graph Laplacian as a coalesced sparse COO tensor (N, N).

    ``L_ij = 1 / deg(i)`` for each neighbour j of i, ``L_ii = -1`` (0 for isolated vertices), so
    ``(L x)_i = mean of the neighbours - x_i`` and rows sum to zero. Not symmetric in general.
    ``dtype`` defaults to ``torch.get_default_dtype()``; the device follows ``faces``.
    """
    faces = _check_faces(faces)
    n = _n_points(faces, n_points)
    dtype = dtype or torch.get_default_dtype()
    with torch.no_grad():
        e = edges(faces)  # (E, 2)
        r = torch.cat([e[:, 0], e[:, 1]])
        c = torch.cat([e[:, 1], e[:, 0]])
        deg = torch.bincount(r, minlength=n).to(dtype)  # (N,)
        vals = 1.0 / deg[r]
        diag = torch.arange(n, device=faces.device)
        dvals = torch.where(deg > 0, -torch.ones_like(deg), torch.zeros_like(deg))
        idx = torch.stack([torch.cat([r, diag]), torch.cat([c, diag])])
        return torch.sparse_coo_tensor(idx, torch.cat([vals, dvals]), (n, n), check_invariants=False).coalesce()


def mass_matrix(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Lumped (barycentric) mass matrix, a diagonal sparse COO tensor (N, N) with ``M_ii = vertex_areas``.

    Works for 3-D surfaces and planar (N, 2) triangle meshes.
    """
    a = vertex_areas(points, faces)  # (N,)
    idx = torch.arange(a.shape[0], device=a.device)
    return torch.sparse_coo_tensor(torch.stack([idx, idx]), a, (a.shape[0],) * 2, check_invariants=False).coalesce()


def _laplacian_apply(points: torch.Tensor, faces: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``L @ x`` for the cotangent L without building the sparse matrix (fast, plainly differentiable)."""
    w = cotangent_weights(points, faces)  # (F, 3)
    i, j = _opposite_edges(faces)  # (F, 3) each
    diff = w.unsqueeze(-1) * (x[j] - x[i])  # (F, 3, C): flow along each edge
    out = torch.zeros_like(x)
    out = out.index_add(0, i.reshape(-1), diff.reshape(-1, x.shape[-1]))
    return out.index_add(0, j.reshape(-1), -diff.reshape(-1, x.shape[-1]))


def mean_curvature_normal(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mean-curvature normal ``H n = -(A^-1 L x) / 2``, shape (N, 3).

    ``L`` is the cotangent Laplacian and ``A`` the mixed Voronoi areas (``voronoi_areas``).

    On a smooth closed surface with outward normals, ``Delta x = -2 H n``; for a sphere of radius r
    this is ``n / r``. Meaningless at boundary vertices (the Laplacian there misses one side).
    Vertices in no face get zero.
    """
    points, faces = _check(points, faces)
    lx = _laplacian_apply(points, faces, points)  # (N, 3)
    area = voronoi_areas(points, faces)  # (N,)
    tiny = torch.finfo(points.dtype).tiny
    return torch.where(area.unsqueeze(1) > tiny, -0.5 * lx / area.clamp_min(tiny).unsqueeze(1), torch.zeros_like(lx))


def mean_curvature(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Signed mean curvature ``H = (H n) . n_vertex``, shape (N,); ``1/r`` on a sphere of radius r
    with outward faces (the average of the principal curvatures, not their sum)."""
    hn = mean_curvature_normal(points, faces)
    return (hn * vertex_normals(points, faces)).sum(-1)


def gaussian_curvature(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Angle-defect Gaussian curvature ``K_i = (2 pi - sum theta) / A_i``, shape (N,).

    ``theta`` are the corner angles at vertex i and ``A_i`` its mixed Voronoi area. At boundary
    vertices the defect is ``pi - sum theta`` (geodesic curvature of the boundary). On a closed
    surface ``sum_i K_i A_i = 2 pi chi`` exactly (discrete Gauss-Bonnet). Vertices in no face get 0.
    Surfaces in 3-D only: (N, 2) points are refused.
    """
    points, faces = _check(points, faces)
    n = points.shape[0]
    ang = corner_angles(points, faces).reshape(-1)  # (3F,)
    total = torch.zeros(n, dtype=points.dtype, device=points.device).index_add(0, faces.reshape(-1), ang)
    with torch.no_grad():
        full = torch.full((n,), 2 * math.pi, dtype=points.dtype, device=points.device)
        full[boundary_vertices(faces, n)] = math.pi
    area = voronoi_areas(points, faces)
    tiny = torch.finfo(points.dtype).tiny
    return torch.where(area > tiny, (full - total) / area.clamp_min(tiny), torch.zeros_like(area))


# ------------------------------------------------------------------------------------------------
# topology (no gradients)
# ------------------------------------------------------------------------------------------------
def _n_points(faces: torch.Tensor, n_points: int | None) -> int:
    if n_points is None:
        return int(faces.max()) + 1 if faces.numel() else 0
    n_points = int(n_points)
    if faces.numel() and int(faces.max()) >= n_points:
        raise ValueError(f"n_points={n_points} is too small: faces reference vertex {int(faces.max())}")
    return n_points


def _half_edges(faces: torch.Tensor) -> torch.Tensor:
    """Directed edges ``(faces[f, j], faces[f, j+1])`` in order h = 3 f + j, shape (3F, 2)."""
    return torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)


def _edge_keys(he: torch.Tensor, n: int) -> torch.Tensor:
    """Undirected edge key ``min * n + max``, shape (H,)."""
    lo, hi = he.min(dim=1).values, he.max(dim=1).values
    return lo * n + hi


@torch.no_grad()
def edges(faces: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges, each as (i, j) with i < j, sorted lexicographically; shape (E, 2).
    A degenerate face that repeats a vertex contributes no (i, i) loop."""
    faces = _check_faces(faces)
    if faces.numel() == 0:
        return faces.new_zeros((0, 2))
    n = int(faces.max()) + 1
    he = _half_edges(faces)
    keys = torch.unique(_edge_keys(he[he[:, 0] != he[:, 1]], n))  # sorted; no self-loops
    return torch.stack([keys // n, keys % n], dim=1)


@torch.no_grad()
def _edge_counts(faces: torch.Tensor):
    """Half-edges (H, 2), their undirected keys (H,) and how many faces share each one's edge (H,)."""
    n = int(faces.max()) + 1
    he = _half_edges(faces)
    keys = _edge_keys(he, n)
    _, inv, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    return he, keys, counts[inv]


@torch.no_grad()
def boundary_edges(faces: torch.Tensor) -> torch.Tensor:
    """Edges used by exactly one face, shape (B, 2), oriented as in that face.

    With consistently oriented faces the boundary therefore runs counter-clockwise around the
    surface seen from the normal side, and consecutive boundary edges chain head to tail.
    """
    faces = _check_faces(faces)
    if faces.numel() == 0:
        return faces.new_zeros((0, 2))
    he, _, cnt = _edge_counts(faces)
    return he[cnt == 1]


@torch.no_grad()
def boundary_vertices(faces: torch.Tensor, n_points: int | None = None) -> torch.Tensor:
    """Boolean mask (N,) of vertices on a boundary edge."""
    faces = _check_faces(faces)
    n = _n_points(faces, n_points)
    mask = torch.zeros(n, dtype=torch.bool, device=faces.device)
    be = boundary_edges(faces)
    mask[be.reshape(-1)] = True
    return mask


@torch.no_grad()
def boundary_loops(faces: torch.Tensor) -> list[torch.Tensor]:
    """Boundary loops as ordered vertex lists (each a LongTensor, first vertex not repeated).

    The walk runs over the (few) boundary edges only, on the CPU. At a non-manifold boundary
    vertex with several outgoing boundary edges, the walk takes them in index order, so every
    boundary edge lands in exactly one loop.
    """
    faces = _check_faces(faces)
    be = boundary_edges(faces).cpu().numpy()  # (B, 2)
    if len(be) == 0:
        return []
    order = np.argsort(be[:, 0], kind="stable")
    starts = be[order, 0]
    used = np.zeros(len(be), dtype=bool)
    loops = []
    for e0 in order:
        if used[e0]:
            continue
        loop = []
        e = e0
        while e is not None and not used[e]:
            used[e] = True
            loop.append(be[e, 0])
            head = be[e, 1]
            lo, hi = np.searchsorted(starts, head, "left"), np.searchsorted(starts, head, "right")
            e = next((order[k] for k in range(lo, hi) if not used[order[k]]), None)
        loops.append(torch.as_tensor(np.asarray(loop, dtype=np.int64), device=faces.device))
    return loops


@torch.no_grad()
def connected_components(faces: torch.Tensor, n_points: int | None = None) -> torch.Tensor:
    """Label (N,) of the edge-connected component of each vertex, numbered 0, 1, ... in order of
    their smallest vertex; isolated vertices form their own components."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    faces = _check_faces(faces)
    n = _n_points(faces, n_points)
    e = edges(faces).cpu().numpy()
    g = sp.coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(n, n))
    _, labels = cc(g, directed=False)
    return torch.as_tensor(labels.astype(np.int64), device=faces.device)


@torch.no_grad()
def euler_characteristic(faces: torch.Tensor, n_points: int | None = None) -> int:
    """``chi = V - E + F``. With ``n_points=None``, V counts the vertices that faces use; otherwise
    V = n_points (isolated vertices add 1 each)."""
    faces = _check_faces(faces)
    if n_points is None:
        v = int(torch.unique(faces).numel())
    else:
        v = _n_points(faces, n_points)
    return v - int(edges(faces).shape[0]) + int(faces.shape[0])


@torch.no_grad()
def genus(faces: torch.Tensor, n_points: int | None = None) -> int:
    """Genus of an orientable surface, summed over components.

    Each component with Euler characteristic chi_c, b_c boundary loops has
    ``chi_c = 2 - 2 g_c - b_c``, so ``g = (2 C - B - chi) / 2`` over the mesh (isolated vertices are
    ignored). Sphere and disk: 0; torus: 1. Only meaningful for manifold meshes.
    """
    faces = _check_faces(faces)
    if faces.numel() == 0:
        return 0
    used = torch.unique(faces)
    labels = connected_components(faces, n_points)
    c = int(torch.unique(labels[used]).numel())
    b = len(boundary_loops(faces))
    chi = euler_characteristic(faces)
    return (2 * c - b - chi) // 2


@torch.no_grad()
def is_watertight(faces: torch.Tensor) -> bool:
    """True when every edge is shared by exactly two faces (closed surface, no boundary)."""
    faces = _check_faces(faces)
    if faces.numel() == 0:
        return False
    _, _, cnt = _edge_counts(faces)
    return bool((cnt == 2).all())


@torch.no_grad()
def is_oriented(faces: torch.Tensor) -> bool:
    """True when no directed edge appears twice, i.e. neighbouring faces traverse their shared edge
    in opposite directions (consistent winding). Edges shared by 3+ faces make this False."""
    faces = _check_faces(faces)
    if faces.numel() == 0:
        return True
    n = int(faces.max()) + 1
    he = _half_edges(faces)
    key = he[:, 0] * n + he[:, 1]
    return bool(torch.unique(key).numel() == key.numel())


@torch.no_grad()
def is_manifold(faces: torch.Tensor) -> bool:
    """True when the surface is a 2-manifold (with boundary): every edge has one or two faces, and
    the faces around every vertex form a single fan (no "bow-tie" vertex where two fans touch).

    Vertex check: corners (f, v) of the same vertex are glued across every shared edge; a vertex is
    manifold when its corners form one connected group (union-find via scipy on the corner graph).
    Degenerate faces that repeat a vertex make the mesh non-manifold.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    faces = _check_faces(faces)
    if faces.numel() == 0:
        return True
    if ((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])).any():
        return False
    he, keys, cnt = _edge_counts(faces)
    if (cnt > 2).any():
        return False
    # pair up the two half-edges of every interior edge
    order = torch.argsort(keys, stable=True)
    sk = keys[order]
    same = sk[1:] == sk[:-1]
    h1, h2 = order[:-1][same], order[1:][same]  # (I,) half-edge ids h = 3 f + j

    # corner ids: the half-edge (a -> b) starts at corner h, ends at corner 3 f + (j + 1) % 3
    def end_corner(h):
        return (h // 3) * 3 + (h % 3 + 1) % 3

    s1, e1, s2, e2 = h1, end_corner(h1), h2, end_corner(h2)
    flipped = he[h1, 0] == he[h2, 1]  # opposite directions (consistent orientation)
    a = torch.cat([s1, e1])
    b = torch.cat([torch.where(flipped, e2, s2), torch.where(flipped, s2, e2)])
    nc = 3 * faces.shape[0]
    a_np, b_np = a.cpu().numpy(), b.cpu().numpy()
    g = sp.coo_matrix((np.ones(len(a_np), dtype=np.int8), (a_np, b_np)), shape=(nc, nc))
    _, lab = cc(g, directed=False)
    vert = faces.reshape(-1).cpu().numpy()
    pairs = np.unique(np.stack([vert, lab], 1), axis=0)  # distinct (vertex, corner group)
    return bool(len(pairs) == len(np.unique(vert)))
