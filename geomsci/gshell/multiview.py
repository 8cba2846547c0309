"""Multiview reconstruction of (open) surfaces with a G-Shell from silhouette, depth and normal
images with known cameras (rendered by ``geomsci.core.render``).

1. Back-projection: every pixel with silhouette > 1/2 gives a surface point (its depth along the
   pixel's ray) and an oriented normal; voxel down-sampling evens out the density of the views'
   overlapping samples (one sample per voxel of side h carries the area h^2 / |n|_1, the
   area per voxel of a plane with unit normal n). The template is initialized from these points exactly as in
   ``template.template_sdf`` (winding number of the oriented samples, hole-filling patches included).
2. Optimization of s, nu and the deformation, a few views per step, on

       L = |S - S*|_1 + w_d |D - D*|_1 + w_n |N - N*|_1       (premultiplied images, mean per pixel)
         + w_nu open/close Huber on nu from conservative *carving*: a template vertex that
                projects outside a (dilated) silhouette, or in front of the nearest observed
                depth around its pixel by more than 2 tau, lies in free space (open); one within
                tau of the observed depth in some view lies on the surface (close)
         + w_s BCE sign consistency of s + w_l Laplacian smoothing.

   With ``use_nu=False`` the same pipeline renders and returns the watertight template (nu is
   ignored, no carving term): the baseline that shows why nu matters for open surfaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from geomsci.core.losses import laplacian_smoothing
from geomsci.core.mesh import Mesh
from geomsci.core.render import Camera, render
from geomsci.core.threads import deterministic_algorithms

from .cleanup import finish
from .model import GShell
from .template import normalize, template_sdf
from .training import make_optimizer


def ring_cameras(
    n: int = 12, *, distance: float = 3.0, elevations=(30.0, -30.0), image_size: int = 96, fov: float = 40.0
) -> list[Camera]:
    """``n`` cameras looking at the origin: ``n / len(elevations)`` azimuths per elevation (degrees),
    alternate rings offset by half a step, up = +z."""
    if not isinstance(n, int) or n < 1 or len(elevations) == 0:
        raise ValueError(f"ring_cameras: need n >= 1 cameras and at least one elevation, got n={n!r}, elevations={elevations!r}")
    per = n // len(elevations)
    if per * len(elevations) != n:
        raise ValueError(f"ring_cameras: n={n} must be a multiple of the {len(elevations)} elevations")
    cams = []
    for r, el in enumerate(elevations):
        for k in range(per):
            az = 2 * math.pi * (k + 0.5 * r) / per
            e = math.radians(el)
            eye = (distance * math.cos(e) * math.cos(az), distance * math.cos(e) * math.sin(az), distance * math.sin(e))
            cams.append(Camera.look_at(eye, image_size=(image_size, image_size), fov=fov))
    return cams


def render_views(mesh: Mesh, cameras: list[Camera], *, sigma: float = 1e-5, **kwargs) -> list[dict[str, torch.Tensor]]:
    """Silhouette, depth and normal images of ``mesh`` from each camera (no gradients). The default
    ``sigma`` (sub-pixel edge blur at 96 x 96) makes nearly crisp "observed" images whose depth,
    divided by the silhouette, is within a few thousandths of the true depth."""
    with torch.no_grad():
        return [render(mesh.points, mesh.cells, cam, sigma=sigma, **kwargs) for cam in cameras]


def _rays(camera: Camera, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pixel (P, 3) camera-space point at depth 1 and whether it is orthographic."""
    ndc = camera.pixel_centers(dtype, device)  # (P, 2)
    if camera.orthographic:
        return torch.cat([ndc * camera.ortho_scale, torch.ones_like(ndc[:, :1])], 1), True
    t = math.tan(camera.fov / 2)
    return torch.cat([ndc * t, torch.ones_like(ndc[:, :1])], 1), False


