"""Iso-surfaces of sampled scalar fields: marching cubes on a regular lattice, marching tetrahedra on
a tet grid, and the one parser of ``bounds`` / ``resolution`` that every extractor shares.

One job: turn field values at the nodes of a lattice (or the vertices of a tet grid) into a
triangle mesh of a level set, differentiably, on CPU and CUDA with the same code.

Conventions (the same for every function here and for ``deepmesh`` and ``gshell`` on top)
-----------------------------------------------------------------------------------------
- ``resolution`` counts **cells per axis**: ``resolution = n`` gives a lattice of ``n + 1`` nodes
  per axis, nodes at ``lo + i (hi - lo) / n``, i = 0..n, both ends of ``bounds`` included.  An int
  applies to all three axes, or give 3 ints.  (``deepmesh`` counted nodes until this module
  existed; ``tet_grid`` and ``gshell`` always counted cells.)
- ``bounds`` is ``((xmin, ymin, zmin), (xmax, ymax, zmax))`` with max > min, or one positive
  half-width b for the cube ``[-b, b]^3``.
- Negative is inside: faces are oriented outward (normals toward increasing values) for a
  signed distance that is negative inside.

Marching cubes
--------------
The surface is the level set ``{x : f(x) = level}`` of the trilinear-cell field sampled at the
lattice nodes.  Node ``(i, j, k)`` sits at ``origin + (i, j, k) * spacing (+ deformation[i, j, k])``.

- A node is **inside** when ``value <= level`` and outside when ``value > level``.  The equality
  goes to the inside consistently (a symbolic perturbation), so a node exactly at the level never
  makes a NaN or a hole: the vertex on an edge from it sits exactly on it (t = 0).
- Vertices are welded: one vertex per crossed lattice edge, shared by the (up to four) cubes
  around that edge.  Faces never repeat a vertex.  Near a node exactly at the level several
  vertices coincide in space; by default (``weld_nodes=True``) they are merged and the collapsed
  faces dropped, so no face has zero area (the mesh stays closed and oriented, and is pinched
  where the level set itself touches itself at such a node); ``weld_nodes=False`` keeps them and
  the zero-area faces between them, which keeps the mesh manifold.
- A closed level set strictly inside the lattice comes out watertight and manifold (see
  ``mc_tables.py`` for the consistent ambiguous-face rule).

The connectivity is decided under ``torch.no_grad()`` from the signs; positions are then a smooth
function of the values at the two ends of each crossed edge::

    t = (level - v_a) / (v_b - v_a),     x = (1 - t) p_a + t p_b

so gradients reach ``values`` (and ``deformation``, which moves ``p_a`` and ``p_b``).  On a
crossed edge one end is ``<= level`` and the other ``> level``, so ``v_b - v_a`` is never zero;
it is still bounded away from zero in magnitude to keep ``dt/dv`` finite for subnormal gaps.

Marching tetrahedra
-------------------
With ``s = sdf - level`` and a vertex "inside" when ``s < 0``, every tet edge (a, b) whose ends
are on different sides holds one surface vertex

    p = w_a p_a + w_b p_b,    w_a = s_b / (s_b - s_a),    w_b = -s_a / (s_b - s_a),

the zero of the linear interpolant of s along the edge.  Vertices are welded (one per crossed grid
edge); a tet with one vertex on one side gives a triangle, two on each side a quad split in two.
The pair ``(edge, edge_weight)`` is returned as point fields, so that another vertex field nu can be
carried to the surface as ``w_a nu_a + w_b nu_b`` (``interpolate_on_edges``).  The tet grid itself
is built by :func:`geomsci.core.tetgrid.tet_grid`.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from . import mc_tables as tables
from .grid import Grid, real_values
from .mesh import Mesh

__all__ = [
    "parse_bounds",
    "parse_resolution",
    "lattice_axes",
    "sample_field",
    "marching_cubes",
    "marching_tetrahedra",
    "interpolate_on_edges",
]


# -- bounds and resolution: one parser for every extractor --------------------------------------------


def parse_bounds(bounds, dtype=None, device=None, who: str = "bounds") -> torch.Tensor:
    """``bounds`` as a (2, 3) tensor ``[lo, hi]``.

    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)) with finite max > min on every axis, or one
        positive half-width b for the cube [-b, b]^3 (a float or 0-d tensor).
    who : the caller's name, for the error message.

    Raises ValueError naming the value when the bounds are malformed, not finite or empty.
    """
    msg = (
        f"{who}: bounds must be ((xmin, ymin, zmin), (xmax, ymax, zmax)) with finite max > min, "
        f"or a positive half-width; got {bounds!r}"
    )
    dtype = dtype or torch.get_default_dtype()
    if isinstance(bounds, (str, bytes)):
        raise ValueError(msg)
    try:
        b = torch.as_tensor(bounds, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError):
        try:  # a pair of tensors or a mix of tensors and lists
            b = torch.stack([torch.as_tensor(c, dtype=dtype, device=device).reshape(-1) for c in bounds])
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(msg) from e
    if b.numel() == 1:  # a half-width: the cube [-b, b]^3
        b = torch.stack([-b.reshape(1).expand(3), b.reshape(1).expand(3)])
    if b.shape != (2, 3) or not bool(((b[1] > b[0]) & torch.isfinite(b).all(0)).all()):
        raise ValueError(msg)
    return b


def parse_resolution(resolution, who: str = "resolution", minimum: int = 1) -> tuple[int, int, int]:
    """``resolution`` (cells per axis: an int or 3 ints, each >= ``minimum``) as a 3-tuple of ints.

    Refuses bools, strings, floats with a fraction (8.5) and anything below ``minimum`` with a
    ValueError naming the value; numpy and 0-d torch integers are accepted.
    """
    msg = f"{who}: resolution must be an int >= {minimum} or 3 such ints (cells per axis), got {resolution!r}"
    if isinstance(resolution, (bool, str, bytes)):
        raise ValueError(msg)
    if isinstance(resolution, torch.Tensor) and resolution.dim() == 0:
        resolution = resolution.item()
    res: tuple[int, ...]
    if isinstance(resolution, numbers.Integral):
        res = (int(resolution),) * 3
    else:
        try:
            items = list(resolution)
            res = tuple(int(x) for x in items)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise ValueError(msg) from None
        if any(isinstance(x, bool) or x != n for x, n in zip(items, res)):  # 8.5 or True
            raise ValueError(msg)
    if len(res) != 3 or min(res) < minimum:
        raise ValueError(msg)
    return res


def lattice_axes(bounds: torch.Tensor, resolution: tuple[int, int, int]) -> list[torch.Tensor]:
    """Node coordinates per axis: ``resolution[d] + 1`` points from ``bounds[0, d]`` to ``bounds[1, d]``.

    bounds (2, 3) from ``parse_bounds``; resolution (3,) cells per axis -> 3 tensors (n_d + 1,).
    """
    return [
        torch.linspace(float(bounds[0, d]), float(bounds[1, d]), resolution[d] + 1, dtype=bounds.dtype, device=bounds.device)
        for d in range(3)
    ]


def lattice_spacing(bounds: torch.Tensor, resolution: tuple[int, int, int]) -> torch.Tensor:
    """(3,) cell size of the lattice: ``(hi - lo) / resolution``."""
    return (bounds[1] - bounds[0]) / torch.as_tensor(resolution, dtype=bounds.dtype, device=bounds.device)


# -- sampling a callable field on the lattice -----------------------------------------------------------


def _evaluate(field, points: torch.Tensor, chunk_size: int, progress: bool, who: str) -> torch.Tensor:
    """field(points) (P,) in chunks of ``chunk_size`` points, without a graph."""
    out = []
    starts = range(0, points.shape[0], chunk_size)
    with torch.no_grad():
        for i in tqdm(starts, desc="field", disable=not progress or len(starts) < 2, leave=False):
            val = field(points[i : i + chunk_size])
            if not isinstance(val, torch.Tensor):
                raise TypeError(
                    f"{who}: field must return a tensor of values (P,), got {type(val).__name__}; "
                    f"wrap it, e.g. torch.as_tensor(...)"
                )
            out.append(val.reshape(-1))
    values = torch.cat(out) if out else points.new_zeros(0)
    if values.shape[0] != points.shape[0]:
        raise ValueError(
            f"{who}: field must map points (P, 3) to values (P,); got {values.shape[0]} values for {points.shape[0]} points"
        )
    return values


def sample_field(
    field: Callable,
    bounds,
    resolution,
    *,
    chunk_size: int = 2**16,
    narrow_band: int | None = None,
    level: float = 0.0,
    dtype=None,
    device=None,
    progress: bool = False,
    who: str = "sample_field",
) -> Grid:
    """Values of a callable ``field`` at the nodes of the lattice over ``bounds``, without a graph.

    Parameters
    ----------
    field : callable, points (P, 3) -> values (P,)
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)) or a half-width b for [-b, b]^3
    resolution : int or 3 ints, **cells** per axis (the lattice has resolution + 1 nodes per axis)
    chunk_size : int, points per field call (bounds the memory to about chunk_size activations)
    narrow_band : int, optional
        Coarse-to-fine factor k: the field is first evaluated on every k-th node, and exactly only
        inside (and one coarse cell around) the coarse cells whose corners straddle ``level``;
        elsewhere the coarse values are trilinearly upsampled, which keeps their sign.  About k^2
        times fewer evaluations for a surface; features thinner than k cells may be missed.
        ``resolution`` must be divisible by k.
    level : float, the iso-value the narrow band follows
    dtype, device : of the lattice (default: the default dtype, the CPU)

    Returns
    -------
    Grid with ``values`` (nx + 1, ny + 1, nz + 1), origin ``bounds[0]`` and spacing
    ``(hi - lo) / resolution``.
    """
    dtype = dtype or torch.get_default_dtype()
    device = torch.device(device or "cpu")
    b = parse_bounds(bounds, dtype, device, who)
    res = parse_resolution(resolution, who)
    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"{who}: chunk_size must be a positive int (points per field call), got {chunk_size!r}")
    if narrow_band is not None and (not isinstance(narrow_band, numbers.Integral) or isinstance(narrow_band, bool)):
        raise ValueError(f"{who}: narrow_band must be None or an int (coarse-to-fine factor), got {narrow_band!r}")
    axes = lattice_axes(b, res)
    nodes = tuple(r + 1 for r in res)
    grid = lambda values: Grid(values, b[0], lattice_spacing(b, res))  # noqa: E731
    if narrow_band is None or narrow_band <= 1:
        pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)  # (X*Y*Z, 3)
        return grid(_evaluate(field, pts, chunk_size, progress, who).reshape(nodes))
    k = int(narrow_band)
    if any(r % k for r in res):
        raise ValueError(f"{who}: narrow_band={k} must divide resolution (cells per axis), got resolution {res}")
    cres = tuple(r // k + 1 for r in res)  # coarse nodes per axis
    if min(cres) < 2:
        raise ValueError(f"{who}: narrow_band={k} too coarse for resolution {res}")
    coarse_pts = torch.stack(torch.meshgrid(*[a[::k] for a in axes], indexing="ij"), dim=-1).reshape(-1, 3)
    coarse = _evaluate(field, coarse_pts, chunk_size, progress, who).reshape(cres)  # (cx, cy, cz)
    inside = coarse <= level
    # coarse cells whose 8 corners disagree
    lo_all = torch.ones(tuple(c - 1 for c in cres), dtype=torch.bool, device=device)
    hi_any = torch.zeros_like(lo_all)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                c = inside[dx : cres[0] - 1 + dx, dy : cres[1] - 1 + dy, dz : cres[2] - 1 + dz]
                lo_all &= c
                hi_any |= c
    band = hi_any & ~lo_all  # (cx-1, cy-1, cz-1)
    band = torch.nn.functional.max_pool3d(band[None, None].to(dtype), 3, stride=1, padding=1)[0, 0] > 0  # dilate
    values = torch.nn.functional.interpolate(coarse[None, None], size=nodes, mode="trilinear", align_corners=True)[0, 0]
    # fine nodes of the band cells: node n belongs to cells floor(n / k) and floor((n - 1) / k)
    node_band = torch.zeros(nodes, dtype=torch.bool, device=device)
    idx = [torch.arange(r, device=device) for r in nodes]
    cell = [torch.minimum(i // k, torch.tensor(c - 2, device=device)) for i, c in zip(idx, cres)]
    cell_prev = [torch.clamp((i - 1) // k, min=0) for i in idx]
    for cx in (cell[0], cell_prev[0]):
        for cy in (cell[1], cell_prev[1]):
            for cz in (cell[2], cell_prev[2]):
                node_band |= band[cx][:, cy][:, :, cz]
    band_nodes = node_band.nonzero()  # (B, 3)
    if band_nodes.shape[0]:
        pts = torch.stack([axes[d][band_nodes[:, d]] for d in range(3)], dim=1)  # (B, 3)
        values[band_nodes[:, 0], band_nodes[:, 1], band_nodes[:, 2]] = _evaluate(field, pts, chunk_size, progress, who)
    return grid(values)


# -- marching cubes -------------------------------------------------------------------------------------

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


def _edge_cube_offsets(device) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a lattice edge sits in the cubes around it.

    Returns ``offsets`` (3, 4, 3) long: for an edge along ``axis`` with lower node n, the 4 cubes
    containing it have lowest corners ``n - offsets[axis, s]``, in which the edge is local edge
    ``_AXIS_EDGES[axis][s]``; and ``columns`` (3, 4): that edge's column in the (A, 12) vid table.
    """
    key = ("edge_cubes", str(device))
    if key not in _TABLE_CACHE:
        offsets = torch.tensor(_AXIS_OFFSETS, dtype=torch.long)  # (3, 4, 3)
        columns = torch.tensor([[_EDGE_COLUMN[e] for e in ids] for ids in _AXIS_EDGES], dtype=torch.long)
        _TABLE_CACHE[key] = (offsets.to(device), columns.to(device))
    return _TABLE_CACHE[key]


