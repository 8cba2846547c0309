"""The PINN baseline: a plain tanh MLP on inputs scaled to [-1, 1], with the same closed-form
jets (forward mode, ``geomsci.pig.jet``) as PIG so both are trained by the same code at the same
cost per derivative.
"""

from __future__ import annotations

import torch
from torch import nn

from geomsci.pig.jet import Jet, mlp_jet
from geomsci.pig.model import JetModel, _check_bounds, _check_points, _check_sizes, make_mlp


class PINN(JetModel):
    """Tanh MLP ``u(x) = MLP(2 (x - lo) / (hi - lo) - 1)``.

    Parameters
    ----------
    dim : input dimension d; bounds : ((lo..), (hi..)) domain box used for input scaling
    width, depth : hidden units per layer and number of hidden layers
    out_dim, seed, dtype, device : as in ``PIG``
    """

    def __init__(
        self, dim: int, bounds, width: int = 64, depth: int = 4, out_dim: int = 1, seed: int = 0, dtype=torch.float64, device=None
    ):
        super().__init__()
        _check_sizes("PINN", dim=(dim, 1), width=(width, 1), depth=(depth, 1), out_dim=(out_dim, 1))
        b = _check_bounds(bounds, dim, "PINN").to(dtype)
        self.dim = dim
        self.register_buffer("center", (0.5 * (b[0] + b[1])).to(device))
        self.register_buffer("halfwidth", (0.5 * (b[1] - b[0])).to(device))
        g = torch.Generator().manual_seed(seed)
        self.mlp = make_mlp(dim, width, depth, out_dim, dtype, device, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """u(x): (P, d) -> (P, out_dim)."""
        _check_points(x, self.dim, "PINN")
        return mlp_jet(Jet((x - self.center) / self.halfwidth), self.mlp).value

    def _closed_jet(self, x, order, dims) -> Jet:
        h = (x - self.center) / self.halfwidth  # (P, d) scaled input
        if order == 0:
            return mlp_jet(Jet(h), self.mlp)
        grad = torch.diag(1.0 / self.halfwidth).expand(x.shape[0], -1, -1)  # (P, d, d): dh_i/dx_j
        hess = x.new_zeros(x.shape[0], self.dim, len(dims)) if order == 2 else None  # affine: no curvature
        return mlp_jet(Jet(h, grad, hess, tuple(dims) if order == 2 else ()), self.mlp)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"weights": list(self.mlp.parameters())}
