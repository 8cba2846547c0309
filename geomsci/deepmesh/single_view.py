"""Application 2: single-view reconstruction by differentiable rendering through the extracted mesh.

One silhouette (and optionally depth) image of an unknown shape, rendered by
``geomsci.core.render`` from a known camera, is the only data.  An SDF network, started from a
sphere, is refined so that the soft-rasterized image of its extracted mesh matches::

    L = mean (S - S*)^2 + w_d * mean (D - D*)^2 + w_eik * eikonal(s_theta)

Gradients go image -> mesh vertices (SoftRas) -> field (DeepMesh dv/ds) -> network.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from geomsci.core.render import Camera, render

from ._surface_loop import extract_nonempty, loop_setup, uniform_in_box
from .sdf_net import eikonal_loss


def silhouette_iou(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.5) -> float:
    """Intersection over union of two silhouettes (H, W) thresholded at ``threshold``."""
    if a.shape != b.shape:
        raise ValueError(f"silhouette_iou: images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    ma, mb = a > threshold, b > threshold
    union = (ma | mb).sum()
    return float((ma & mb).sum() / union) if union > 0 else 1.0


def reconstruct_from_view(
    net: torch.nn.Module,
    target_images: dict,
    camera: Camera,
    *,
    bounds=1.0,
    resolution: int = 31,
    steps: int = 100,
    lr: float = 1e-3,
    depth_weight: float = 1.0,
    eikonal_weight: float = 0.02,
    sigma: float = 4e-4,
    seed: int = 0,
    progress: bool = False,
    callback=None,
) -> list[dict]:
    """Refine ``net`` so that its rendering from ``camera`` matches ``target_images``.

    Parameters
    ----------
    net : SDF module (P, 3) -> (P,), trained in place
    target_images : dict with ``silhouette`` (H, W) and optionally ``depth`` (H, W) from ``render``
    camera : the camera that took the target images
    depth_weight : weight of the depth term (0 or no ``depth`` image: silhouette only)
    sigma : soft-rasterizer edge sharpness (see ``render``)

    Returns
    -------
    history : list of dicts (step, loss, iou) per step
    """
    p0, g, lo, hi = loop_setup(net, bounds, seed)
    sil_t = target_images["silhouette"].to(p0)
    use_depth = depth_weight > 0 and "depth" in target_images
    depth_t = target_images["depth"].to(p0) if use_depth else None
    channels = ("silhouette", "depth") if use_depth else ("silhouette",)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for step in tqdm(range(steps), desc="reconstruct_from_view", disable=not progress, leave=False):
        mesh = extract_nonempty(net, bounds, resolution, "reconstruct_from_view", step)
        img = render(mesh.points, mesh.cells, camera, sigma=sigma, channels=channels)
        loss = ((img["silhouette"] - sil_t) ** 2).mean()
        if use_depth:
            loss = loss + depth_weight * ((img["depth"] - depth_t) ** 2).mean()
        uni = uniform_in_box(lo, hi, 2000, g)
        loss = loss + eikonal_weight * eikonal_loss(net, uni)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({"step": step, "loss": float(loss.detach()), "iou": silhouette_iou(img["silhouette"].detach(), sil_t)})
        if callback is not None:
            callback(step, mesh)
    return history
