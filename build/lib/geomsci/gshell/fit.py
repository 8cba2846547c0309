"""Fit a G-Shell to a mesh or a point cloud of an open (or closed) surface.

Pipeline (all in a normalized frame where the target fits in [-0.8, 0.8]^3 on a [-1, 1]^3 grid):

1. Template initialization. With oriented triangles (a mesh) the generalized winding number
   (Jacobson et al. 2013) ``w(x) = sum_f Omega_f(x) / 4 pi`` is 1 inside a closed surface, 0
   outside, and for an open surface it still jumps by 1 across the surface while it fills each
   hole smoothly with w = 1/2. So ``s0 = sign(1/2 - w) * dist(x, target)`` is an SDF whose zero
   set is a *watertight* template containing the open target plus hole-filling patches. Without
   faces, s0 is a sphere. nu starts positive everywhere (the watertight template).
2. Optimization with Adam of s, nu and the deformation on

       L = CD(samples of the open surface, target)           (L1 Chamfer)
         + w_t  one-sided L1 Chamfer target -> template (hidden parts near the target stay on it)
         + w_n  normal term (1 - |cos|)
         + w_nu open/close Huber on nu at template vertices: +1 (close) where the template is
                within half a cell of the target, -1 (open) where it is farther than a cell
         + w_s  BCE sign consistency of s on crossed grid edges
         + w_ns Dirichlet energy of nu on grid edges (no one-cell islands or pinholes)
         + w_l  uniform Laplacian smoothing of the open surface.

   Gradients reach nu through the boundary points (Chamfer) and through the open/close terms;
   the latter use nu with stop-gradient interpolation coefficients.
3. Polishing: s and the deformation frozen, nu alone is fitted to the open/close targets of the
   final template (fixed targets), which removes most pinholes left where the moving template
   made the targets flicker.
4. Topology clean-up (``clean_surface``): nu is a per-grid-vertex field, so near a rim, where
   grid vertices serve both the surface and the hole-filling template, a few one-cell islands
   or pinholes can remain. Regions of the template kept (nu > 0) or removed that hold fewer than
   ``min_component`` of its vertices get nu's sign flipped at the template vertices and the
   template is cut again. ``FitResult.raw_mesh`` is the surface before this step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from geomsci.core.losses import chamfer_distance, f_score, laplacian_smoothing, nearest_neighbors
from geomsci.core.mesh import Mesh
from geomsci.core.sampling import sample_points

from .model import GShell
from .regularizers import distance_targets


@torch.no_grad()
def winding_number(
    query: torch.Tensor, points: torch.Tensor, normals: torch.Tensor, areas: torch.Tensor, chunk: int = 2**22
) -> torch.Tensor:
    """Generalized winding number of an oriented, area-weighted point cloud (dipole sum, Barill
    et al. 2018, "Fast winding numbers for soups and clouds", far-field term)::

        w(x) = sum_i a_i (p_i - x) . n_i / (4 pi |p_i - x|^3)

    1 inside a closed outward-oriented surface, 0 outside, 1/2 across the holes of an open one.
    Accurate at distances well above the sample spacing; see :func:`template_sdf` for the
    treatment near the surface. query (Q, 3), points (N, 3), normals (N, 3), areas (N,) -> (Q,).
    """
    # expanded so that the (q, N) work is two matrix products and a few elementwise ops:
    # (p - x) . a n = (p . a n) - x . (a n),   |p - x|^2 = |p|^2 + |x|^2 - 2 x . p
    out = torch.empty(query.shape[0], dtype=points.dtype, device=points.device)
    step = max(1, chunk // max(1, points.shape[0]))
    an = areas[:, None] * normals  # (N, 3)
    pan = (points * an).sum(-1)  # (N,)
    p2 = points.square().sum(-1)  # (N,)
    for i in range(0, query.shape[0], step):
        q = query[i : i + step]  # (q, 3)
        num = pan - q @ an.T  # (q, N)
        r2 = (p2 + q.square().sum(-1, keepdim=True) - 2 * q @ points.T).clamp_min(1e-12)
        out[i : i + step] = (num * r2.rsqrt() / r2).sum(1) / (4 * math.pi)
    return out


@torch.no_grad()
def template_sdf(
    query: torch.Tensor,
    points: torch.Tensor,
    normals: torch.Tensor,
    areas: torch.Tensor,
    band: float,
    max_dipoles: int = 3000,
) -> torch.Tensor:
    """A watertight-template SDF for an oriented (possibly open) surface given by samples.

    ``|s| = distance to the nearest sample``; the sign is "inside" where the winding number
    exceeds 1/2, except within ``band`` of the surface where the dipole sum is unreliable and the
    side of the nearest sample's tangent plane decides: ``sign((x - p_nn) . n_nn)``. The far-field
    sum uses at most ``max_dipoles`` of the samples (evenly strided; area rescaled).
    query (Q, 3) -> (Q,).
    """
    from scipy.spatial import cKDTree  # initialization only: an exact KD-tree on the CPU

    dist, index = cKDTree(points.cpu().double().numpy()).query(query.cpu().double().numpy())
    d = torch.as_tensor(dist, dtype=query.dtype, device=query.device)
    idx = torch.as_tensor(index, device=query.device)
    near = d < band
    side = ((query - points[idx]) * normals[idx]).sum(-1)  # (Q,) > 0 outside
    inside = torch.zeros_like(near)
    inside[near] = side[near] < 0
    far = ~near
    # far field: a subset of the samples carries the same total area
    n = points.shape[0]
    sub = torch.arange(0, n, max(1, -(-n // max_dipoles)), device=points.device)
    a_sub = areas[sub] * (areas.sum() / areas[sub].sum())
    inside[far] = winding_number(query[far], points[sub], normals[sub], a_sub) > 0.5
    return torch.where(inside, -d, d)


def _area_per_sample(target: Mesh, pts: torch.Tensor, n: int) -> torch.Tensor:
    """(n,) area carried by each of n area-uniform samples (total area / n), or for a point cloud
    pi r^2 with r half the mean distance to the nearest other point."""
    from geomsci.core.geometry import surface_area

    if target.cells is not None:
        return surface_area(pts, target.cells).expand(n) / n
    gen = torch.Generator(device=pts.device).manual_seed(0)
    sub = pts[torch.randperm(pts.shape[0], generator=gen, device=pts.device)[: min(2000, pts.shape[0])]]
    # distance to the second nearest = nearest among the others
    dist = torch.cdist(sub, pts).topk(2, largest=False).values[:, 1]
    r = 0.5 * float(dist.mean())
    return torch.full((n,), math.pi * r * r, dtype=pts.dtype, device=pts.device)


@dataclass
class FitResult:
    """Outcome of :func:`fit`: the trained model (normalized frame), the open mesh in the target's
    frame (detached, after ``clean_surface``), the map between frames (``world = normalized *
    scale + center``), the loss history (one dict per step) and the uncleaned mesh."""

    model: GShell
    mesh: Mesh
    center: torch.Tensor
    scale: float
    history: list = field(default_factory=list)
    raw_mesh: Mesh | None = None

    def watertight(self) -> Mesh:
        """The template (nu ignored), in the target's frame."""
        with torch.no_grad():
            t = self.model.extract_watertight()
        return Mesh(t.points.detach() * self.scale + self.center, t.cells, "triangle")


