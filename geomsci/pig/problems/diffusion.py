"""Nonlinear diffusion (2+1)-D: u_t = 0.05 (|grad u|^2 + u lap u) on [-1, 1]^2 x [0, 1], u = 0 on
the boundary, three-Gaussian initial state (Kang et al. 2025). Reference: the package's own
finite-difference solver (``geomsci.pig.reference.nonlinear_diffusion_fd``, 129^2 nodes, RK4;
max error about 7.5e-5, i.e. 2.6e-4 of max|u|, measured against 257^2 nodes)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from geomsci.pig.problems.base import Constraint, Problem, box_faces, uniform_box
from geomsci.pig.reference.diffusion import NU, initial_condition, nonlinear_diffusion_fd


@lru_cache(maxsize=2)
def _reference(n: int, n_times: int):
    axis, snaps = nonlinear_diffusion_fd(n, np.linspace(0.0, 1.0, n_times))
    return axis, snaps


class NonlinearDiffusion(Problem):
    """Nonlinear diffusion with coordinates (x, y, t); ``n_ref`` FD nodes per axis."""

    name = "diffusion"
    time_dim = 2
    order = 2
    second_dims = (0, 1)
    residual_scale = 0.1

    def __init__(self, n_ref: int = 129, n_times: int = 51):
        self.bounds = torch.tensor([[-1.0, -1.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
        if n_times < 2:
            raise ValueError(f"NonlinearDiffusion: n_times must be >= 2 (reference snapshots over t in [0, 1]), got {n_times}")
        if (n_ref - 1) % 2:
            raise ValueError(f"NonlinearDiffusion: n_ref - 1 must be even, got n_ref={n_ref}")
        self.n_ref, self.n_times = n_ref, n_times
        self.test_shape = ((n_ref + 1) // 2, (n_ref + 1) // 2, n_times)

    def residual(self, jet, x):
        gx, gy = jet.d(0), jet.d(1)
        return jet.d(2) - NU * (gx * gx + gy * gy + jet.u * (jet.dd(0) + jet.dd(1)))

    def constraints(self, n, generator=None):
        x0 = uniform_box(self.bounds, n, generator)
        x0[:, 2] = 0.0
        u0 = initial_condition(x0[:, 0], x0[:, 1])
        xb = box_faces(self.bounds, n, (0, 1), generator)
        return [Constraint(x0, u0, name="initial"), Constraint(xb, torch.zeros_like(xb[:, 0]), name="boundary")]

    def test_points(self):
        axis, snaps = _reference(self.n_ref, self.n_times)
        sub = torch.as_tensor(axis[::2])
        t = torch.linspace(0.0, 1.0, self.n_times, dtype=torch.float64)
        x = torch.stack(torch.meshgrid(sub, sub, t, indexing="ij"), -1).reshape(-1, 3)  # (X*Y*T, 3)
        u = torch.as_tensor(snaps[:, ::2, ::2]).permute(1, 2, 0).reshape(-1)  # (X*Y*T,) in the same order
        return x, u

    def solution(self, x):
        """Trilinear interpolation of the FD snapshots (reference, not exact)."""
        from scipy.interpolate import RegularGridInterpolator

        axis, snaps = _reference(self.n_ref, self.n_times)
        t = np.linspace(0.0, 1.0, self.n_times)
        interp = RegularGridInterpolator((t, axis, axis), snaps)
        xn = x.detach().cpu().numpy()
        return torch.as_tensor(interp(np.stack([xn[:, 2], xn[:, 0], xn[:, 1]], 1)), dtype=x.dtype, device=x.device)
