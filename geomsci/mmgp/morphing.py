"""Mesh morphing onto a common support: Floater's mean-value map onto the unit disk, and RBF morphing.

Floater (mean-value) disk map of a mesh with one boundary loop
----------------------------------------------------------------
The boundary loop is walked in face orientation from a reproducible start node (the lowest-left
node, x + y smallest, or the lowest-left of ``n_corners`` detected corners) and placed on the unit
circle by arc length:  theta_b = theta_0 + 2 pi s_b / L. Each interior node is then the weighted
mean of its neighbours,

    sum_j w_ij (u_i - u_j) = 0,      w_ij = (tan(a_ij / 2) + tan(b_ij / 2)) / |x_i - x_j|,

          x_k
         /  \\            a_ij, b_ij: the angles at x_i between edge ij and the two edges
       x_i---x_j          that share a triangle with it (mean-value coordinates, Floater 2003).
         \\  /
          x_l

All w_ij > 0 and the boundary is convex, so by Tutte's theorem the map is a bijection: no triangle
flips (``flipped_triangles`` checks it). The same weights work for a 3-D surface patch.

RBF morphing
------------
Landmark displacements d_l = y_l - x_l are interpolated with the polyharmonic kernel phi(r) = r^3
plus an affine part, d(x) = sum_l c_l phi(|x - x_l|) + A x + b, so landmarks land exactly on their
targets and affine motions are reproduced exactly. ``boundary_correspondence`` pairs the boundary
loops of a mesh with those of a reference (nearest centroids; matching arc-length fractions), which
drives the morph for 3-D surfaces and meshes with several boundary loops.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from geomsci.core.geometry import boundary_loops, corner_angles, signed_areas_2d
from geomsci.core.mesh import Mesh


def _loop_arclength(points: torch.Tensor, loop: torch.Tensor) -> torch.Tensor:
    """Cumulative arc length at each loop node, starting at 0; plus the total as last entry. (B+1,)"""
    p = points[loop]
    seg = (torch.roll(p, -1, 0) - p).norm(dim=1)  # (B,)
    return torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)])


def _turning_angles(points: torch.Tensor, loop: torch.Tensor) -> torch.Tensor:
    """Exterior turning angle (radians, >= 0) at each node of a 2-D loop, shape (B,)."""
    p = points[loop]
    a, b = p - torch.roll(p, 1, 0), torch.roll(p, -1, 0) - p
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-30)
    return torch.arccos(cos.clamp(-1, 1))


def _corners(points: torch.Tensor, loop: torch.Tensor, angle: float | None) -> torch.Tensor:
    """Positions (sorted) in ``loop`` of the nodes turning by more than ``angle`` degrees; none for None."""
    if angle is None:
        return loop.new_zeros(0)
    return torch.nonzero(_turning_angles(points, loop) > math.radians(angle)).flatten()


def count_corners(points: torch.Tensor, faces: torch.Tensor, angle: float = 30.0) -> int:
    """Boundary nodes of a one-loop mesh whose turning angle exceeds ``angle`` degrees (0 for other meshes).

    A smooth boundary sampled every h turns by about h / R per node (R: radius of curvature), a few
    degrees for meshes that resolve it; a corner turns by 180 degrees minus its interior angle.
    """
    loops = boundary_loops(faces)
    if len(loops) != 1:
        return 0
    p = points.detach().to("cpu", torch.float64)
    turn = _turning_angles(p, loops[0].cpu())
    return int((turn > math.radians(angle)).sum())


def boundary_start(points: torch.Tensor, loop: torch.Tensor, n_corners: int = 0) -> tuple[int, torch.Tensor]:
    """Reproducible start of a boundary loop and, optionally, its corners.

    Returns ``(k0, corner_positions)``: ``k0`` indexes ``loop`` (the node with the smallest
    ``x + y``, among the ``n_corners`` sharpest corners when ``n_corners > 0``); ``corner_positions``
    (C,) are the corners' positions in ``loop`` sorted along the loop starting at ``k0`` (empty when
    ``n_corners == 0``).
    """
    p = points[loop].detach()
    if n_corners <= 0:
        return int(p[:, :2].sum(1).argmin()), loop.new_zeros(0)
    if n_corners > len(loop):
        raise ValueError(f"boundary_start: n_corners={n_corners} exceeds the {len(loop)} boundary nodes")
    turn = _turning_angles(p, torch.arange(len(loop), device=loop.device))
    corners = torch.topk(turn, n_corners).indices
    k0 = int(corners[p[corners, :2].sum(1).argmin()])
    order = torch.argsort((corners - k0) % len(loop))
    return k0, corners[order]


def disk_map(points: torch.Tensor, faces: torch.Tensor, *, n_corners: int = 0, theta0: float = -0.75 * math.pi) -> torch.Tensor:
    """Floater mean-value map of a one-boundary triangle mesh onto the unit disk.

    Parameters
    ----------
    points : (N, 2) or (N, 3) float tensor, vertex positions
    faces : (F, 3) long tensor, one connected disk-like patch (exactly one boundary loop)
    n_corners : when > 0, the ``n_corners`` sharpest boundary corners are pinned at equally spaced
        angles and arc length is used between them (aligns, e.g., the 4 corners of plates)
    theta0 : angle (radians) of the start node on the circle

    Returns
    -------
    (N, 2) tensor of disk coordinates, same dtype/device as ``points``. Boundary nodes lie on the
    unit circle; for counter-clockwise 2-D input every image triangle is counter-clockwise.
    Computed with a sparse direct solve on the CPU (a per-sample preprocessing step, not differentiable).
    """
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] not in (2, 3):
        got = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"disk_map: points must be a tensor of shape (N, 2) or (N, 3), got {got}")
    if not isinstance(faces, torch.Tensor) or faces.dim() != 2 or faces.shape[1] != 3:
        got = tuple(faces.shape) if isinstance(faces, torch.Tensor) else type(faces).__name__
        raise ValueError(f"disk_map: faces must be a tensor of shape (F, 3), got {got}")
    if not points.is_floating_point() or faces.is_floating_point() or faces.dtype == torch.bool:
        raise ValueError(f"disk_map: points must be floating point and faces integer, got {points.dtype} and {faces.dtype}")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= points.shape[0]):
        raise ValueError(
            f"disk_map: faces index out of range: indices span [{int(faces.min())}, {int(faces.max())}] "
            f"for {points.shape[0]} points"
        )
    if not bool(torch.isfinite(points).all()):
        raise ValueError("disk_map: points have NaN or inf values")
    faces = faces.long()
    loops = boundary_loops(faces)
    if len(loops) != 1:
        raise ValueError(f"disk_map: the mesh must have exactly one boundary loop, found {len(loops)}")
    n = points.shape[0]
    with torch.no_grad():
        x = points.detach().to("cpu", torch.float64)
        f = faces.detach().cpu()
        loop = loops[0].cpu()
        k0, corners = boundary_start(x, loop, n_corners)
        loop = torch.roll(loop, -k0)
        s = _loop_arclength(x, loop)  # (B+1,)
        if len(corners) == 0:
            frac = s[:-1] / s[-1]
        else:  # piecewise arc length between pinned corners
            pos = torch.cat([(corners - k0) % len(loop), torch.tensor([len(loop)])])
            frac = torch.empty(len(loop), dtype=torch.float64)
            for c in range(len(pos) - 1):
                a, b = int(pos[c]), int(pos[c + 1])
                frac[a:b] = (c + (s[a:b] - s[a]) / (s[b] - s[a])) / (len(pos) - 1)
        theta = theta0 + 2 * math.pi * frac
        uv = torch.zeros(n, 2, dtype=torch.float64)
        uv[loop] = torch.stack([torch.cos(theta), torch.sin(theta)], 1)

        # Mean-value weights: corner j of face f contributes tan(angle/2)/|edge| to both its edges.
        ang = corner_angles(x, f).numpy()  # (F, 3)
        fn, xn = f.numpy(), x.numpy()
        rows, cols, vals = [], [], []
        for j in range(3):
            i, a, b = fn[:, j], fn[:, (j + 1) % 3], fn[:, (j + 2) % 3]
            t = np.tan(ang[:, j] / 2)
            for other in (a, b):
                rows.append(i)
                cols.append(other)
                vals.append(t / np.linalg.norm(xn[i] - xn[other], axis=1))
        W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        is_b = np.zeros(n, bool)
        is_b[loop.numpy()] = True
        inner = np.nonzero(~is_b)[0]
        L = sp.diags(np.asarray(W.sum(1)).ravel()) - W  # rows: sum_j w_ij (u_i - u_j)
        A = L[inner][:, inner].tocsc()
        rhs = -L[inner][:, is_b] @ uv.numpy()[is_b]
        if len(inner):
            uv[inner] = torch.as_tensor(np.column_stack([spla.spsolve(A, rhs[:, c]) for c in range(2)]))
    return uv.to(device=points.device, dtype=points.dtype)


def flipped_triangles(points: torch.Tensor, faces: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of triangles whose 2-D orientation differs from ``reference`` (or that are degenerate).

    ``reference`` (N, 2) defaults to all-counter-clockwise. A bijective map has none. Returns (K,) long.
    """
    a = signed_areas_2d(points, faces)
    ref = torch.ones_like(a) if reference is None else torch.sign(signed_areas_2d(reference, faces))
    return torch.nonzero(a * ref <= 0).flatten()


