"""Pieces shared by the optimization loops that differentiate through ``extract_surface``
(``fit_to_target``, ``reconstruct_from_view``, ``optimize_drag``)."""

from __future__ import annotations

import torch

from geomsci.core.mesh import Mesh

from .extract import extract_surface


def loop_setup(net: torch.nn.Module, bounds, seed: int):
    """(p0, generator, lo, hi): ``net``'s first parameter (its dtype and device), a generator seeded with ``seed`` on
    that device, and the box corners of ``bounds`` (a half-width b gives [-b, b]^3) as tensors like p0."""
    p0 = next(net.parameters())
    g = torch.Generator(device=p0.device).manual_seed(seed)
    b = torch.as_tensor(bounds, dtype=p0.dtype, device=p0.device)
    lo, hi = (-b, b) if b.numel() == 1 else (b[0], b[1])
    return p0, g, lo, hi


def uniform_in_box(lo: torch.Tensor, hi: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """(n, 3) points drawn uniformly in the box [lo, hi] (the eikonal samples of each step)."""
    return lo + (hi - lo) * torch.rand(n, 3, generator=g, dtype=lo.dtype, device=lo.device)


def extract_nonempty(net: torch.nn.Module, bounds, resolution, who: str, step: int, hint: str = "") -> Mesh:
    """``extract_surface(net, bounds, resolution)``; a RuntimeError naming ``who`` and ``step`` when it has no faces."""
    mesh = extract_surface(net, bounds, resolution)
    if mesh.n_cells == 0:
        raise RuntimeError(f"{who}: the surface vanished at step {step}{hint}")
    return mesh
