"""G-Shell extraction: a watertight template from an SDF s, cut open where a manifold SDF nu < 0.

Ghost-on-the-Shell (Liu et al., ICLR 2024) stores two values per grid vertex. The zero set of
s is a watertight template surface (marching tetrahedra, ``geomsci.core.tetgrid``); nu is a
signed distance *on* that template, and the open surface is the part of the template where
nu > 0. Its boundary is the zero set of nu on the template.

Steps
-----
1. Template: marching tetrahedra on s; each template vertex k lies on a grid edge (a, b) with
   weights (w_a, w_b).
2. nu at template vertices with the same coefficients: nu_k = w_a nu_a + w_b nu_b.
3. Each template triangle is cut by the linear interpolant of nu (the two triangles of a
   marching-tets quad are cut one by one, sharing the points on their diagonal)::

        all nu > 0: kept             one positive (a)          two positive (b, c)
             a                           a                        x_ab ---- b
            / \\                         / \\                         |  \\     |
           /   \\        ->          x_ab---x_ca                     |    \\   |
          b-----c                                                  x_ca ---- c
                                      (a, x_ab, x_ca)        (x_ab, b, c), (x_ab, c, x_ca)

   with the boundary point on template edge (i, j) at nu's zero:
   x = (nu_j p_i - nu_i p_j) / (nu_j - nu_i), one per template edge (welded), the denominator
   guarded away from zero. Triangles keep the template's orientation. Vertices with nu exactly
   0 count as removed, and the boundary point of every cut edge that ends on such a vertex is
   that vertex itself (welded: one point, not one coincident point per edge); the triangle a
   weld collapses to a repeated vertex (zero area) is dropped. So nu = 0 on a plane of grid
   nodes gives a manifold with one vertex per boundary point and no zero-area face. (At a saddle
   of nu exactly on a template vertex, the two kept wedges meet at that vertex: a pinch.)
4. The output keeps only the vertices its triangles use.

Everything after the topology decisions is differentiable in s, nu and the grid vertex
positions (hence a deformation). For regularizers, ``nu_template_sg`` interpolates nu with the
interpolation coefficients detached, so those losses move nu only, not the template.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch

from geomsci.core.mesh import Mesh
from geomsci.core.tetgrid import interpolate_on_edges, marching_tetrahedra


@dataclass
class GShellSurface:
    """Result of :func:`extract_gshell`.

    Attributes
    ----------
    mesh : Mesh
        The open surface (N points, F triangles); point field ``"boundary"`` (N,) bool.
    boundary : (N,) bool
        True for the points made at nu's zero crossings (the boundary of the open surface).
    template : Mesh
        The watertight template from s (K points), with point fields ``"edge"``, ``"edge_weight"``
        (see ``marching_tetrahedra``) and ``"nu"``.
    nu_template : (K,) nu at template vertices (differentiable in s, nu and positions).
    nu_template_sg : (K,) the same values with the interpolation coefficients detached (gradients
        reach the grid's nu only): feed these to nu regularizers.
    """

    mesh: Mesh
    boundary: torch.Tensor
    template: Mesh
    nu_template: torch.Tensor
    nu_template_sg: torch.Tensor


def _guard(denom: torch.Tensor) -> torch.Tensor:
    eps = torch.finfo(denom.dtype).eps
    sign = torch.where(denom < 0, -torch.ones_like(denom), torch.ones_like(denom))
    return torch.where(denom.abs() < eps, sign * eps, denom)


def cut_open(points: torch.Tensor, faces: torch.Tensor, nu: torch.Tensor) -> tuple[Mesh, torch.Tensor]:
    """Keep the part of a triangle mesh where a per-vertex field nu > 0 (linear on each triangle).

    Parameters
    ----------
    points : (K, 3) float, faces : (F, 3) long, nu : (K,) float

    Returns
    -------
    (mesh, boundary): the cut mesh (only used vertices; template vertices first in their original
    order, then boundary points) and a (N,) bool mask of the points on nu's zero set: the crossing
    points, and template vertices where nu is exactly 0 (welded boundary points). Differentiable in
    ``points`` and ``nu`` (a welded point is the template vertex: it moves with ``points`` only).
    """
    for name, arr in (("points", points), ("faces", faces), ("nu", nu)):
        if not isinstance(arr, torch.Tensor):
            raise TypeError(f"cut_open: {name} must be a torch tensor, got {type(arr).__name__}; use torch.as_tensor")
    if points.dim() != 2 or points.shape[1] != 3:
        raise ValueError(f"cut_open: points must have shape (K, 3), got {tuple(points.shape)}")
    if faces.dim() != 2 or faces.shape[1] != 3 or faces.is_floating_point() or faces.dtype == torch.bool:
        raise ValueError(f"cut_open: faces must be an integer tensor (F, 3), got {tuple(faces.shape)} {faces.dtype}")
    if nu.shape != (points.shape[0],):
        raise ValueError(f"cut_open: nu must have shape ({points.shape[0]},), got {tuple(nu.shape)}")
    device, n = points.device, points.shape[0]
    with torch.no_grad():
        pos = nu > 0  # (K,) kept template vertices
        pf = pos[faces]  # (F, 3)
        cnt = pf.sum(1)
        full = faces[cnt == 3]  # (F3, 3) kept whole
        # roll each cut face so that its "odd" vertex comes first, keeping the orientation
        cut = (cnt == 1) | (cnt == 2)
        fc, pc, cc = faces[cut], pf[cut], cnt[cut]
        odd = torch.where(cc[:, None] == 1, pc, ~pc)  # (Fc, 3): exactly one True per row
        first = odd.long().argmax(1)  # (Fc,)
        roll = (first[:, None] + torch.arange(3, device=device)) % 3
        fr = torch.gather(fc, 1, roll)  # (Fc, 3) = (a, b, c), a the odd vertex
        # cut edges a-b and c-a: one boundary point per template edge (welded)
        ab = torch.sort(fr[:, [0, 1]], 1).values
        ca = torch.sort(fr[:, [2, 0]], 1).values
        key = torch.cat([ab[:, 0] * n + ab[:, 1], ca[:, 0] * n + ca[:, 1]])
        ukey, inv = torch.unique(key, return_inverse=True)
        cut_edges = torch.stack([ukey // n, ukey % n], 1)  # (B, 2)
        n_b = cut_edges.shape[0]
        # weld: where the removed end of a cut edge has nu exactly 0, the zero crossing IS that template
        # vertex; all the cut edges leaving it share it instead of each making a coincident point
        removed_end = torch.where(pos[cut_edges[:, 0]], cut_edges[:, 1], cut_edges[:, 0])  # (B,)
        zero = nu.detach() == 0  # (K,)
        point_id = torch.where(zero[removed_end], removed_end, torch.arange(n_b, device=device) + n)  # (B,)
        n_cut = fr.shape[0]
        x_ab, x_ca = point_id[inv[:n_cut]], point_id[inv[n_cut:]]  # ids in [template | boundary] numbering
        one = cc == 1
        a, b, c = fr[:, 0], fr[:, 1], fr[:, 2]
        tri_one = torch.stack([a, x_ab, x_ca], 1)[one]
        tri_two = torch.cat([torch.stack([x_ab, b, c], 1)[~one], torch.stack([x_ab, c, x_ca], 1)[~one]])
        all_faces = torch.cat([full, tri_one, tri_two])  # ids into [template points | boundary points]
        # a weld collapses the triangle (x_ab, c, x_ca) of a face whose removed vertex has nu = 0 into (a, c, a)
        distinct = (
            (all_faces[:, 0] != all_faces[:, 1]) & (all_faces[:, 1] != all_faces[:, 2]) & (all_faces[:, 2] != all_faces[:, 0])
        )
        all_faces = all_faces[distinct]
        used = torch.zeros(n + n_b, dtype=torch.bool, device=device)
        used[all_faces.reshape(-1)] = True
        new_index = torch.cumsum(used.long(), 0) - 1
        out_faces = new_index[all_faces]
        # on nu's zero set: the crossing points and the welded template vertices (used only through welds)
        on_zero = torch.cat([zero, torch.ones(n_b, dtype=torch.bool, device=device)])
        boundary = on_zero[used]

    # differentiable boundary points: zero of the linear interpolant of nu on each cut edge
    ni, nj = nu[cut_edges[:, 0]], nu[cut_edges[:, 1]]  # (B,)
    denom = _guard(nj - ni)
    wi, wj = nj / denom, -ni / denom
    xb = wi[:, None] * points[cut_edges[:, 0]] + wj[:, None] * points[cut_edges[:, 1]]  # (B, 3)
    out_points = torch.cat([points, xb])[used]
    mesh = Mesh(out_points, out_faces, "triangle", {"boundary": boundary})
    return mesh, boundary


def extract_gshell(
    vertices: torch.Tensor,
    tets: torch.Tensor,
    sdf: torch.Tensor,
    msdf: torch.Tensor,
    level: float = 0.0,
) -> GShellSurface:
    """Extract the open G-Shell surface {s = level, nu > 0} from a tet grid.

    Parameters
    ----------
    vertices : (V, 3) grid vertex positions (deformed or not)
    tets : (T, 4) long
    sdf : (V,) s, negative inside the template
    msdf : (V,) nu, the manifold SDF; the surface is kept where nu > 0
    level : iso-value of s

    Returns
    -------
    GShellSurface (open mesh, boundary mask, template, nu at template vertices with and without
    gradients through the interpolation coefficients). When s does not cross ``level`` (e.g. a
    level outside its range) or nu <= 0 on the whole template, the mesh is empty (0 points, 0
    faces); that is a legitimate result, not an error.

    Raises
    ------
    TypeError for non-tensor inputs; ValueError for wrong shapes, a NaN level, or NaN/inf in
    ``vertices``, ``sdf`` or ``msdf`` (reported by name instead of as NaN mesh points or a
    silently empty mesh).
    """
    for name, arr in (("vertices", vertices), ("tets", tets), ("sdf", sdf), ("msdf", msdf)):
        if not isinstance(arr, torch.Tensor):
            raise TypeError(f"extract_gshell: {name} must be a torch tensor, got {type(arr).__name__}; use torch.as_tensor")
    if msdf.shape != (vertices.shape[0],):
        raise ValueError(
            f"extract_gshell: msdf must have shape ({vertices.shape[0]},) (one nu per grid vertex), got {tuple(msdf.shape)}"
        )
    if isinstance(level, numbers.Real) and level != level:
        raise ValueError("extract_gshell: level is NaN; pass a finite iso-value of s")
    # NaN/inf inputs are looked for only when something already went wrong (an error from the
    # point checks of Mesh, or an empty result), so a normal extraction pays no extra device sync
    try:
        template = marching_tetrahedra(vertices, tets, sdf, level)
        e, w = template.point_data["edge"], template.point_data["edge_weight"]
        nu_t = interpolate_on_edges(msdf, e, w)  # (K,)
        nu_sg = interpolate_on_edges(msdf, e, w.detach())  # (K,) stop-gradient on coefficients
        template.set_point_field("nu", nu_t)
        mesh, boundary = cut_open(template.points, template.cells, nu_t)
    except ValueError:
        _raise_if_nonfinite(vertices, sdf, msdf)
        raise
    if mesh.n_cells == 0:
        _raise_if_nonfinite(vertices, sdf, msdf)
    return GShellSurface(mesh, boundary, template, nu_t, nu_sg)


def _raise_if_nonfinite(vertices: torch.Tensor, sdf: torch.Tensor, msdf: torch.Tensor) -> None:
    for name, arr in (("vertices", vertices), ("sdf", sdf), ("msdf", msdf)):
        bad = ~torch.isfinite(arr.detach())
        if bad.any():
            rows = bad.reshape(bad.shape[0] if bad.dim() else 1, -1)
            n = int(rows.any(1).sum())
            raise ValueError(
                f"extract_gshell: {name} has NaN or inf at {n} of {rows.shape[0]} grid vertices; "
                f"replace them (e.g. torch.nan_to_num) or, in a fit, lower the learning rate"
            )