def disk_morph(mesh: Mesh, *, n_corners: int = 0) -> Mesh:
    """The mesh with its points replaced by their disk coordinates (same cells, fields kept)."""
    if mesh.cell_type != "triangle":
        raise ValueError(f"disk_morph: needs a triangle mesh, got cell_type {mesh.cell_type!r}")
    uv = disk_map(mesh.points, mesh.cells, n_corners=n_corners)
    return Mesh(uv, mesh.cells, "triangle", dict(mesh.point_data), dict(mesh.cell_data))


def rbf_morph(points: torch.Tensor, source: torch.Tensor, target: torch.Tensor, *, regularization: float = 0.0) -> torch.Tensor:
    """Move ``points`` with the RBF interpolant of the landmark displacements ``target - source``.

    Parameters
    ----------
    points : (N, D) positions to move
    source : (L, D) landmark positions, target : (L, D) where the landmarks must go (L >= D + 1,
        not all on one hyperplane, for the affine part to be determined)
    regularization : ridge added to the kernel diagonal (0 interpolates exactly)

    Returns
    -------
    (N, D) morphed positions, differentiable in all inputs; dtype/device of ``points``.

    The system  [[Phi, P], [P^T, 0]] [c; a] = [d; 0]  with Phi_kl = |x_k - x_l|^3 and P = [1, x]
    gives d(x) = sum_l c_l |x - x_l|^3 + a^T [1, x].
    """
    if source.shape != target.shape or source.dim() != 2 or source.shape[1] != points.shape[1]:
        raise ValueError(
            f"rbf_morph: source and target must both be (L, {points.shape[1]}), got {tuple(source.shape)} and {tuple(target.shape)}"
        )
    n_l, d = source.shape
    if n_l < d + 1:
        raise ValueError(f"rbf_morph: needs at least {d + 1} landmarks in {d}-D, got {n_l}")
    phi = torch.cdist(source, source) ** 3  # (L, L)
    if regularization:
        phi = phi + regularization * torch.eye(n_l, dtype=phi.dtype, device=phi.device)
    P = torch.cat([source.new_ones(n_l, 1), source], 1)  # (L, D+1)
    top = torch.cat([phi, P], 1)
    bottom = torch.cat([P.T, P.new_zeros(d + 1, d + 1)], 1)
    A = torch.cat([top, bottom], 0)  # (L+D+1, L+D+1)
    rhs = torch.cat([target - source, source.new_zeros(d + 1, d)], 0)
    coef = torch.linalg.lstsq(A, rhs).solution if regularization else torch.linalg.solve(A, rhs)
    c, a = coef[:n_l], coef[n_l:]  # (L, D), (D+1, D)
    Pq = torch.cat([points.new_ones(points.shape[0], 1), points], 1)
    return points + torch.cdist(points, source) ** 3 @ c + Pq @ a


