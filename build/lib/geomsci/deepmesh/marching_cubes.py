"""Differentiable, vectorized marching cubes on a regular lattice (CPU and CUDA, same code).

The surface is the level set ``{x : f(x) = level}`` of the trilinear-cell field sampled at the
lattice nodes.  Node ``(i, j, k)`` sits at ``origin + (i, j, k) * spacing (+ deformation[i, j, k])``.

Conventions
-----------
- A node is **inside** when ``value <= level`` and outside when ``value > level``.  The equality
  goes to the inside consistently (a symbolic perturbation), so a node exactly at the level never
  makes a NaN or a hole: the vertex on an edge from it sits exactly on it (t = 0).
- Faces are oriented **outward for a field that is negative inside** (e.g. a signed distance):
  normals point toward increasing values.  Flip the faces (or negate the field) for the opposite.
- Vertices are welded: one vertex per crossed lattice edge, shared by the (up to four) cubes
  around that edge.  Faces never repeat a vertex.  Near a node exactly at the level several
  vertices may coincide in space; the zero-area faces between them are kept, because removing them
  would open holes in a surface that is topologically closed.
- A closed level set strictly inside the lattice comes out watertight and manifold (see
  ``tables.py`` for the consistent ambiguous-face rule).

Differentiability
-----------------
The connectivity is decided under ``torch.no_grad()`` from the signs; positions are then a smooth
function of the values at the two ends of each crossed edge::

    t = (level - v_a) / (v_b - v_a),     x = (1 - t) p_a + t p_b

so gradients reach ``values`` (and ``deformation``, which moves ``p_a`` and ``p_b``).  On a
crossed edge one end is ``<= level`` and the other ``> level``, so ``v_b - v_a`` is never zero;
it is still bounded away from zero in magnitude to keep ``dt/dv`` finite for subnormal gaps.
"""
from __future__ import annotations

import numpy as np
import torch

from geomsci.core.grid import Grid
from geomsci.core.mesh import Mesh

from . import tables

# local edge e of a cube: axis and the offset of its lower end within the cube
_EDGE_AXIS = []
_EDGE_OFFSET = []
for _a, _b in tables.EDGES:
    _pa, _pb = tables.CORNERS[_a], tables.CORNERS[_b]
    _EDGE_AXIS.append([d for d in range(3) if _pa[d] != _pb[d]][0])
    _EDGE_OFFSET.append(tuple(min(_pa[d], _pb[d]) for d in range(3)))

_TABLE_CACHE: dict = {}


# local edges grouped by axis: vid's columns are [x edges, y edges, z edges]
_AXIS_EDGES = [[e for e in range(12) if _EDGE_AXIS[e] == axis] for axis in range(3)]
_AXIS_OFFSETS = [[_EDGE_OFFSET[e] for e in ids] for ids in _AXIS_EDGES]
_EDGE_COLUMN = [0] * 12
for _col, _e in enumerate(_AXIS_EDGES[0] + _AXIS_EDGES[1] + _AXIS_EDGES[2]):
    _EDGE_COLUMN[_e] = _col


def _lex_to_case(device) -> torch.Tensor:
    """(256,) long: case index in lexicographic corner bits -> table (Bourke) case index."""
    key = ("lex", str(device))
    if key not in _TABLE_CACHE:
        perm = torch.zeros(256, dtype=torch.long)
        for lex in range(256):
            case = 0
            for k, (dx, dy, dz) in enumerate(tables.CORNERS):
                if (lex >> (dx + 2 * dy + 4 * dz)) & 1:
                    case |= 1 << k
            perm[lex] = case
        _TABLE_CACHE[key] = perm.to(device)
    return _TABLE_CACHE[key]


def _all_finite(values: torch.Tensor) -> bool:
    """Cheap finiteness test: a NaN or inf poisons the sum; only an overflowing sum needs the full check."""
    total = values.sum()
    return bool(torch.isfinite(total)) or bool(torch.isfinite(values).all())


