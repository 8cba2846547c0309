"""Helmholtz 2-D: lap u + k^2 u = q on [-1, 1]^2, u = 0 on the boundary, with the exact solution
u = sin(a1 pi x) sin(a2 pi y) and q = (k^2 - (a1^2 + a2^2) pi^2) u (Kang et al. 2025, Table 1)."""

from __future__ import annotations

import math

import torch

from geomsci.pig.problems.base import Constraint, Problem, box_faces


class Helmholtz2D(Problem):
    """Helmholtz on [-1, 1]^2; ``a1, a2`` integer frequencies (1, 4) or (10, 10), wave number ``k``."""

    name = "helmholtz"
    order = 2
    second_dims = (0, 1)
    test_shape = (201, 201)

    def __init__(self, a1: float = 1.0, a2: float = 4.0, k: float = 1.0):
        if not all(math.isfinite(v) for v in (a1, a2, k)) or a1 == 0 or a2 == 0:
            raise ValueError(
                f"Helmholtz2D: a1, a2 must be finite and nonzero (a zero frequency makes the exact "
                f"solution identically 0) and k finite, got a1={a1}, a2={a2}, k={k}"
            )
        self.a1, self.a2, self.k = float(a1), float(a2), float(k)
        self.bounds = torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
        self.residual_scale = (self.a1**2 + self.a2**2) * math.pi**2
        if max(a1, a2) >= 10:
            self.test_shape = (401, 401)

    def solution(self, x):
        return torch.sin(self.a1 * math.pi * x[:, 0]) * torch.sin(self.a2 * math.pi * x[:, 1])

    def source(self, x):
        return (self.k**2 - (self.a1**2 + self.a2**2) * math.pi**2) * self.solution(x)

    def residual(self, jet, x):
        return jet.dd(0) + jet.dd(1) + self.k**2 * jet.u - self.source(x)

    def constraints(self, n, generator=None):
        xb = box_faces(self.bounds, n, (0, 1), generator)
        return [Constraint(xb, self.solution(xb), name="boundary")]