@torch.no_grad()
def remove_small_components(mesh: Mesh, min_fraction: float) -> Mesh:
    """Drop edge-connected components with fewer than ``min_fraction`` of the faces (and the
    vertices only they use); point fields are kept for the remaining vertices."""
    from geomsci.core.geometry import connected_components

    if mesh.n_cells == 0:
        return mesh
    labels = connected_components(mesh.cells, mesh.n_points)  # (N,)
    face_label = labels[mesh.cells[:, 0]]  # (F,)
    counts = torch.bincount(face_label, minlength=int(labels.max()) + 1)
    keep_face = counts[face_label] >= min_fraction * mesh.n_cells
    faces = mesh.cells[keep_face]
    used = torch.zeros(mesh.n_points, dtype=torch.bool, device=mesh.device)
    used[faces.reshape(-1)] = True
    remap = torch.cumsum(used.long(), 0) - 1
    return Mesh(mesh.points[used], remap[faces], "triangle", {k: v[used] for k, v in mesh.point_data.items()})


@torch.no_grad()
def small_regions(faces: torch.Tensor, keep: torch.Tensor, min_fraction: float) -> torch.Tensor:
    """Vertices (K,) bool of the template that lie in a connected region of kept (``keep``) or of
    removed vertices holding fewer than ``min_fraction`` of all K vertices: islands and pinholes."""
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    k = keep.shape[0]
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).cpu().numpy()
    kp = keep.cpu().numpy()
    same = kp[e[:, 0]] == kp[e[:, 1]]  # edges inside one region
    e = e[same]
    g = sp.coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(k, k))
    _, labels = connected_components(g, directed=False)
    sizes = np.bincount(labels)
    return torch.as_tensor(sizes[labels] < min_fraction * k, device=keep.device)