def _as_grid(grid_or_tensor, spacing, origin) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if isinstance(grid_or_tensor, Grid):
        if grid_or_tensor.values.dim() != 3:
            raise ValueError(
                f"marching_cubes: grid must hold a scalar field (X, Y, Z), got values of shape "
                f"{tuple(grid_or_tensor.values.shape)}"
            )
        values = grid_or_tensor.values
        return values, grid_or_tensor.origin, grid_or_tensor.spacing
    values = grid_or_tensor
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(values)
        except (TypeError, RuntimeError, ValueError) as e:
            raise TypeError(
                f"marching_cubes: grid_or_tensor must be a Grid or a real tensor/array of shape (X, Y, Z), "
                f"got {type(grid_or_tensor).__name__}"
            ) from e
    if values.is_complex():
        raise TypeError(
            f"marching_cubes: values must be real, got {values.dtype}; pass values.real (or .abs()) explicitly"
        )
    if not values.is_floating_point():
        values = values.to(torch.get_default_dtype())
    if values.dim() != 3:
        raise ValueError(f"marching_cubes: values must have shape (X, Y, Z), got {tuple(values.shape)}")
    if min(values.shape) < 2:
        raise ValueError(f"marching_cubes: need at least 2 nodes per axis, got {tuple(values.shape)}")
    if not _all_finite(values):
        raise ValueError("marching_cubes: values contain NaN or inf")
    sp = torch.as_tensor(spacing, dtype=values.dtype, device=values.device).reshape(-1)
    sp = sp.expand(3) if sp.numel() == 1 else sp
    org = torch.as_tensor(origin, dtype=values.dtype, device=values.device).reshape(-1)
    # one device sync for both checks; which one failed is worked out on the error path only
    ok = sp.numel() == 3 and org.numel() == 3 and bool(((sp > 0) & torch.isfinite(sp)).all() & torch.isfinite(org).all())
    if not ok:
        if sp.numel() != 3 or not bool(((sp > 0) & torch.isfinite(sp)).all()):
            raise ValueError(f"marching_cubes: spacing must be a positive finite float or 3 such floats, got {spacing}")
        raise ValueError(f"marching_cubes: origin must be 3 finite floats, got {origin}")
    return values, org, sp


