"""Fourth-order finite-difference derivative matrices on uniform 1-D grids.

Interior rows use the 5-point central stencils::

    f'  ~ (f[i-2] - 8 f[i-1] + 8 f[i+1] - f[i+2]) / (12 h)
    f'' ~ (-f[i-2] + 16 f[i-1] - 30 f[i] + 16 f[i+1] - f[i+2]) / (12 h^2)

The two rows at each end of a non-periodic axis use one-sided stencils of the same (fourth) order
(6 points for f''), so the truncation error is O(h^4) everywhere; on a periodic axis the central
stencil wraps around. Derivatives of a gridded surface are then matrix products along one axis,
differentiable in the grid values and running on whatever device the grid lives on.
"""

from __future__ import annotations

import torch

_C1 = [1.0, -8.0, 0.0, 8.0, -1.0]  # offsets -2..2, / 12 h
_C2 = [-1.0, 16.0, -30.0, 16.0, -1.0]  # / 12 h^2
_ONE_SIDED_1 = {0: [-25.0, 48.0, -36.0, 16.0, -3.0], 1: [-3.0, -10.0, 18.0, -6.0, 1.0]}  # / 12 h
_ONE_SIDED_2 = {0: [45.0, -154.0, 214.0, -156.0, 61.0, -10.0], 1: [10.0, -15.0, -4.0, 14.0, -6.0, 1.0]}  # / 12 h^2


def diff_matrix(n: int, h: float, order: int, periodic: bool = False, dtype=torch.float64, device=None) -> torch.Tensor:
    """Dense (n, n) matrix D with (D f)[i] ~ f^(order)(x_i) to fourth order; ``order`` is 1 or 2.

    Needs n >= 5 (periodic) or n >= 6 (one-sided ends). ``h`` is the grid spacing.
    """
    if order not in (1, 2):
        raise ValueError(f"diff_matrix: order must be 1 or 2, got {order}")
    need = 5 if periodic else 6
    if n < need:
        raise ValueError(f"diff_matrix: need at least {need} grid points along an axis, got n={n}")
    D = torch.zeros(n, n, dtype=torch.float64)
    central = _C1 if order == 1 else _C2
    for i in range(n):
        if periodic or 2 <= i < n - 2:
            for off, c in zip(range(-2, 3), central):
                D[i, (i + off) % n] += c
        else:
            side = _ONE_SIDED_1 if order == 1 else _ONE_SIDED_2
            k = i if i < 2 else n - 1 - i
            coef = side[k]
            for j, c in enumerate(coef):
                if i < 2:
                    D[i, j] = c
                else:  # mirror: f'(x) one-sided from the right flips sign for odd order
                    D[i, n - 1 - j] = c if order == 2 else -c
    D = D / (12.0 * h**order)
    return D.to(dtype=dtype, device=device)


def grid_derivatives(X: torch.Tensor, du: float, dv: float, periodic_u: bool = False, periodic_v: bool = False):
    """Partial derivatives of a gridded map X[i, j] = x(u_i, v_j).

    Parameters
    ----------
    X : tensor (nu, nv, C)
    du, dv : parameter spacings along axes 0 and 1
    periodic_u, periodic_v : whether an axis wraps around (then u_nu = u_0 + nu du, not stored)

    Returns
    -------
    (xu, xv, xuu, xuv, xvv), each (nu, nv, C), fourth-order accurate.
    """
    for name, h in (("du", du), ("dv", dv)):
        if not 0 < h < float("inf"):
            raise ValueError(f"grid_derivatives: {name} (parameter spacing) must be positive and finite, got {h}")
    nu, nv = X.shape[0], X.shape[1]
    kw = dict(dtype=X.dtype, device=X.device)
    Du1, Du2 = diff_matrix(nu, du, 1, periodic_u, **kw), diff_matrix(nu, du, 2, periodic_u, **kw)
    Dv1, Dv2 = diff_matrix(nv, dv, 1, periodic_v, **kw), diff_matrix(nv, dv, 2, periodic_v, **kw)
    xu = torch.einsum("ik,kjc->ijc", Du1, X)
    xv = torch.einsum("jk,ikc->ijc", Dv1, X)
    xuu = torch.einsum("ik,kjc->ijc", Du2, X)
    xvv = torch.einsum("jk,ikc->ijc", Dv2, X)
    xuv = torch.einsum("jk,ikc->ijc", Dv1, xu)
    return xu, xv, xuu, xuv, xvv