@torch.no_grad()
def clean_surface(surface, min_fraction: float) -> Mesh:
    """The open surface after flipping the sign of nu (at template vertices) on kept or removed
    template regions holding fewer than ``min_fraction`` of the template's vertices: one-cell
    islands are removed and pinholes closed; template components (bubbles of s) smaller than
    that are removed whole. Then the template is cut again
    (``extract.cut_open``). surface: a ``GShellSurface`` -> Mesh (detached)."""
    from .extract import cut_open

    tmpl = surface.template
    if tmpl.n_cells == 0:
        return surface.mesh.detach()
    from geomsci.core.geometry import connected_components

    nu = surface.nu_template.detach()
    keep = nu > 0
    # tiny closed components of the template (bubbles of s) are floaters: removed whole
    comp = connected_components(tmpl.cells, tmpl.n_points)  # (K,)
    sizes = torch.bincount(comp)
    floater = sizes[comp] < min_fraction * tmpl.n_points
    flip = small_regions(tmpl.cells, keep, min_fraction) & ~floater
    tiny = torch.finfo(nu.dtype).eps
    nu = torch.where(flip, torch.where(keep, -nu, (-nu).clamp_min(tiny)), nu)
    nu = torch.where(floater, -nu.abs(), nu)
    return cut_open(tmpl.points.detach(), tmpl.cells, nu)[0]


def polish_nu(model: GShell, targets, steps: int, lr: float, margin: float = 0.02) -> None:
    """Final stage: s and the deformation frozen, so the template and the targets of its vertices
    are fixed; Adam on nu alone minimizes the open/close terms until (nearly) every target is met.
    ``targets`` maps template points (K, 3) (model frame) to targets (K,) in [-1, 1]."""
    from geomsci.core.tetgrid import interpolate_on_edges

    from .regularizers import nu_target_loss

    if steps <= 0:
        return
    with torch.no_grad():
        tmpl = model.surface().template
        e, w = tmpl.point_data["edge"], tmpl.point_data["edge_weight"]
        t = targets(tmpl.points)
    opt = torch.optim.Adam([model.nu], lr=lr)
    for _ in range(steps):
        loss = nu_target_loss(interpolate_on_edges(model.nu, e, w), t, margin)
        opt.zero_grad()
        loss.backward()
        opt.step()


def normalize(points: torch.Tensor, extent: float = 0.8) -> tuple[torch.Tensor, float]:
    """Center and scale of the map putting ``points`` (P, 3) into [-extent, extent]^3."""
    lo, hi = points.min(0).values, points.max(0).values
    center = (lo + hi) / 2
    scale = float((hi - lo).max()) / (2 * extent)
    return center, scale


