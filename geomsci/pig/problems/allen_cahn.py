"""Allen-Cahn 1-D: u_t - 1e-4 u_xx + 5 u^3 - 5 u = 0, x in [-1, 1] periodic, t in [0, 1],
u(x, 0) = x^2 cos(pi x). Reference: the package's own Fourier pseudo-spectral ETDRK4 solver
(``geomsci.pig.reference.allen_cahn_etdrk4``; 512 modes, dt = 5e-4; max error ~1e-6 against
2048 modes). Periodicity is imposed softly on u and u_x at x = -1 and x = 1."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from geomsci.pig.problems.base import Constraint, Problem, uniform_box
from geomsci.pig.reference.allen_cahn import allen_cahn_etdrk4


@lru_cache(maxsize=2)
def _reference(n: int, n_times: int):
    return allen_cahn_etdrk4(n, 5e-4, np.linspace(0.0, 1.0, n_times))


class AllenCahn(Problem):
    """Allen-Cahn with coordinates (x, t)."""

    name = "allen_cahn"
    time_dim = 1
    order = 2
    second_dims = (0,)
    residual_scale = 5.0

    def __init__(self, n_ref: int = 512, n_times: int = 101):
        if n_times < 2:
            raise ValueError(f"AllenCahn: n_times must be >= 2 (reference snapshots over t in [0, 1]), got {n_times}")
        self.bounds = torch.tensor([[-1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
        self.n_ref, self.n_times = n_ref, n_times
        self.test_shape = (n_ref // 2, n_times)

    def residual(self, jet, x):
        u = jet.u
        return jet.d(1) - 1e-4 * jet.dd(0) + 5 * u**3 - 5 * u

    def constraints(self, n, generator=None):
        x0 = uniform_box(self.bounds, n, generator)
        x0[:, 1] = 0.0
        u0 = x0[:, 0] ** 2 * torch.cos(math.pi * x0[:, 0])
        left = uniform_box(self.bounds, n, generator)
        left[:, 0] = -1.0
        right = left.clone()
        right[:, 0] = 1.0
        zero = torch.zeros_like(left[:, 0])
        return [
            Constraint(x0, u0, weight=100.0, name="initial"),
            Constraint(left, zero, x_pair=right, name="periodic_u"),
            Constraint(left, zero, deriv=0, x_pair=right, name="periodic_ux"),
        ]

    def test_points(self):
        x, snaps = _reference(self.n_ref, self.n_times)
        xs = torch.as_tensor(x[::2])
        t = torch.linspace(0.0, 1.0, self.n_times, dtype=torch.float64)
        pts = torch.stack(torch.meshgrid(xs, t, indexing="ij"), -1).reshape(-1, 2)  # (X*T, 2)
        u = torch.as_tensor(snaps[:, ::2]).T.reshape(-1)
        return pts, u

    def solution(self, x):
        """Spectral (trigonometric) interpolation in x of the snapshot nearest in time... linear in t."""
        xg, snaps = _reference(self.n_ref, self.n_times)
        coef = np.fft.rfft(snaps, axis=1) / self.n_ref  # (T, n/2+1)
        xn, tn = x[:, 0].detach().cpu().numpy(), x[:, 1].detach().cpu().numpy()
        k = np.arange(coef.shape[1])
        w = np.where((k == 0) | (k == self.n_ref // 2), 1.0, 2.0)
        basis = np.exp(1j * np.pi * np.outer(xn + 1.0, k))  # (P, K)
        vals = np.real(basis @ (coef * w).T)  # (P, T)
        tt = tn * (self.n_times - 1)
        i0 = np.clip(np.floor(tt).astype(int), 0, self.n_times - 2)
        a = tt - i0
        rows = np.arange(len(xn))
        out = (1 - a) * vals[rows, i0] + a * vals[rows, i0 + 1]
        return torch.as_tensor(out, dtype=x.dtype, device=x.device)