@torch.no_grad()
def backproject(images: dict[str, torch.Tensor], camera: Camera, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Surface points (M, 3) and unit normals (M, 3), world frame, from one view's images.

    Depth and normals are premultiplied by the silhouette S, so they are divided by S at the
    pixels with S > ``threshold``. Pinhole: camera point = (x_ndc tan(fov/2) z, y_ndc tan(fov/2) z, z).
    """
    sil = images["silhouette"].reshape(-1)
    keep = sil > threshold
    z = images["depth"].reshape(-1)[keep] / sil[keep]
    dirs, ortho = _rays(camera, sil.dtype, sil.device)
    dirs = dirs[keep]
    cam_pts = (
        torch.cat([dirs[:, :2], torch.zeros_like(z)[:, None]], 1) + torch.stack([torch.zeros_like(z), torch.zeros_like(z), z], 1)
        if ortho
        else dirs * z[:, None]
    )
    R, eye = camera.rotation.to(sil), camera.eye.to(sil)
    pts = cam_pts @ R + eye  # (M, 3)
    n = images["normals"].reshape(-1, 3)[keep]
    n = n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return pts, n


@torch.no_grad()
def voxel_downsample(points: torch.Tensor, normals: torch.Tensor, size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Average points and normals per voxel of side ``size``: (M, 3) x2 -> (M', 3) x2."""
    key = torch.floor((points - points.min(0).values) / size).long()
    _, inv = torch.unique(key, dim=0, return_inverse=True)
    m = int(inv.max()) + 1
    cnt = torch.zeros(m, dtype=points.dtype, device=points.device).index_add_(0, inv, torch.ones_like(points[:, 0]))
    p = torch.zeros(m, 3, dtype=points.dtype, device=points.device).index_add_(0, inv, points) / cnt[:, None]
    n = torch.zeros(m, 3, dtype=points.dtype, device=points.device).index_add_(0, inv, normals)
    return p, n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def carving_targets(
    points: torch.Tensor, images: list[dict[str, torch.Tensor]], cameras: list[Camera], tau: float, band_weight: float = 0.1
) -> torch.Tensor:
    """nu targets (K,) in [-1, 1] for template vertices (world frame) from the observed images.

    Conservative space carving on a 3 x 3 pixel neighbourhood (so that silhouette edges and
    surfaces seen at grazing angles do not carve the surface itself): -1 (open) if some view sees
    the vertex in free space, i.e. projected where no pixel of the neighbourhood is covered, or in
    front of the nearest observed depth of the neighbourhood by more than ``2 tau``; else +1
    (close) if some view observes it within ``tau`` of the depth of its own pixel; else
    ``-band_weight`` (weak push to open).
    """
    import torch.nn.functional as F

    k = points.shape[0]
    free = torch.zeros(k, dtype=torch.bool, device=points.device)
    seen = torch.zeros_like(free)
    for img, cam in zip(images, cameras):
        H, W = cam.image_size
        sil = img["silhouette"]
        on = sil > 0.5  # (H, W)
        z_img = torch.where(on, img["depth"] / sil.clamp_min(1e-6), torch.full_like(sil, float("inf")))
        near = F.max_pool2d(on[None, None].to(sil.dtype), 3, 1, 1)[0, 0] > 0  # dilated silhouette
        zmin = -F.max_pool2d(-z_img[None, None], 3, 1, 1)[0, 0]  # nearest depth around each pixel
        xy, z = cam.project(points)
        col = torch.round((xy[:, 0] * H + W - 1) / 2).long()
        row = torch.round((H - 1 - xy[:, 1] * H) / 2).long()
        inside = (col >= 0) & (col < W) & (row >= 0) & (row < H) & (z > cam.znear)
        pix = row.clamp(0, H - 1) * W + col.clamp(0, W - 1)
        free |= inside & (~near.reshape(-1)[pix] | (z < zmin.reshape(-1)[pix] - 2 * tau))
        seen |= inside & on.reshape(-1)[pix] & ((z - z_img.reshape(-1)[pix]).abs() < tau)
    t = torch.full((k,), -band_weight, dtype=points.dtype, device=points.device)
    t[seen & ~free] = 1.0
    t[free] = -1.0
    return t


@dataclass
class MultiviewResult:
    """Model (normalized frame), final mesh in the world frame (open, or the template with
    ``use_nu=False``; after ``cleanup.clean_surface``), frame map ``world = normalized * scale +
    center``, loss history and the uncleaned mesh."""

    model: GShell
    mesh: Mesh
    center: torch.Tensor
    scale: float
    history: list = field(default_factory=list)
    raw_mesh: Mesh | None = None


@deterministic_algorithms()  # seeded fits give the same mesh at any thread count
def fit_multiview(
    images: list[dict[str, torch.Tensor]],
    cameras: list[Camera],
    *,
    use_nu: bool = True,
    resolution: int = 32,
    steps: int = 60,
    views_per_step: int = 2,
    lr: float = 2e-3,
    nu_lr: float = 1e-2,
    depth_weight: float = 1.0,
    normal_weight: float = 0.2,
    nu_weight: float = 1.0,
    sdf_weight: float = 0.01,
    laplacian_weight: float = 0.05,
    sigma: float = 3e-5,
    min_component: float = 0.01,
    polish_steps: int = 100,
    seed: int = 0,
    progress: bool = True,
) -> MultiviewResult:
    """Reconstruct a surface from images rendered with known cameras (see module docstring).

    Parameters
    ----------
    images : per view a dict with ``silhouette`` (H, W), ``depth`` (H, W), ``normals`` (H, W, 3)
        as returned by ``geomsci.core.render.render``
    cameras : the matching `Camera` list
    use_nu : False reconstructs with the watertight template only (baseline)
    resolution, steps, views_per_step : grid size, Adam steps, views rendered per step
    seed : seeds the order in which views are visited
    polish_steps : final nu-only steps on the frozen template (see ``cleanup.polish_nu``)
    min_component : flip kept/removed template regions below this fraction (``cleanup.clean_surface``)

    Returns
    -------
    MultiviewResult
    """
    if len(images) != len(cameras) or not images:
        raise ValueError(f"fit_multiview: need one image dict per camera, got {len(images)} images and {len(cameras)} cameras")
    for i, img in enumerate(images):
        missing = {"silhouette", "depth", "normals"} - set(img)
        if missing:
            raise ValueError(f"fit_multiview: images[{i}] lacks channels {sorted(missing)}")
    dtype = images[0]["silhouette"].dtype
    pts, nrm = zip(*(backproject(img, cam) for img, cam in zip(images, cameras)))
    pts, nrm = torch.cat(pts), torch.cat(nrm)
    center, scale = normalize(pts)
    model = GShell(resolution, dtype=dtype, device=pts.device)
    h = float(model.cell_size.max())
    p_n, n_n = voxel_downsample((pts - center) / scale, nrm, h)
    with torch.no_grad():
        # a plane with unit normal n crosses |n|_1 / h^2 voxels of side h per unit area
        area = h * h / n_n.abs().sum(1)
        model.sdf.copy_(template_sdf(model.vertices, p_n, n_n, area, 2 * h))
        if not use_nu:
            model.nu.fill_(1.0)
    opt = make_optimizer(model, lr, nu_lr, use_nu=use_nu)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(cameras), generator=gen).tolist()
    history = []
    bar = tqdm(range(steps), desc="gshell multiview" + ("" if use_nu else " (watertight)"), disable=not progress, leave=False)
    for it in bar:
        surf = model.surface()
        mesh = surf.mesh if use_nu else surf.template
        if mesh.n_cells == 0:
            raise RuntimeError(f"fit_multiview: the surface vanished at step {it}")
        world = mesh.points * scale + center
        loss_img = world.new_zeros(())
        for j in range(views_per_step):
            v = order[(it * views_per_step + j) % len(order)]
            out = render(world, mesh.cells, cameras[v], sigma=sigma)
            gt = images[v]
            loss_img = loss_img + (out["silhouette"] - gt["silhouette"]).abs().mean()
            loss_img = loss_img + depth_weight * (out["depth"] - gt["depth"]).abs().mean()
            loss_img = loss_img + normal_weight * (out["normals"] - gt["normals"]).abs().sum(-1).mean()
        loss = loss_img / views_per_step + sdf_weight * model.sdf_sign_loss()
        loss = loss + laplacian_weight * laplacian_smoothing(mesh.points, mesh.cells)
        loss_nu = torch.zeros(())
        if use_nu:
            tpts = surf.template.points.detach() * scale + center
            target = carving_targets(tpts, images, cameras, tau=h * scale)
            loss_nu = model.nu_loss(surf, target, margin=0.01)
            loss = loss + nu_weight * loss_nu
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(
            {
                "step": it,
                "loss": float(loss.detach()),
                "image": float(loss_img.detach()),
                "nu": float(loss_nu.detach()),
                "faces": mesh.n_cells,
            }
        )
        if progress:
            bar.set_postfix(img=f"{history[-1]['image']:.4f}", faces=mesh.n_cells)
    targets = lambda p: carving_targets(p * scale + center, images, cameras, tau=h * scale)  # noqa: E731
    _, final, clean = finish(model, targets, polish_steps=polish_steps, nu_lr=nu_lr, min_component=min_component, use_nu=use_nu)
    raw = Mesh(final.points.detach() * scale + center, final.cells, "triangle")
    out = Mesh(clean.points.detach() * scale + center, clean.cells, "triangle")
    return MultiviewResult(model, out, center, scale, history, raw)
