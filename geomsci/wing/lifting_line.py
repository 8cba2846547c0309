"""Prandtl's lifting-line theory (Glauert's series solution): the reference lift slope of a wing.

With y = -(b/2) cos(theta) and the circulation Gamma(theta) = 2 b V sum_n A_n sin(n theta), the
monoplane equation at N collocation angles theta_i in (0, pi),

    sum_n A_n sin(n theta_i) (4 b / (a0 c(theta_i)) + n / sin(theta_i)) = alpha(theta_i),

is solved for A_1..A_N, and C_L = pi AR A_1. For an untwisted straight-tapered wing at unit alpha
this gives the lift slope dC_L/dalpha (per radian). Valid for unswept wings of moderate to large
aspect ratio; the section lift slope a0 defaults to thin-airfoil theory's 2 pi.
"""

from __future__ import annotations

import math

import torch


def lifting_line_slope(aspect_ratio: float, taper: float = 1.0, a0: float = 2 * math.pi, n_terms: int = 60) -> float:
    """Lift slope dC_L/dalpha (1/rad) of an untwisted, unswept, straight-tapered wing."""
    if not aspect_ratio > 0 or not 0 < taper <= 2:
        raise ValueError(f"lifting_line_slope: need aspect_ratio > 0 and 0 < taper <= 2, got {aspect_ratio}, {taper}")
    if not 0 < a0 < math.inf or n_terms < 1:
        raise ValueError(
            f"lifting_line_slope: need a section lift slope 0 < a0 < inf and n_terms >= 1, got a0={a0}, n_terms={n_terms}"
        )
    b = 1.0
    c_root = 2 * b / (aspect_ratio * (1 + taper))  # S = b c_r (1 + taper) / 2 = b^2 / AR
    theta = (torch.arange(1, n_terms + 1, dtype=torch.float64)) * math.pi / (n_terms + 1)  # (N,)
    c = c_root * (1 - (1 - taper) * torch.cos(theta).abs())
    n = torch.arange(1, n_terms + 1, dtype=torch.float64)
    A = torch.sin(n * theta[:, None]) * (4 * b / (a0 * c[:, None]) + n / torch.sin(theta[:, None]))
    coef = torch.linalg.solve(A, torch.ones(n_terms, dtype=torch.float64))
    return float(math.pi * aspect_ratio * coef[0])