def marching_cubes(
    grid_or_tensor,
    level: float = 0.0,
    spacing=1.0,
    origin=(0.0, 0.0, 0.0),
    deformation: torch.Tensor | None = None,
    inside: torch.Tensor | None = None,
) -> Mesh:
    """Triangle mesh of the ``level`` iso-surface of a scalar field on a regular lattice.

    Parameters
    ----------
    grid_or_tensor : Grid (scalar) or float tensor (X, Y, Z)
        Field values at the nodes; may require grad.  A ``Grid`` brings its own origin/spacing.
        A bool tensor is an occupancy mask (True = inside): its surface runs halfway between
        inside and outside nodes, oriented outward (``level`` must then be 0).
    level : float
        Iso-value.  Nodes with ``value <= level`` are inside.
    spacing : float or 3 floats
        Node spacing per axis (ignored for a ``Grid``).
    origin : 3 floats
        Position of node (0, 0, 0) (ignored for a ``Grid``).
    deformation : float tensor (X, Y, Z, 3), optional
        Per-node displacement added to the node positions (world units); vertex positions are
        differentiable in it, e.g. to learn a deformable lattice.
    inside : bool tensor (X, Y, Z), optional
        Overrides the classification ``values <= level``: the connectivity comes from this mask,
        the positions from ``values``.  Holding the mask fixed makes the output a smooth function
        of the values (for gradient checks, or to differentiate a fixed connectivity); where the
        values disagree with the mask, t is extrapolated linearly instead of clamped to [0, 1].

    Returns
    -------
    Mesh
        ``points`` (V, 3) in ``values``' dtype/device, differentiable in ``values`` and
        ``deformation``; ``cells`` (F, 3) long, oriented outward for a negative-inside field.
        An empty surface (e.g. a ``level`` outside the range of the values) gives a mesh with 0
        points and 0 faces.

    Examples
    --------
    >>> x = torch.linspace(-1, 1, 32)
    >>> X, Y, Z = torch.meshgrid(x, x, x, indexing="ij")
    >>> mesh = marching_cubes((X**2 + Y**2 + Z**2).sqrt() - 0.7, spacing=2 / 31, origin=(-1, -1, -1))
    """
    try:
        level = float(level)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"marching_cubes: level must be a single float, got {level!r}") from e
    if level != level:  # NaN: every comparison is False, which would silently give an empty mesh
        raise ValueError("marching_cubes: level is NaN; pass a finite iso-value")
    if getattr(grid_or_tensor, "dtype", None) in (torch.bool, np.bool_):
        # an occupancy mask (True = inside): as 0/1 values it would put the surface on the False
        # nodes and orient it inward; 0.5 - mask is negative inside, with the surface halfway
        if level != 0.0:
            raise ValueError(f"marching_cubes: a bool occupancy mask (True = inside) takes level 0, got {level}; "
                             "pass float values to choose another iso-value")
        grid_or_tensor = 0.5 - torch.as_tensor(grid_or_tensor).to(torch.get_default_dtype())
    values, org, sp = _as_grid(grid_or_tensor, spacing, origin)
    shape = tuple(values.shape)
    device, dtype = values.device, values.dtype
    if deformation is not None:
        deformation = torch.as_tensor(deformation)
        if deformation.shape != shape + (3,):
            raise ValueError(
                f"marching_cubes: deformation must have shape {shape + (3,)}, got {tuple(deformation.shape)}"
            )
        deformation = deformation.to(dtype=dtype, device=device)

    with torch.no_grad():
        override = inside is not None
        if override:
            if inside.shape != shape or inside.dtype != torch.bool:
                raise ValueError(
                    f"marching_cubes: inside must be a bool tensor of shape {shape}, got "
                    f"{inside.dtype} {tuple(inside.shape)}"
                )
            inside = inside.to(device)
        else:
            inside = values.detach() <= level  # (X, Y, Z) bool
        X, Y, Z = shape
        # -- case index of every cube, built separably in "lexicographic" bit order
        #    (bit dx + 2 dy + 4 dz for the corner at offset (dx, dy, dz)), then permuted to the
        #    table's corner numbering for the active cubes only ---------------------------------
        u = inside.view(torch.uint8)  # (X, Y, Z) 0/1, no copy
        lex = u[:-1] | (u[1:] << 1)  # (X-1, Y, Z)
        lex = lex[:, :-1] | (lex[:, 1:] << 2)  # (X-1, Y-1, Z)
        lex = lex[:, :, :-1] | (lex[:, :, 1:] << 4)  # (X-1, Y-1, Z-1)
        lex_flat = lex.reshape(-1)
        active = ((lex_flat - 1) < 254).nonzero().squeeze(1)  # (A,) cases 1..254 (uint8 wraps 0 to 255)
        if active.numel() == 0:
            empty = torch.zeros((0, 3), dtype=dtype, device=device)
            return Mesh(empty + values.sum() * 0, torch.zeros((0, 3), dtype=torch.long, device=device), "triangle")
        cube_case = _lex_to_case(device)[lex_flat[active].long()]  # (A,) table case index
        ci = active // ((Y - 1) * (Z - 1))
        cj = (active // (Z - 1)) % (Y - 1)
        ck = active % (Z - 1)

        # -- crossed lattice edges, per axis, sorted by flat index: one vertex each -------------
        crossed_flat, edge_shapes, ranks = [], [], []
        n_vert = 0
        for axis in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis] = slice(0, shape[axis] - 1)
            hi[axis] = slice(1, shape[axis])
            crossed = (inside[tuple(lo)] != inside[tuple(hi)]).reshape(-1)  # edge grid, flat
            flat = crossed.nonzero().squeeze(1)  # (E_axis,) sorted
            _, sy, sz = edge_shapes_axis = tuple(s - (d == axis) for d, s in enumerate(shape))
            edge_shapes.append(edge_shapes_axis)
            crossed_flat.append(flat)
            # -- vertex id of the 4 local edges along this axis of every active cube: the rank of
            #    the edge among the crossed ones (binary search in the sorted list); uncrossed
            #    edges get a dummy id that the tables never reference ---------------------------
            off = torch.tensor([(dx * sy + dy) * sz + dz for dx, dy, dz in _AXIS_OFFSETS[axis]], device=device)
            q = ((ci * sy + cj) * sz + ck).unsqueeze(1) + off  # (A, 4) edge index in this axis' grid
            rank = torch.searchsorted(flat, q).clamp_(max=max(flat.numel() - 1, 0))  # (A, 4)
            ranks.append(rank.add_(n_vert))
            n_vert += flat.numel()
        vid = torch.cat(ranks, dim=1)  # (A, 12) vertex ids, columns in _EDGE_COLUMN order

    # -- vertex positions: differentiable edge interpolation ------------------------------------
    with torch.no_grad():
        node_a, ijk, axis_of = [], [], []  # lower node (flat), its (i, j, k), edge axis; per vertex
        for axis in range(3):
            flat = crossed_flat[axis]
            _, sy, sz = edge_shapes[axis]
            i, j, k = flat // (sy * sz), (flat // sz) % sy, flat % sz
            node_a.append((i * Y + j) * Z + k)
            ijk.append(torch.stack([i, j, k], dim=1))
            axis_of.append(torch.full_like(flat, axis))
        node_a = torch.cat(node_a)  # (V,)
        ijk = torch.cat(ijk).to(dtype)  # (V, 3)
        axis_of = torch.cat(axis_of)  # (V,)
        strides = torch.tensor([Y * Z, Z, 1], device=device)
        node_b = node_a + strides[axis_of]  # (V,) upper node
        e_axis = torch.eye(3, dtype=dtype, device=device)[axis_of]  # (V, 3) unit edge direction
    vflat = values.reshape(-1)
    va, vb = vflat[node_a], vflat[node_b]  # (V,), (V,)
    tiny = torch.finfo(dtype).tiny ** 0.5  # |v_b - v_a| floor: keeps dt/dv finite
    den = vb - va
    den = torch.where(den.abs() < tiny, torch.where(den < 0, -tiny, tiny), den)
    t = (level - va) / den  # (V,) in [0, 1] up to rounding
    if not override:
        t = t.clamp(0.0, 1.0)
    if deformation is None:
        points = org + (ijk + t.unsqueeze(1) * e_axis) * sp  # (V, 3)
    else:
        dflat = deformation.reshape(-1, 3)
        pa = org + ijk * sp + dflat[node_a]  # (V, 3)
        pb = org + (ijk + e_axis) * sp + dflat[node_b]  # (V, 3)
        points = pa + t.unsqueeze(1) * (pb - pa)
    with torch.no_grad():
        faces = _triangulate_loops(points.detach(), vid, cube_case)  # (F, 3)
    return Mesh(points, faces, "triangle")


