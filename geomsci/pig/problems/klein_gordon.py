"""Klein-Gordon (2+1)-D: u_tt - (u_xx + u_yy) + u^2 = f on [-1, 1]^2 x [0, 10], with the exact
solution u = (x + y) cos 2t + x y sin 2t. Since lap u = 0 and u_tt = -4 u, f = u^2 - 4 u.
Data: u and u_t at t = 0, u on the four sides."""

from __future__ import annotations

import torch

from geomsci.pig.problems.base import Constraint, Problem, box_faces, uniform_box


class KleinGordon(Problem):
    """Klein-Gordon with coordinates (x, y, t)."""

    name = "klein_gordon"
    time_dim = 2
    order = 2
    second_dims = (0, 1, 2)
    residual_scale = 10.0
    test_shape = (50, 50, 50)

    def __init__(self, t_max: float = 10.0):
        if not 0 < t_max < float("inf"):
            raise ValueError(f"KleinGordon: t_max must be a positive, finite end time, got {t_max}")
        self.bounds = torch.tensor([[-1.0, -1.0, 0.0], [1.0, 1.0, t_max]], dtype=torch.float64)

    def solution(self, x):
        X, Y, T = x.unbind(1)
        return (X + Y) * torch.cos(2 * T) + X * Y * torch.sin(2 * T)

    def residual(self, jet, x):
        u_ex = self.solution(x)
        f = u_ex**2 - 4 * u_ex
        return jet.dd(2) - jet.dd(0) - jet.dd(1) + jet.u**2 - f

    def constraints(self, n, generator=None):
        x0 = uniform_box(self.bounds, n, generator)
        x0[:, 2] = 0.0
        xb = box_faces(self.bounds, n, (0, 1), generator)
        return [
            Constraint(x0, self.solution(x0), name="initial"),
            Constraint(x0, 2 * x0[:, 0] * x0[:, 1], deriv=2, name="initial_ut"),
            Constraint(xb, self.solution(xb), name="boundary"),
        ]