def fit(
    target: Mesh,
    *,
    resolution: int = 32,
    steps: int = 300,
    lr: float = 2e-3,
    nu_lr: float = 1e-2,
    n_samples: int = 4000,
    normal_weight: float = 0.02,
    nu_weight: float = 1.0,
    sdf_weight: float = 0.01,
    laplacian_weight: float = 0.05,
    nu_smooth_weight: float = 0.0,
    template_weight: float = 0.5,
    polish_steps: int = 100,
    min_component: float = 0.01,
    nu_band: tuple[float, float] = (0.5, 1.0),
    seed: int = 0,
    progress: bool = True,
) -> FitResult:
    """Fit a `GShell` to a triangle mesh or a point cloud (a `Mesh` without cells, optionally with a
    ``"normals"`` point field).

    Parameters
    ----------
    target : Mesh (triangles) or point set, 3-D
    resolution : tet grid cubes per axis
    steps, lr : Adam iterations and learning rate of s (the deformation uses 10 x lr)
    nu_lr : learning rate of nu
    n_samples : points sampled per step on the prediction and on the target
    *_weight : loss weights (see module docstring)
    min_component : kept or removed template regions with fewer than this fraction of the
        template's vertices are flipped (see ``clean_surface``); 0 keeps the raw extraction.
        ``FitResult.raw_mesh`` is the surface before the clean-up.
    polish_steps : Adam steps of the final nu-only stage on the frozen template (``polish_nu``)
    nu_band : (close, open) in cells: template vertices nearer the target than ``close`` cells are
        kept, those farther than ``open`` cells opened
    seed : seeds the target samples and the per-step samples (results reproducible on one machine)

    Returns
    -------
    FitResult
    """
    if not isinstance(target, Mesh):
        raise TypeError(
            f"fit: target must be a Mesh (triangles or a point set), got {type(target).__name__}; "
            f"wrap points as Mesh(points)"
        )
    if target.dim != 3:
        raise ValueError(f"fit: target must be 3-D, got points of shape {tuple(target.points.shape)}")
    if target.cells is not None and target.cell_type != "triangle":
        raise ValueError(f"fit: target must be a triangle mesh or a point set, got cell_type {target.cell_type!r}")
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"fit: n_samples must be a positive int, got {n_samples!r}")
    if len(nu_band) != 2 or not 0 < nu_band[0] <= nu_band[1]:
        raise ValueError(f"fit: nu_band must be (close, open) in cells with 0 < close <= open, got {nu_band!r}")
    dtype, device = torch.float32, target.device
    pts = target.points.detach().to(dtype)
    center, scale = normalize(pts)
    if not scale > 0:  # float: also catches NaN
        raise ValueError(f"fit: the target's {target.n_points} points all coincide (zero extent); nothing to fit")
    pts = (pts - center) / scale  # (N, 3) normalized
    gen = torch.Generator(device=device).manual_seed(seed)
    if target.cells is not None:
        tgt, tgt_n = sample_points(pts, target.cells, max(4 * n_samples, 20000), generator=gen, return_normals=True)
    else:
        tgt, tgt_n = pts, target.point_data.get("normals")
        if tgt_n is not None:
            tgt_n = tgt_n.detach().to(dtype)

    # template initialization
    model = GShell(resolution, dtype=dtype, device=device)
    h = float(model.cell_size.max())
    if tgt_n is not None:
        area = _area_per_sample(target, pts, tgt.shape[0])
        with torch.no_grad():
            model.sdf.copy_(template_sdf(model.vertices, tgt, tgt_n, area, 2 * h))

    params = [
        {"params": [model.sdf], "lr": lr},
        {"params": [model.nu], "lr": nu_lr},
        {"params": [model.deformation], "lr": 10 * lr},
    ]
    opt = torch.optim.Adam(params)
    history = []
    bar = tqdm(range(steps), desc="gshell fit", disable=not progress, leave=False)
    for it in bar:
        surf = model.surface()
        mesh = surf.mesh
        if mesh.n_cells == 0:
            raise RuntimeError(f"fit: the surface vanished at step {it}; lower lr or nu_weight")
        x, xn = sample_points(mesh.points, mesh.cells, n_samples, generator=gen, return_normals=True)
        sel = torch.randint(0, tgt.shape[0], (n_samples,), generator=gen, device=device)
        y = tgt[sel]
        yn = None if tgt_n is None else tgt_n[sel]
        cd, nl = chamfer_distance(x, y, squared=False, x_normals=None if yn is None else xn, y_normals=yn)
        if template_weight:
            # target -> template: also pulls hidden (nu < 0) parts of the template near the target
            # back onto it, so a part opened too early can close again
            xt = sample_points(surf.template.points, surf.template.cells, n_samples, generator=gen)
            cd = cd + template_weight * chamfer_distance(y, xt, squared=False, two_sided=False)[0]
        nu_tgt = distance_targets(surf.template.points, tgt, nu_band[0] * h, nu_band[1] * h)
        loss_nu = model.nu_loss(surf, nu_tgt, margin=0.01)
        loss = cd + nu_weight * loss_nu + sdf_weight * model.sdf_sign_loss()
        if nu_smooth_weight:
            loss = loss + nu_smooth_weight * model.nu_smoothness_loss()
        loss = loss + laplacian_weight * laplacian_smoothing(mesh.points, mesh.cells)
        if nl is not None:
            loss = loss + normal_weight * nl
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"step": it, "loss": float(loss.detach()), "chamfer": float(cd.detach()), "nu": float(loss_nu.detach()), "faces": mesh.n_cells}
        history.append(rec)
        if progress and it % 10 == 0:
            bar.set_postfix(cd=f"{rec['chamfer']:.4f}", faces=rec["faces"])
    polish_nu(model, lambda pts: distance_targets(pts, tgt, nu_band[0] * h, nu_band[1] * h), polish_steps, nu_lr)
    with torch.no_grad():
        surf = model.surface()
        clean = clean_surface(surf, min_component) if min_component > 0 else surf.mesh
    raw = Mesh(surf.mesh.points * scale + center, surf.mesh.cells, "triangle", {"boundary": surf.mesh.point_data["boundary"]})
    out = Mesh(clean.points * scale + center, clean.cells, "triangle", {"boundary": clean.point_data["boundary"]})
    return FitResult(model, out, center, scale, history, raw)


