"""A 3-D low-order panel method (Katz & Plotkin, *Low-Speed Aerodynamics*, ch. 12) in torch.

Unknowns and boundary condition (Dirichlet, internal perturbation potential zero): on each body
panel j a constant source sigma_j = -n_j . V_inf (the jump in normal velocity that cancels the
freestream's through the surface) and a constant doublet mu_j (= the outer perturbation potential
phi on the surface); at each panel centre i, just inside the body::

    sum_j D_ij mu_j + sum_w D_iw mu_w + sum_j S_ij sigma_j = 0,      D_ii = -1/2

with D, S the unit doublet and source potentials (:mod:`geomsci.wing.influence`). A flat wake of
doublet panels leaves each spanwise strip's trailing edge along +x; the Kutta condition sets its
strength to mu_w = mu_upper - mu_lower of the two trailing-edge panels of that strip. The right
half wing is solved with its mirror image (flow symmetric in y). Surface velocity is the
freestream's tangential part plus the surface gradient of mu (finite differences between panel
centres in the grid's two directions); Cp = 1 - |V|^2 / |V_inf|^2.

Compressibility by the Prandtl-Glauert (Goethert) rule: the geometry's y and z are scaled by
beta = sqrt(1 - M^2), slopes (so the angle of attack) too, the incompressible problem is solved
and Cp = Cp_inc / beta^2. Everything is differentiable (torch.linalg.solve) and follows the
device and dtype of the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from geomsci.wing.influence import panel_influence


def panel_corners(X: torch.Tensor, periodic_v: bool = False) -> torch.Tensor:
    """Quad panels of a grid X (nu, nv, 3): corners (nu - 1, nv - 1 [or nv if periodic_v], 4, 3).

    Corner order (i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1), so the normal is along x_u x x_v.
    """
    if periodic_v:
        X = torch.cat([X, X[:, :1]], 1)
    return torch.stack([X[:-1, :-1], X[1:, :-1], X[1:, 1:], X[:-1, 1:]], 2)


def panel_frames(corners: torch.Tensor):
    """Centres (…, 3), unit normals (…, 3) and areas (…,) of quad panels (…, 4, 3)."""
    centre = corners.mean(-2)
    cross = torch.linalg.cross(corners[..., 2, :] - corners[..., 0, :], corners[..., 3, :] - corners[..., 1, :], dim=-1)
    norm = cross.norm(dim=-1)
    return centre, cross / norm.clamp_min(torch.finfo(norm.dtype).tiny).unsqueeze(-1), norm / 2


_MIRROR = torch.tensor([1.0, -1.0, 1.0])


def _mirror(corners: torch.Tensor) -> torch.Tensor:
    """Reflect panels in y = 0 and reverse their corner order so the normals stay outward."""
    return (corners * _MIRROR.to(corners)).flip(-2)


@dataclass
class PanelSolution:
    """Result of :func:`solve_panels` for A angles of attack on a grid of (nu - 1) x nv' panels.

    cp : (A, nu - 1, nv') pressure coefficient per panel; mu : (A, nu - 1, nv') doublet strengths;
    sigma : (A, nu - 1, nv') source strengths; centres, normals (nu - 1, nv', 3), areas (nu - 1, nv');
    wake : (A, nv') wake doublet (= circulation per unit speed) of each spanwise strip, or None;
    cl : (A,) lift coefficient by pressure integration (reference area: the panelled surface's
    projected area unless given).
    """

    cp: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    centres: torch.Tensor
    normals: torch.Tensor
    areas: torch.Tensor
    wake: torch.Tensor | None
    cl: torch.Tensor


def _surface_gradient(mu, centres, periodic_v: bool, symmetric: bool):
    """Tangential gradient of mu (A, Pu, Pv) from differences between panel centres (Pu, Pv, 3)."""

    def diff(t, axis, periodic, mirror_start):
        n = t.shape[axis]
        if periodic:
            return t.roll(-1, axis) - t.roll(1, axis)
        idx = torch.arange(n, device=t.device)
        hi, lo = (idx + 1).clamp_max(n - 1), (idx - 1).clamp_min(0)
        fwd = t.index_select(axis, hi)
        back = t.index_select(axis, lo)
        if mirror_start is not None:  # the root strip's neighbour is its own mirror image
            back = back.clone()
            sl = [slice(None)] * t.dim()
            sl[axis] = 0
            back[tuple(sl)] = mirror_start(t.select(axis, 0))
        return fwd - back

    mirror_c = (lambda c: c * _MIRROR.to(c)) if symmetric else None
    mirror_mu = (lambda m: m) if symmetric else None
    e1 = diff(centres, 0, False, None)  # (Pu, Pv, 3)
    e2 = diff(centres, 1, periodic_v, mirror_c)
    d1 = diff(mu, 1, False, None)  # mu is (A, Pu, Pv): u is axis 1
    d2 = diff(mu, 2, periodic_v, mirror_mu)
    g11, g12, g22 = (e1 * e1).sum(-1), (e1 * e2).sum(-1), (e2 * e2).sum(-1)
    det = g11 * g22 - g12 * g12
    a = (g22 * d1 - g12 * d2) / det  # g = a e1 + b e2 with g.e1 = d1, g.e2 = d2
    b = (-g12 * d1 + g11 * d2) / det
    return a.unsqueeze(-1) * e1 + b.unsqueeze(-1) * e2  # (A, Pu, Pv, 3)


def solve_panels(
    X: torch.Tensor,
    alpha,
    mach: float = 0.0,
    *,
    wake: bool = True,
    symmetric: bool = True,
    periodic_v: bool = False,
    wake_length: float = 50.0,
    ref_area: float | None = None,
) -> PanelSolution:
    """Solve potential flow around the closed surface grid X at angles of attack ``alpha`` (degrees).

    Parameters
    ----------
    X : tensor (nu, nv, 3)
        Surface grid, normal x_u x x_v outward. For a wing (:func:`geomsci.wing.wing_grid`) row 0
        and row nu - 1 are the lower and upper trailing edge, column 0 the root on y = 0.
    alpha : float or tensor (A,)
        Angles of attack in degrees; the freestream is (cos a, 0, sin a). One matrix serves all.
    mach : freestream Mach number in [0, 0.95) for the Prandtl-Glauert correction.
    wake : shed a wake from the trailing edge (False for non-lifting bodies such as a sphere).
    symmetric : add the mirror image in y = 0 (a half wing); periodic_v : the v axis wraps around.
    wake_length : length of the flat wake along +x (in the grid's units).
    ref_area : reference area for ``cl`` (of the full wing when ``symmetric``); default: the
        x-y projected area of the panels (doubled when symmetric).
    """
    if not isinstance(X, torch.Tensor) or not X.is_floating_point():
        what = X.dtype if isinstance(X, torch.Tensor) else type(X).__name__
        raise TypeError(f"solve_panels: X must be a floating-point torch tensor (nu, nv, 3), got {what}")
    if X.dim() != 3 or X.shape[-1] != 3 or X.shape[0] < 3 or X.shape[1] < 2:
        raise ValueError(f"solve_panels: X must have shape (nu >= 3, nv >= 2, 3), got {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("solve_panels: X contains NaN or inf grid points")
    if not 0.0 <= mach < 0.95:
        raise ValueError(f"solve_panels: mach must be in [0, 0.95), got {mach}")
    for name, v in (("wake_length", wake_length), ("ref_area", ref_area)):
        if v is not None and not 0 < v < math.inf:
            raise ValueError(f"solve_panels: {name} must be positive and finite, got {v}")
    try:
        alpha = torch.as_tensor(alpha, dtype=X.dtype, device=X.device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"solve_panels: alpha must be a number or a 1-D sequence of angles in degrees, got {alpha!r}") from e
    if alpha.dim() > 1 or not bool(torch.isfinite(alpha).all()):
        raise ValueError(f"solve_panels: alpha must be finite angles in degrees, a number or shape (A,), got {alpha.tolist()}")
    alpha = alpha.reshape(-1)  # (A,)
    beta = math.sqrt(1.0 - mach**2)
    scale = torch.tensor([1.0, beta, beta], dtype=X.dtype, device=X.device)
    Xc = X * scale  # Goethert-transformed geometry
    a_rad = torch.deg2rad(alpha)
    vinf = torch.stack([torch.cos(a_rad), torch.zeros_like(a_rad), beta * torch.sin(a_rad)], -1)  # (A, 3)
    vinf = vinf / vinf.norm(dim=-1, keepdim=True)

    corners = panel_corners(Xc, periodic_v)  # (Pu, Pv, 4, 3)
    Pu, Pv = corners.shape[:2]
    flat = corners.reshape(-1, 4, 3)
    centres, normals, areas = panel_frames(corners)
    extent2 = ((Xc.amax((0, 1)) - Xc.amin((0, 1))) ** 2).sum()  # squared bounding-box diagonal
    flat_panels = areas <= 16 * torch.finfo(areas.dtype).eps * extent2  # zero area up to round-off: corners on a line
    if bool(flat_panels.any()):
        i, j = (int(k) for k in flat_panels.nonzero()[0])
        raise ValueError(
            f"solve_panels: {int(flat_panels.sum())} of {flat_panels.numel()} panels have zero area "
            f"(coincident or collinear grid points, first at panel ({i}, {j}), i.e. X[{i}:{i + 2}, {j}:{j + 2}]); "
            "remove repeated grid rows/columns or fix the geometry"
        )
    pts = centres.reshape(-1, 3)
    S, D = panel_influence(flat, pts)  # (P, P)
    if symmetric:
        S2, D2 = panel_influence(_mirror(flat), pts)
        S, D = S + S2, D + D2
    n_p = Pu * Pv
    eye = torch.eye(n_p, dtype=X.dtype, device=X.device, requires_grad=False)
    D = D * (1 - eye) - 0.5 * eye  # collocation just inside each panel's centre
    if wake:
        te = (Xc[0] + Xc[-1]) / 2  # (nv, 3) trailing-edge line
        if periodic_v:
            te = torch.cat([te, te[:1]], 0)
        far = te + wake_length * torch.tensor([1.0, 0.0, 0.0], dtype=X.dtype, device=X.device)
        wake_c = torch.stack([te[:-1], far[:-1], far[1:], te[1:]], 1)  # (Pv, 4, 3), normal up
        _, W = panel_influence(wake_c, pts)  # (P, Pv)
        if symmetric:
            _, W2 = panel_influence(_mirror(wake_c), pts)
            W = W + W2
        # Kutta: mu_w[j] = mu[Pu - 1, j] - mu[0, j]
        D = D.reshape(n_p, Pu, Pv)
        D[:, -1, :] = D[:, -1, :] + W
        D[:, 0, :] = D[:, 0, :] - W
        D = D.reshape(n_p, n_p)
    sigma = -(normals.reshape(1, -1, 3) * vinf[:, None, :]).sum(-1)  # (A, P)
    rhs = -(S @ sigma.T)  # (P, A)
    mu = torch.linalg.solve(D, rhs).T.reshape(-1, Pu, Pv)  # (A, Pu, Pv)
    grad = _surface_gradient(mu, centres, periodic_v, symmetric)  # (A, Pu, Pv, 3)
    vn = (vinf[:, None, None, :] * normals).sum(-1, keepdim=True)
    vel = vinf[:, None, None, :] - vn * normals + grad
    cp = (1 - (vel * vel).sum(-1)) / beta**2  # (A, Pu, Pv)
    # forces on the real (untransformed) geometry
    c_real, n_real, a_real = panel_frames(panel_corners(X, periodic_v))
    force = -(cp.unsqueeze(-1) * (n_real * a_real.unsqueeze(-1))).sum((1, 2))  # (A, 3) / q_inf
    lift_dir = torch.stack([-torch.sin(a_rad), torch.zeros_like(a_rad), torch.cos(a_rad)], -1)
    mult = 2.0 if symmetric else 1.0
    if ref_area is None:  # projected area of the closed body (both sides counted, so halve), mirrored
        ref_area = mult * (a_real * n_real[..., 2].abs()).sum() / 2
    cl = mult * (force * lift_dir).sum(-1) / ref_area
    wake_mu = (mu[:, -1, :] - mu[:, 0, :]) if wake else None
    return PanelSolution(
        cp=cp, mu=mu, sigma=sigma.reshape(-1, Pu, Pv), centres=centres / scale, normals=n_real, areas=a_real, wake=wake_mu, cl=cl
    )


def panel_to_points(values: torch.Tensor, periodic_v: bool = False) -> torch.Tensor:
    """Average per-panel values (..., nu - 1, nv') to the grid points (..., nu, nv).

    Each grid point takes the mean of the (up to four) panels around it in index space, so the
    upper and lower trailing-edge rows stay distinct.
    """
    if values.dim() < 2:
        raise ValueError(f"panel_to_points: values must have shape (..., nu - 1, nv'), got {tuple(values.shape)}")
    v = values
    if periodic_v:
        v = torch.cat([v[..., -1:], v, v[..., :1]], -1)  # wrap
        out = (v[..., :-1] + v[..., 1:]) / 2  # (..., Pu, nv + 1)
        out = out[..., :-1]
    else:
        pad = torch.cat([v[..., :1], v, v[..., -1:]], -1)
        out = (pad[..., :-1] + pad[..., 1:]) / 2  # (..., Pu, nv)
    pad = torch.cat([out[..., :1, :], out, out[..., -1:, :]], -2)
    return (pad[..., :-1, :] + pad[..., 1:, :]) / 2  # (..., nu, nv)
