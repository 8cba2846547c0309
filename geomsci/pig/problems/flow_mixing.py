"""Flow mixing (2+1)-D: u_t + a u_x + b u_y = 0 on [-4, 4]^2 x [0, 4], a vortex of tangential
speed v_t(r) = sech^2(r) tanh(r) (normalised by its maximum v_max = 0.385):

    a = -(v_t / v_max) y / r,   b = (v_t / v_max) x / r,   omega = v_t / (v_max r)
    u = -tanh( (y/2) cos(omega t) - (x/2) sin(omega t) )

Data: u at t = 0 and on the four sides (exact)."""

from __future__ import annotations

import torch

from geomsci.pig.problems.base import Constraint, Problem, box_faces, uniform_box

V_MAX = 0.385


def _vortex(x, y):
    r = torch.sqrt(x * x + y * y)
    vt = torch.tanh(r) / torch.cosh(r) ** 2  # (P,)
    safe = torch.where(r > 1e-12, r, torch.ones_like(r))
    omega = torch.where(r > 1e-12, vt / (V_MAX * safe), torch.full_like(r, 1.0 / V_MAX))  # limit r -> 0: 1/v_max
    a = -vt / V_MAX * y / safe
    b = vt / V_MAX * x / safe
    return omega, a, b


class FlowMixing(Problem):
    """Flow mixing with coordinates (x, y, t)."""

    name = "flow_mixing"
    time_dim = 2
    order = 1
    second_dims = ()
    test_shape = (50, 50, 50)

    def __init__(self):
        self.bounds = torch.tensor([[-4.0, -4.0, 0.0], [4.0, 4.0, 4.0]], dtype=torch.float64)

    def solution(self, x):
        X, Y, T = x.unbind(1)
        omega, _, _ = _vortex(X, Y)
        return -torch.tanh(0.5 * Y * torch.cos(omega * T) - 0.5 * X * torch.sin(omega * T))

    def residual(self, jet, x):
        _, a, b = _vortex(x[:, 0], x[:, 1])
        return jet.d(2) + a * jet.d(0) + b * jet.d(1)

    def constraints(self, n, generator=None):
        x0 = uniform_box(self.bounds, n, generator)
        x0[:, 2] = 0.0
        xb = box_faces(self.bounds, n, (0, 1), generator)
        return [Constraint(x0, self.solution(x0), name="initial"), Constraint(xb, self.solution(xb), name="boundary")]
