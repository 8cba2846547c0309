"""Regularizers of a G-Shell: sign consistency of s, open/close terms on nu, carving targets for nu.

All are plain functions of tensors returning 0-d losses. The nu terms are meant for
``GShellSurface.nu_template_sg`` (nu at template vertices with the interpolation coefficients
detached), so that they move nu without dragging the template surface.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sdf_sign_loss(sdf: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Sign consistency of s across crossed grid edges (nvdiffrec / FlexiCubes).

    For every grid edge (a, b) with ``sign(s_a) != sign(s_b)``::

        L = mean [ BCE(logit=s_a, target=[s_b > 0]) + BCE(logit=s_b, target=[s_a > 0]) ]

    which pulls both ends towards a common sign and so removes floating sheets and spurious
    internal surfaces the image or point losses cannot see. 0 when no edge is crossed.

    sdf (V,), edges (E, 2) long -> ().
    """
    # index_select, not sdf[edges[:, 0]]: its backward (index_add_) is deterministic on the CPU at any thread
    # count, where advanced indexing's (index_put_ with accumulate) adds repeated indices in a racy order
    sa, sb = sdf.index_select(0, edges[:, 0]), sdf.index_select(0, edges[:, 1])  # (E,)
    crossed = (sa > 0) != (sb > 0)
    if not bool(crossed.any()):
        return sdf.sum() * 0
    sa, sb = sa[crossed], sb[crossed]
    return F.binary_cross_entropy_with_logits(sa, (sb > 0).to(sa.dtype)) + F.binary_cross_entropy_with_logits(
        sb, (sa > 0).to(sb.dtype)
    )


def _huber(x: torch.Tensor, delta: float) -> torch.Tensor:
    return F.huber_loss(x, torch.zeros_like(x), reduction="none", delta=delta)


def nu_open_loss(nu: torch.Tensor, margin: float = 0.0, delta: float = 0.05) -> torch.Tensor:
    """Push nu below ``-margin`` (open the surface): ``mean Huber_delta(relu(nu + margin))``. nu (K,) -> ()."""
    if nu.numel() == 0:
        return nu.sum()
    return _huber(torch.relu(nu + margin), delta).mean()


def nu_close_loss(nu: torch.Tensor, margin: float = 0.0, delta: float = 0.05) -> torch.Tensor:
    """Push nu above ``margin`` (close the surface): ``mean Huber_delta(relu(margin - nu))``. nu (K,) -> ()."""
    if nu.numel() == 0:
        return nu.sum()
    return _huber(torch.relu(margin - nu), delta).mean()


def nu_target_loss(nu: torch.Tensor, target: torch.Tensor, margin: float = 0.0, delta: float = 0.05) -> torch.Tensor:
    """Open/close Huber terms with a signed, weighted per-vertex target.

    ``target`` (K,) float in [-1, 1]: negative wants the vertex removed (nu < -margin), positive
    kept (nu > margin), with weight |target|; 0 is no opinion::

        L = sum_k |t_k| H(relu(margin - sign(t_k) nu_k)) / K

    nu (K,), target (K,) -> ().
    """
    if target.shape != nu.shape:
        raise ValueError(f"nu_target_loss: target must have the shape of nu {tuple(nu.shape)}, got {tuple(target.shape)}")
    if nu.numel() == 0:
        return nu.sum()
    t = target.to(nu.dtype)
    return (t.abs() * _huber(torch.relu(margin - torch.sign(t) * nu), delta)).mean()


def nu_smoothness_loss(nu: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Dirichlet energy of nu on the grid: ``mean (nu_a - nu_b)^2`` over grid edges (a, b).

    Favors nu that varies smoothly (like a distance), so grid vertices without a target follow
    their neighbours instead of leaving one-cell islands or pinholes. nu (V,), edges (E, 2) -> ().
    """
    return (nu.index_select(0, edges[:, 0]) - nu.index_select(0, edges[:, 1])).square().mean()  # deterministic backward


@torch.no_grad()
def distance_targets(
    points: torch.Tensor,
    target_points: torch.Tensor,
    close: float,
    open: float | None = None,
    band_weight: float = 0.1,
) -> torch.Tensor:
    """Targets for nu from a point cloud (see :func:`nu_target_loss`): +1 (close) for template
    vertices within ``close`` of the target, -1 (open) for those farther than ``open`` (default
    ``close``): no target point near, so that part of the template is not part of the surface;
    ``-band_weight`` in between, a weak push to open that loses against the close term where
    grid vertices are shared by surface and hole-filling parts of the template (a negative
    ``band_weight`` makes it a weak push to close).
    points (K, 3), target_points (P, 3) -> (K,) float."""
    open = close if open is None else open
    from geomsci.core.losses import nearest_neighbors

    if points.shape[0] == 0:
        return points.new_zeros(0)
    d2, _ = nearest_neighbors(points.detach(), target_points.detach())
    t = torch.full_like(d2, -band_weight)
    t[d2 < close * close] = 1
    t[d2 > open * open] = -1
    return t
