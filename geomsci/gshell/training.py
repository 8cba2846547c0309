"""What the G-Shell fitting loops share: the optimizer over s, nu and the deformation."""

from __future__ import annotations

import torch

from .model import GShell


def make_optimizer(model: GShell, lr: float, nu_lr: float, *, use_nu: bool = True) -> torch.optim.Adam:
    """Adam over the SDF s (``lr``), nu (``nu_lr``, only with ``use_nu``) and the deformation
    (``10 * lr``: the deformation is bounded and moves vertices by a fraction of a cell)."""
    groups = [{"params": [model.sdf], "lr": lr}]
    if use_nu:
        groups.append({"params": [model.nu], "lr": nu_lr})
    groups.append({"params": [model.deformation], "lr": 10 * lr})
    return torch.optim.Adam(groups)
