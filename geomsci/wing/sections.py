"""Airfoil sections: NACA 4-digit, NACA 5-digit and CST (Kulfan) shapes as torch tensors.

Every section is sampled on the same chord stations ``x`` (cosine spacing, LE at x = 0, TE at
x = 1) and returned as ``(upper, lower)``, each (n, 2) points (x, z) in chord units, where row k of
``upper`` and row k of ``lower`` belong to the same station, so their midpoint is the camber line
(used to close wing tips). Trailing edges are closed (NACA uses the -0.1036 x^4 coefficient).
"""

from __future__ import annotations

import math

import torch

# NACA 5-digit mean lines (Abbott & von Doenhoff), tabulated for a design C_L of 0.3:
# position digit P -> (m, k1) for standard lines, (m, k1, k2/k1) for reflexed ones.
_NACA5_STD = {1: (0.0580, 361.400), 2: (0.1260, 51.640), 3: (0.2025, 15.957), 4: (0.2900, 6.643), 5: (0.3910, 3.230)}
_NACA5_REFLEX = {
    2: (0.1300, 51.990, 0.000764),
    3: (0.2170, 15.793, 0.00677),
    4: (0.3180, 6.520, 0.0303),
    5: (0.4410, 3.191, 0.1355),
}


def cosine_stations(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """(n + 1,) chord stations x_k = (1 - cos(pi k / n)) / 2: dense at the leading and trailing edges."""
    if n < 2:
        raise ValueError(f"cosine_stations: need n >= 2 panels along the chord, got {n}")
    k = torch.arange(n + 1, dtype=dtype, device=device)
    return (1 - torch.cos(math.pi * k / n)) / 2


def naca_thickness(x: torch.Tensor, t: float) -> torch.Tensor:
    """Half-thickness of a NACA 4/5-digit section of thickness ratio t (closed trailing edge)."""
    return 5 * t * (0.2969 * x.clamp_min(0).sqrt() - 0.1260 * x - 0.3516 * x**2 + 0.2843 * x**3 - 0.1036 * x**4)


def _apply_thickness(x, yc, dyc, yt):
    theta = torch.atan(dyc)
    upper = torch.stack([x - yt * torch.sin(theta), yc + yt * torch.cos(theta)], -1)
    lower = torch.stack([x + yt * torch.sin(theta), yc - yt * torch.cos(theta)], -1)
    return upper, lower


def naca4(code: str, x: torch.Tensor):
    """NACA MPXX section: max camber M % at P/10 chord, thickness XX %. Returns (upper, lower) (n, 2)."""
    if len(code) != 4 or not code.isdigit():
        raise ValueError(f"naca4: code must be 4 digits like '2412', got {code!r}")
    m, p, t = int(code[0]) / 100, int(code[1]) / 10, int(code[2:]) / 100
    if t == 0:
        raise ValueError(
            f"naca4: code {code!r} has zero thickness (last two digits 00); a closed surface needs thickness > 0, e.g. '0012'"
        )
    if m > 0 and p == 0:
        raise ValueError(f"naca4: cambered code {code!r} needs a camber position digit > 0")
    if m == 0:
        yc, dyc = torch.zeros_like(x), torch.zeros_like(x)
    else:
        front = x < p
        yc = torch.where(front, m / p**2 * (2 * p * x - x**2), m / (1 - p) ** 2 * (1 - 2 * p + 2 * p * x - x**2))
        dyc = torch.where(front, 2 * m / p**2 * (p - x), 2 * m / (1 - p) ** 2 * (p - x))
    return _apply_thickness(x, yc, dyc, naca_thickness(x, t))


def naca5(code: str, x: torch.Tensor):
    """NACA LPTXX section: design C_L = 0.15 L, camber position P/20, T = 1 for a reflexed mean line."""
    if len(code) != 5 or not code.isdigit():
        raise ValueError(f"naca5: code must be 5 digits like '23012', got {code!r}")
    cl, pos, reflex, t = 0.15 * int(code[0]), int(code[1]), int(code[2]), int(code[3:]) / 100
    if t == 0:
        raise ValueError(
            f"naca5: code {code!r} has zero thickness (last two digits 00); a closed surface needs thickness > 0, e.g. '23012'"
        )
    table = _NACA5_REFLEX if reflex else _NACA5_STD
    if reflex not in (0, 1) or pos not in table:
        raise ValueError(f"naca5: no mean line for code {code!r} (P must be in {sorted(table)}, T in 0/1)")
    scale = cl / 0.3
    if not reflex:
        m, k1 = table[pos]
        k1 = k1 * scale
        front = x < m
        yc = torch.where(front, k1 / 6 * (x**3 - 3 * m * x**2 + m**2 * (3 - m) * x), k1 * m**3 / 6 * (1 - x))
        dyc = torch.where(front, k1 / 6 * (3 * x**2 - 6 * m * x + m**2 * (3 - m)), torch.full_like(x, -k1 * m**3 / 6))
    else:
        m, k1, r = table[pos]
        k1 = k1 * scale
        front = x < m
        yc = torch.where(
            front,
            k1 / 6 * ((x - m) ** 3 - r * (1 - m) ** 3 * x - m**3 * x + m**3),
            k1 / 6 * (r * (x - m) ** 3 - r * (1 - m) ** 3 * x - m**3 * x + m**3),
        )
        dyc = torch.where(
            front,
            k1 / 6 * (3 * (x - m) ** 2 - r * (1 - m) ** 3 - m**3),
            k1 / 6 * (3 * r * (x - m) ** 2 - r * (1 - m) ** 3 - m**3),
        )
    return _apply_thickness(x, yc, dyc, naca_thickness(x, t))


def cst(upper_weights, lower_weights, x: torch.Tensor, te_thickness: float = 0.0, n1: float = 0.5, n2: float = 1.0):
    """Kulfan CST section: z(x) = x^n1 (1 - x)^n2 sum_i A_i C(n, i) x^i (1 - x)^(n - i) +- x dz_te / 2.

    ``upper_weights`` / ``lower_weights`` (sequences or tensors, length n + 1; lower ones are
    usually negative) may require grad: the section is differentiable in them.
    """
    au = torch.as_tensor(upper_weights, dtype=x.dtype, device=x.device)
    al = torch.as_tensor(lower_weights, dtype=x.dtype, device=x.device)
    if au.dim() != 1 or au.shape != al.shape or au.numel() < 1:
        raise ValueError(f"cst: weights must be 1-D of equal length, got {tuple(au.shape)} and {tuple(al.shape)}")
    if not bool(torch.isfinite(au).all() & torch.isfinite(al).all()):
        raise ValueError(f"cst: weights must be finite, got upper {au.tolist()} and lower {al.tolist()}")
    n = au.numel() - 1
    i = torch.arange(n + 1, dtype=x.dtype, device=x.device)
    binom = torch.exp(torch.lgamma(torch.tensor(n + 1.0, dtype=x.dtype)) - torch.lgamma(i + 1) - torch.lgamma(n - i + 1))
    xc = x.clamp(0, 1).unsqueeze(-1)
    bern = binom * xc**i * (1 - xc) ** (n - i)  # (n_x, n + 1)
    cls = x.clamp_min(0) ** n1 * (1 - x).clamp_min(0) ** n2
    zu = cls * (bern @ au) + x * te_thickness / 2
    zl = cls * (bern @ al) - x * te_thickness / 2
    return torch.stack([x, zu], -1), torch.stack([x, zl], -1)


def section(spec, x: torch.Tensor):
    """Dispatch on a section spec: ``"naca2412"``, ``"naca23012"`` or ``("cst", upper, lower)``."""
    if isinstance(spec, str) and spec.lower().startswith("naca"):
        code = spec[4:]
        if len(code) == 4:
            return naca4(code, x)
        if len(code) == 5:
            return naca5(code, x)
        raise ValueError(f"section: NACA spec must have 4 or 5 digits, got {spec!r}")
    if isinstance(spec, (tuple, list)) and len(spec) >= 3 and spec[0] == "cst":
        return cst(spec[1], spec[2], x, *spec[3:])
    raise ValueError(f"section: expected 'nacaXXXX', 'nacaXXXXX' or ('cst', upper, lower), got {spec!r}")