@torch.no_grad()
def evaluate(pred: Mesh, target: Mesh, *, n: int = 20000, seed: int = 0, fraction: float = 0.01) -> dict:
    """Chamfer (L1, mean of both directions summed, in target units) and F-score at ``fraction``
    of the target's bounding-box diagonal, on ``n`` area-uniform samples of each mesh."""
    from geomsci.core import geometry as G

    for name, m in (("pred", pred), ("target", target)):
        if m.cells is None or m.cell_type != "triangle":
            raise ValueError(
                f"evaluate: {name} must be a triangle mesh (Chamfer and F-score sample its faces), "
                f"got {'a point set' if m.cells is None else m.cell_type + ' cells'}"
            )
    gen = torch.Generator(device=pred.device).manual_seed(seed)
    x = sample_points(pred.points.to(target.dtype), pred.cells, n, generator=gen)
    y = sample_points(target.points, target.cells, n, generator=gen)
    diag = float((target.points.max(0).values - target.points.min(0).values).norm())
    cd, _ = chamfer_distance(x, y, squared=False)
    f, p, r = f_score(x, y, fraction * diag)
    return {
        "chamfer": float(cd),
        "chamfer_rel": float(cd) / diag,
        "fscore": float(f),
        "precision": float(p),
        "recall": float(r),
        "boundary_loops": len(G.boundary_loops(pred.cells)),
        "manifold": G.is_manifold(pred.cells),
        "faces": pred.n_cells,
    }
