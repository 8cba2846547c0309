"""Fit a G-Shell to a mesh or a point cloud of an open (or closed) surface.

Pipeline (all in a normalized frame where the target fits in [-0.8, 0.8]^3 on a [-1, 1]^3 grid);
this module holds the loop, the stages live in ``template`` (1), ``training`` (the optimizer shared
with ``multiview``), ``cleanup`` (3, 4) and ``evaluation``, and are re-exported here:

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

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from geomsci.core.losses import laplacian_smoothing
from geomsci.core.mesh import Mesh
from geomsci.core.metrics import chamfer_distance
from geomsci.core.sampling import sample_points
from geomsci.core.threads import deterministic_algorithms

# stages of the pipeline live in their own modules; re-exported here under their old import path
from .cleanup import clean_surface, finish, polish_nu, remove_small_components, small_regions  # noqa: F401
from .evaluation import evaluate  # noqa: F401
from .model import GShell
from .regularizers import distance_targets
from .template import _area_per_sample, area_per_sample, normalize, template_sdf, winding_number  # noqa: F401
from .training import make_optimizer


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


@deterministic_algorithms()  # seeded fits give the same mesh at any thread count
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
            f"fit: target must be a Mesh (triangles or a point set), got {type(target).__name__}; wrap points as Mesh(points)"
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

    opt = make_optimizer(model, lr, nu_lr)
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
        rec = {
            "step": it,
            "loss": float(loss.detach()),
            "chamfer": float(cd.detach()),
            "nu": float(loss_nu.detach()),
            "faces": mesh.n_cells,
        }
        history.append(rec)
        if progress and it % 10 == 0:
            bar.set_postfix(cd=f"{rec['chamfer']:.4f}", faces=rec["faces"])
    targets = lambda pts: distance_targets(pts, tgt, nu_band[0] * h, nu_band[1] * h)  # noqa: E731
    surf, _, clean = finish(model, targets, polish_steps=polish_steps, nu_lr=nu_lr, min_component=min_component)
    raw = Mesh(surf.mesh.points * scale + center, surf.mesh.cells, "triangle", {"boundary": surf.mesh.point_data["boundary"]})
    out = Mesh(clean.points * scale + center, clean.cells, "triangle", {"boundary": clean.point_data["boundary"]})
    return FitResult(model, out, center, scale, history, raw)