def _loop_tables(device) -> dict:
    """Tensor form of tables.LOOP_TABLE, keyed by ``case * MAX_LOOPS + loop``: the loop's vid
    columns and size, and per loop size n all triangulations as an incidence matrix over the
    n(n-3)/2 possible diagonals, with an additive penalty (0 or inf) for inadmissible ones."""
    key = ("loops", str(device))
    if key not in _TABLE_CACHE:
        L, N = tables.MAX_LOOPS, tables.MAX_LOOP_SIZE
        edges = torch.zeros(256 * L, N, dtype=torch.long)  # (256 L, N) vid columns of the edges, 0-padded
        size = torch.zeros(256 * L, dtype=torch.long)  # (256 L,) loop sizes, 0 = no loop
        per_n = {}
        for n, tris in tables.TRIANGULATIONS.items():
            pairs = sorted({d for diags in tables.DIAGONALS[n] for d in diags})  # (D, 2) all diagonals
            incidence = torch.zeros(len(tris), max(len(pairs), 1))  # (K, D): diagonal d used by option k
            for k, diags in enumerate(tables.DIAGONALS[n]):
                for d in diags:
                    incidence[k, pairs.index(d)] = 1.0
            per_n[n] = {
                "tris": torch.tensor(tris, dtype=torch.long).reshape(len(tris), n - 2, 3).to(device),
                "pairs": torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).to(device),
                "incidence": incidence,
                "penalty": torch.zeros(256 * L, len(tris)),
            }
        for case, loops in enumerate(tables.LOOP_TABLE):
            for li, loop in enumerate(loops):
                n, row = len(loop), case * L + li
                edges[row, :n] = torch.tensor([_EDGE_COLUMN[e] for e in loop])
                size[row] = n
                for k, tri in enumerate(tables.TRIANGULATIONS[n]):
                    if not tables.admissible(loop, tri):
                        per_n[n]["penalty"][row, k] = float("inf")
        _TABLE_CACHE[key] = {"edges": edges.to(device), "size": size.to(device), "per_n": per_n}
    return _TABLE_CACHE[key]