def _corner_strides(Y: int, Z: int, device) -> torch.Tensor:
    """(8,) flat offsets of the table's corners k = 0..7 from a cube's lowest node."""
    return torch.tensor([(dx * Y + dy) * Z + dz for dx, dy, dz in tables.CORNERS], device=device)


def _at_most(values: torch.Tensor, level: float) -> torch.Tensor:
    """``values <= level`` as a bool tensor.  On the CPU through numpy's kernel on a zero-copy view:
    torch's CPU comparison is ~4x slower at 256^3 (measured, torch 2.13), and this whole-grid pass
    is a third of the extraction; the result is the same bit for bit."""
    if values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(np.less_equal(values.contiguous().numpy(), level))
    return values <= level


def _flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """(K,) long, the sorted indices of the True entries of a flat bool tensor.  On CUDA one device
    sync (the count is data-dependent); on the CPU numpy's flatnonzero on a zero-copy view, ~4x
    faster than torch's CPU nonzero for tens of millions of entries (same result)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.nonzero().squeeze(1)


def _unique_inverse(keys: torch.Tensor, max_key: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(keys, return_inverse=True)`` for keys in [0, max_key].  On the CPU through
    one numpy sort of packed (key, position) integers: torch's CPU sort of int64 is ~8x slower
    than numpy's (measured, torch 2.13 / numpy 2.4), and this sort is the largest sparse step."""
    m = keys.numel()
    shift = max(m, 1).bit_length()
    if keys.device.type != "cpu" or max(max_key, 1).bit_length() + shift > 62:
        return torch.unique(keys, return_inverse=True)
    packed = np.sort((keys.numpy() << shift) | np.arange(m))
    order, sorted_keys = packed & ((1 << shift) - 1), packed >> shift
    first = np.empty(m, dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    inverse = np.empty(m, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return torch.from_numpy(sorted_keys[first]), torch.from_numpy(inverse)


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
    values = real_values(
        grid_or_tensor, "marching_cubes", "grid_or_tensor must be a Grid or a real tensor/array of shape (X, Y, Z)"
    )
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
    weld_nodes: bool = True,
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
    weld_nodes : bool
        Where nodes lie exactly on the level, several vertices (one per crossed edge at the node)
        coincide.  True (default): they are merged into one and the faces that collapse are dropped,
        so the mesh has no zero-area faces; it stays closed and oriented (every edge has as many
        faces on each side), but where two sheets of the level set touch at such a node it is
        pinched there (non-manifold, as the level set itself is).  False: the coincident vertices and
        the zero-area faces between them are kept, which keeps the mesh a manifold.  Nothing changes
        when no node is exactly at the level.  Not applied with ``inside`` (the connectivity then
        stays fixed, independent of the values).

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
            raise ValueError(
                f"marching_cubes: a bool occupancy mask (True = inside) takes level 0, got {level}; "
                "pass float values to choose another iso-value"
            )
        grid_or_tensor = 0.5 - torch.as_tensor(grid_or_tensor).to(torch.get_default_dtype())
    values, org, sp = _as_grid(grid_or_tensor, spacing, origin)
    grad_on = torch.is_grad_enabled()
    shape = tuple(values.shape)
    device, dtype = values.device, values.dtype
    if deformation is not None:
        deformation = torch.as_tensor(deformation)
        if deformation.shape != shape + (3,):
            raise ValueError(f"marching_cubes: deformation must have shape {shape + (3,)}, got {tuple(deformation.shape)}")
        deformation = deformation.to(dtype=dtype, device=device)

    with torch.no_grad():
        override = inside is not None
        if inside is not None:
            if inside.shape != shape or inside.dtype != torch.bool:
                raise ValueError(
                    f"marching_cubes: inside must be a bool tensor of shape {shape}, got {inside.dtype} {tuple(inside.shape)}"
                )
            inside = inside.to(device)
        else:
            inside = _at_most(values.detach(), level)  # (X, Y, Z) bool
        X, Y, Z = shape
        # -- crossed lattice edges: one vertex each, numbered axis by axis in flat order of the
        #    edge grids (x edges (X-1, Y, Z), then y edges (X, Y-1, Z), then z edges (X, Y, Z-1)).
        #    One nonzero over the three masks: the only device sync with a data-dependent size
        #    besides the active-cube count ---------------------------------------------------------
        edge_shapes = [tuple(s - (d == axis) for d, s in enumerate(shape)) for axis in range(3)]
        sizes = [X * Y * Z - (Y * Z, X * Z, X * Y)[axis] for axis in range(3)]
        crossed = torch.empty(sum(sizes), dtype=torch.bool, device=device)  # the three edge grids, end to end
        start = 0
        for axis in range(3):  # three whole-grid comparisons written in place (no concatenation copy)
            torch.ne(
                inside.narrow(axis, 0, shape[axis] - 1),
                inside.narrow(axis, 1, shape[axis] - 1),
                out=crossed[start : start + sizes[axis]].view(edge_shapes[axis]),
            )
            start += sizes[axis]
        gid = _flat_nonzero(crossed)  # (V,) sorted ids in the concatenated edge grids
        if gid.numel() == 0:
            empty = torch.zeros((0, 3), dtype=dtype, device=device)
            with torch.set_grad_enabled(grad_on):  # an empty surface stays connected to the values' graph
                empty = empty + values.sum() * 0
            return Mesh(empty, torch.zeros((0, 3), dtype=torch.long, device=device), "triangle")
        axis_of = (gid >= sizes[0]).long() + (gid >= sizes[0] + sizes[1]).long()  # (V,) edge axis
        local = gid - torch.tensor([0, sizes[0], sizes[0] + sizes[1]], device=device)[axis_of]  # (V,) in its grid
        # edge grid extents per axis: (X-1, Y, Z), (X, Y-1, Z), (X, Y, Z-1)
        ey = torch.tensor([Y, Y - 1, Y], device=device)[axis_of]
        ez = torch.tensor([Z, Z, Z - 1], device=device)[axis_of]
        i, j, k = local // (ey * ez), (local // ez) % ey, local % ez  # (V,) lower node of each edge
        ijk_long = torch.stack([i, j, k], dim=1)  # (V, 3)
        node_a = (i * Y + j) * Z + k  # (V,) flat lower node
        # -- the active cubes are those around a crossed edge: each crossed edge is one of the 4
        #    local edges along its axis of (up to) 4 cubes; their vertex ids are scattered into the
        #    (A, 12) table directly, so no search over the crossed edges is needed ----------------
        cube_off, columns = _edge_cube_offsets(device)  # (3, 4, 3), (3, 4)
        cand = ijk_long.unsqueeze(1) - cube_off[axis_of]  # (V, 4, 3) cubes containing each edge
        n_cubes = (X - 1) * (Y - 1) * (Z - 1)
        inside_lattice = ((cand >= 0) & (cand < torch.tensor([X - 1, Y - 1, Z - 1], device=device))).all(dim=2)
        cube_flat = (cand[..., 0] * (Y - 1) + cand[..., 1]) * (Z - 1) + cand[..., 2]  # (V, 4)
        cube_flat = torch.where(inside_lattice, cube_flat, n_cubes)  # outside the lattice -> sentinel
        sentinel = torch.full((1,), n_cubes, dtype=cube_flat.dtype, device=device)  # always present, sorts last
        cubes, slot = _unique_inverse(torch.cat([cube_flat.reshape(-1), sentinel]), n_cubes)  # (A+1,), (4V+1,)
        n_vert = gid.numel()
        vid = torch.zeros(cubes.numel() * 12, dtype=torch.long, device=device)
        vid[slot[:-1] * 12 + columns[axis_of].reshape(-1)] = torch.arange(n_vert, device=device).repeat_interleave(4)
        vid = vid.view(-1, 12)[:-1]  # (A, 12) vertex ids (columns in _EDGE_COLUMN order; uncrossed: unused 0)
        cubes = cubes[:-1]  # (A,) active cubes, sorted by flat index
        ci, cj, ck = cubes // ((Y - 1) * (Z - 1)), (cubes // (Z - 1)) % (Y - 1), cubes % (Z - 1)
        base = (ci * Y + cj) * Z + ck  # (A,) flat lowest corner
        corner_bits = inside.reshape(-1)[base.unsqueeze(1) + _corner_strides(Y, Z, device)].long()  # (A, 8)
        cube_case = (corner_bits << torch.arange(8, device=device)).sum(dim=1)  # (A,) table case index

    # -- vertex positions: differentiable edge interpolation ------------------------------------
    with torch.no_grad():
        ijk = ijk_long.to(dtype)  # (V, 3)
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
        keep = None
        if weld_nodes and not override:  # with a fixed mask the connectivity must not depend on the values
            # a vertex exactly on a lattice node (t = 0 or 1: the node is at the level) coincides with
            # the other vertices on that node; welding them removes the zero-area faces between them
            at_node = torch.where(t == 0, node_a, torch.where(t == 1, node_b, -1))  # (V,)
            keep, faces = _weld_coincident(at_node, faces)
    if keep is not None:
        points = points[keep]
    return Mesh(points, faces, "triangle")


@torch.no_grad()
def _weld_coincident(at_node: torch.Tensor, faces: torch.Tensor):
    """Merge the surface vertices that sit exactly on the same grid node, drop the faces that
    collapse, and drop pairs of opposite faces on the same three vertices (a zero-volume fin).

    at_node (V,) long: the node a vertex sits on, -1 for a vertex strictly inside its edge;
    faces (F, 3).  Returns ``(keep, faces)``: ``keep`` (V',) the surviving vertices in their
    order (None when nothing is on a node: the mesh is unchanged), faces renumbered to them.
    One device sync (whether any vertex is on a node).
    """
    on_node = at_node >= 0
    if not bool(on_node.any()):
        return None, faces
    n_vert = at_node.numel()
    ar = torch.arange(n_vert, device=at_node.device)
    key = torch.where(on_node, at_node, -1 - ar)  # vertices off the nodes stay alone
    _, group = torch.unique(key, return_inverse=True)  # (V,)
    first = torch.full((n_vert,), n_vert, device=at_node.device).scatter_reduce(0, group, ar, "amin")
    rep = first[group]  # (V,) lowest vertex of each group
    faces = rep[faces]  # (F, 3)
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[distinct]
    # opposite faces on the same vertex triple cancel (they bound no volume)
    triple = torch.sort(faces, dim=1).values
    n = n_vert + 1
    tkey = (triple[:, 0] * n + triple[:, 1]) * n + triple[:, 2]
    _, tgroup, counts = torch.unique(tkey, return_inverse=True, return_counts=True)
    faces = faces[counts[tgroup] == 1]
    keep = rep == ar  # representatives ...
    used = torch.zeros(n_vert, dtype=torch.bool, device=at_node.device)
    used[faces.reshape(-1)] = True
    keep = (keep & used).nonzero().squeeze(1)  # ... that a face still uses
    new_id = torch.full((n_vert,), -1, device=at_node.device)
    new_id[keep] = torch.arange(keep.numel(), device=at_node.device)
    return keep, new_id[faces]


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


# -- marching tetrahedra ----------------------------------------------------------------------------------

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


def interpolate_on_edges(field: torch.Tensor, edges: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Carry a vertex field to edge points: ``w_a f[a] + w_b f[b]``.

    field (V, ...) ; edges (K, 2) long ; weights (K, 2) -> (K, ...).
    Use ``weights.detach()`` for a stop-gradient on the interpolation coefficients.
    """
    fa, fb = field[edges[:, 0]], field[edges[:, 1]]
    shape = (-1,) + (1,) * (field.dim() - 1)
    return weights[:, 0].reshape(shape) * fa + weights[:, 1].reshape(shape) * fb


def _connected_empty(vertices: torch.Tensor, s: torch.Tensor, grad_on: bool) -> torch.Tensor:
    """(0, 3) points that stay in the graph of ``vertices`` and ``s`` (zero gradients, not None)."""
    with torch.set_grad_enabled(grad_on):
        return vertices[:0] + 0 * s.sum()


def _guard(denom: torch.Tensor) -> torch.Tensor:
    """Keep a denominator away from zero (magnitude >= machine eps), keeping its sign (0 -> +eps)."""
    eps = torch.finfo(denom.dtype).eps
    sign = torch.where(denom < 0, -torch.ones_like(denom), torch.ones_like(denom))
    return torch.where(denom.abs() < eps, sign * eps, denom)


def marching_tetrahedra(
    vertices: torch.Tensor, tets: torch.Tensor, sdf: torch.Tensor, level: float = 0.0, *, weld_nodes: bool = True
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
    weld_nodes : bool
        Merge the points that sit exactly on one grid vertex (``sdf == level`` there) and drop the
        faces that collapse (default), so that no face has zero area; False keeps them (see
        ``marching_cubes``).

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
        raise ValueError(
            f"marching_tetrahedra: tets must index the {n_vert} vertices (0 ... {n_vert - 1}), "
            f"got indices in [{int(tets.min())}, {int(tets.max())}]"
        )
    s = sdf - level  # (V,)
    grad_on = torch.is_grad_enabled()

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
                _connected_empty(vertices, s, grad_on),
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
        face_parts = []
        for t in (0, 1):
            has = ntri > t
            loc = table[case[has], t]  # (n, 3) local edge ids
            face_parts.append(torch.gather(edge_of_tet[has], 1, loc))  # (n, 3)
        faces = torch.cat(face_parts, 0)  # (F, 3)

    # -- geometry (differentiable) --------------------------------------------------------------
    sa, sb = s[edges[:, 0]], s[edges[:, 1]]  # (K,)
    denom = _guard(sb - sa)
    weights = torch.stack([sb / denom, -sa / denom], dim=1)  # (K, 2)
    # a point with all its weight on one end sits on that grid vertex (s = level there): weld the
    # points on one vertex, which removes the zero-area triangles between them
    keep = None
    if weld_nodes:
        with torch.no_grad():
            w = weights.detach()
            at_vertex = torch.where(w[:, 1] == 1, edges[:, 1], torch.where(w[:, 0] == 1, edges[:, 0], -1))  # (K,)
            keep, faces = _weld_coincident(at_vertex, faces)
    if keep is not None:
        edges, weights = edges[keep], weights[keep]
    points = interpolate_on_edges(vertices, edges, weights)  # (K, 3)
    return Mesh(points, faces, "triangle", {"edge": edges, "edge_weight": weights})
