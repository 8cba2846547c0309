"""The last stages of a G-Shell fit: polishing nu on the frozen template, and the topology clean-up.

nu is a per-grid-vertex field, so near a rim, where grid vertices serve both the surface and the
hole-filling template, a few one-cell islands or pinholes can remain. ``polish_nu`` fits nu alone
to fixed open/close targets of the final template; ``clean_surface`` then flips nu's sign on kept
or removed template regions holding fewer than a fraction of its vertices and cuts the template
again. ``finish`` runs both, as ``fit`` and ``fit_multiview`` end.
"""

from __future__ import annotations

import torch

from geomsci.core.mesh import Mesh

from .model import GShell


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


@torch.no_grad()
def _final_surface(model: GShell, min_component: float, use_nu: bool):
    surf = model.surface()
    final = surf.mesh if use_nu else surf.template
    clean = clean_surface(surf, min_component) if (use_nu and min_component > 0) else final
    return surf, final, clean


def finish(model: GShell, targets, *, polish_steps: int, nu_lr: float, min_component: float, use_nu: bool = True):
    """``polish_nu`` (with nu) then ``clean_surface`` (when ``min_component > 0``), in the model's
    normalized frame. ``targets`` maps template points (K, 3) to open/close targets (K,).

    Returns (surface before clean-up: a ``GShellSurface``; the raw mesh: the open surface, or the
    template with ``use_nu=False``; the cleaned mesh), all detached.
    """
    if use_nu:
        polish_nu(model, targets, polish_steps, nu_lr)
    return _final_surface(model, min_component, use_nu)