def _triangulate_loops(points: torch.Tensor, vid: torch.Tensor, cube_case: torch.Tensor) -> torch.Tensor:
    """Faces (F, 3) of every loop of every active cube.

    Each cube's surface is a few closed loops of crossed edges (``tables.LOOP_TABLE``).  A loop of
    n vertices has Catalan(n - 2) triangulations; among those whose diagonals never join two edges
    of one cube face (the ones that keep the surface manifold across cubes) we take the one with the
    smallest total diagonal length in the actual vertex positions.  Diagonals are internal to one
    cube, so this choice never affects the neighbours: the surface stays watertight.

    points (V, 3) detached, vid (A, 12) vertex id of each local edge (columns in ``_EDGE_COLUMN``
    order), cube_case (A,) table case.
    """
    lt = _loop_tables(points.device)
    L = tables.MAX_LOOPS
    rows = (cube_case * L).unsqueeze(1) + torch.arange(L, device=points.device)  # (A, L) table rows
    loop_size = lt["size"][rows]  # (A, L) loop sizes, 0 = no loop
    vid_flat = vid.reshape(-1)  # (A * 12,)
    faces = []
    for n, opt in lt["per_n"].items():
        a, li = (loop_size == n).nonzero(as_tuple=True)  # (P,), (P,) cube and loop of each n-gon
        if a.numel() == 0:
            continue
        row = rows[a, li]  # (P,)
        ids = vid_flat[a.unsqueeze(1) * 12 + lt["edges"][row, :n]]  # (P, n) vertex ids around the loop
        if n == 3:
            faces.append(ids)
            continue
        pos = points[ids]  # (P, n, 3)
        pairs = opt["pairs"]  # (D, 2) every diagonal of an n-gon
        length = (pos[:, pairs[:, 0]] - pos[:, pairs[:, 1]]).norm(dim=-1)  # (P, D)
        cost = length @ opt["incidence"].to(length).T + opt["penalty"].to(length)[row]  # (P, K)
        best = cost.argmin(dim=1)  # (P,) shortest admissible triangulation
        local = opt["tris"][best]  # (P, n-2, 3) local vertex indices
        faces.append(torch.gather(ids, 1, local.reshape(local.shape[0], -1)).reshape(-1, 3))
    return torch.cat(faces, dim=0)