def boundary_correspondence(
    mesh: Mesh, reference: Mesh, *, corner_angle: float | None = 30.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair every boundary node of ``mesh`` with a point on the matching boundary loop of ``reference``.

    Loops are matched by nearest centroid (each reference loop used once); within a pair the mesh
    loop starts at its node nearest the reference loop's lowest-left node and both are walked in face
    orientation; a node at arc-length fraction t goes to the reference loop's point at fraction t.
    When both loops have the same number k >= 1 of corners (nodes turning by more than
    ``corner_angle`` degrees; None: ignore corners), corners go to corners (the mesh loop starts at its
    corner nearest the reference's first one) and arc length is matched between consecutive corners:
    rectangles of different widths otherwise send a corner to the middle of an edge, and the morph
    folds the triangles there.

    Returns ``(index (L,), target (L, D))``: mesh node indices and their target positions.
    """
    loops, ref_loops = boundary_loops(mesh.cells), boundary_loops(reference.cells)
    if len(loops) != len(ref_loops):
        raise ValueError(f"boundary_correspondence: mesh has {len(loops)} boundary loops, reference has {len(ref_loops)}")
    if not loops:
        raise ValueError("boundary_correspondence: the meshes have no boundary (closed surfaces)")
    x, y = mesh.points, reference.points.to(mesh.points)
    free = list(range(len(ref_loops)))
    idx, tgt = [], []
    for loop in loops:
        c = x[loop].mean(0)
        r = min(free, key=lambda k: float((y[ref_loops[k]].mean(0) - c).norm()))
        free.remove(r)
        rl = ref_loops[r]
        rl = torch.roll(rl, -int(y[rl].sum(1).argmin()))
        ck, ckr = _corners(x, loop, corner_angle), _corners(y, rl, corner_angle)
        if len(ck) and len(ck) == len(ckr):
            rl = torch.roll(rl, -int(ckr[0]))  # the reference starts at its corner nearest its lowest-left node
            ckr = (ckr - ckr[0]) % len(rl)
            loop = torch.roll(loop, -int(ck[(x[loop[ck]] - y[rl[0]]).norm(dim=1).argmin()]))
            ck = _corners(x, loop, corner_angle)
        else:
            loop = torch.roll(loop, -int((x[loop] - y[rl[0]]).norm(dim=1).argmin()))
            ck = ckr = loop.new_zeros(0)
        s, sr = _loop_arclength(x, loop), _loop_arclength(y, rl)
        if len(ck):  # piecewise: the arc between corners j and j+1 onto the reference's arc between its corners
            knots, knots_r = torch.cat([s[ck], s[-1:]]), torch.cat([sr[ckr], sr[-1:]])
            j = torch.searchsorted(knots, s[:-1].contiguous(), right=True).clamp(1, len(knots) - 1) - 1
            frac = (s[:-1] - knots[j]) / (knots[j + 1] - knots[j]).clamp_min(1e-30)
            t = knots_r[j] + frac * (knots_r[j + 1] - knots_r[j])
        else:
            t = (s[:-1] / s[-1]) * sr[-1]  # target arc length on the reference loop
        ring = torch.cat([y[rl], y[rl[:1]]])  # closed polyline (B_r+1, D)
        k = torch.searchsorted(sr, t.contiguous(), right=True).clamp(1, len(sr) - 1) - 1
        w = ((t - sr[k]) / (sr[k + 1] - sr[k]).clamp_min(1e-30)).unsqueeze(1)
        idx.append(loop)
        tgt.append(ring[k] * (1 - w) + ring[k + 1] * w)
    return torch.cat(idx), torch.cat(tgt)


def rbf_boundary_morph(mesh: Mesh, reference: Mesh, *, max_landmarks: int = 400, corner_angle: float | None = 30.0) -> Mesh:
    """Morph ``mesh`` so its boundary loops land on those of ``reference`` (RBF driven by the loops).

    At most ``max_landmarks`` evenly spread boundary nodes drive the RBF (the others follow it);
    corners go to corners when the loops have as many (`boundary_correspondence`, ``corner_angle``).
    Returns a new ``Mesh`` with the morphed points, same cells and fields.
    """
    idx, tgt = boundary_correspondence(mesh, reference, corner_angle=corner_angle)
    if len(idx) > max_landmarks:
        keep = torch.linspace(0, len(idx) - 1, max_landmarks, device=idx.device).round().long()
        idx, tgt = idx[keep], tgt[keep]
    moved = rbf_morph(mesh.points, mesh.points[idx], tgt)
    return Mesh(moved, mesh.cells, mesh.cell_type, dict(mesh.point_data), dict(mesh.cell_data))


def folds(mesh: Mesh, reference: Mesh, corner_angle: float | None = 30.0) -> int:
    """Triangles of ``mesh`` that `rbf_boundary_morph` onto ``reference`` turns over (0: the morph is a
    bijection on this mesh). A folded sample's fields transfer to the common mesh with large errors."""
    morphed = rbf_boundary_morph(mesh, reference, corner_angle=corner_angle).points
    return int(flipped_triangles(morphed, mesh.cells, reference=mesh.points).numel())


def least_folding_reference(
    meshes, n_candidates: int = 8, n_check: int = 100, corner_angle: float | None = 30.0
) -> tuple[int, dict[int, int]]:
    """Index of the mesh of ``meshes`` onto which the fewest of them fold under `rbf_boundary_morph`.

    Candidates: ``n_candidates`` meshes spread evenly over the finer half by node count (a coarse
    common mesh would lose resolution in the transfer); each is scored by how many of ``n_check``
    evenly spread meshes fold onto it. Returns the index and {candidate: samples that fold}.

    Why: the RBF morph is not guaranteed bijective. On the unit square with a circular hole of random
    centre and radius, the previous default (the mesh with most nodes, i.e. the smallest hole) folded
    up to half of the held-out samples and made the field error 1.4-4.2x larger (docs/mmgp.md).
    """
    n = len(meshes)
    by_nodes = np.argsort([m.n_points for m in meshes], kind="stable")
    finer = by_nodes[n // 2 :]
    cands = sorted(set(finer[np.linspace(0, len(finer) - 1, min(n_candidates, len(finer))).round().astype(int)].tolist()))
    check = sorted(set(np.linspace(0, n - 1, min(n_check, n)).round().astype(int).tolist()))
    scores = {c: sum(folds(meshes[i], meshes[c], corner_angle) > 0 for i in check if i != c) for c in cands}
    best = min(cands, key=lambda c: (scores[c], -meshes[c].n_points))  # ties: the finer mesh
    return best, scores
