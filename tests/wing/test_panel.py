"""The panel method against exact potential flow, lifting-line theory and aerosandbox's VLM."""

import math

import pytest
import torch

from geomsci.wing import Wing, lifting_line_slope, panel_to_points, solve_panels, wing_grid
from geomsci.wing.influence import triangle_potentials


def test_triangle_potentials_match_quadrature():
    tri = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0.3, 0.8, 0]]], dtype=torch.float64)
    n = 300
    a = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    A, B = torch.meshgrid(a, a, indexing="ij")
    m = (A + B) < 1
    A, B = A[m], B[m]
    v0, v1, v2 = tri[0]
    Q = v0 + A[:, None] * (v1 - v0) + B[:, None] * (v2 - v0)
    dA = torch.linalg.cross(v1 - v0, v2 - v0).norm() / (2 * len(A))
    P = torch.tensor([[0.3, 0.3, 0.5], [2.0, 1.0, -0.3], [1.5, 0.2, 0.0], [0.2, -0.4, 0.25]], dtype=torch.float64)
    I, om = triangle_potentials(tri, P)
    r = (Q[None] - P[:, None]).norm(dim=-1)  # (4, q)
    I_ref = (dA / r).sum(1)
    om_ref = (dA * (P[:, None, 2] - Q[None, :, 2]) / r**3).sum(1)  # normal +z: positive above
    assert torch.allclose(I[:, 0], I_ref, rtol=2e-3)
    assert torch.allclose(om[:, 0], om_ref, rtol=5e-3, atol=1e-5)


def _sphere_grid(n_theta, n_phi):
    th = torch.linspace(0, math.pi, n_theta + 1, dtype=torch.float64)
    ph = torch.arange(n_phi, dtype=torch.float64) * 2 * math.pi / n_phi
    T, P = torch.meshgrid(th, ph, indexing="ij")  # x_theta x x_phi points outward
    return torch.stack([torch.sin(T) * torch.cos(P), torch.sin(T) * torch.sin(P), torch.cos(T)], -1)


def _sphere_cp_error(n_theta, n_phi, pole_margin=0.35):
    sol = solve_panels(_sphere_grid(n_theta, n_phi), 0.0, wake=False, symmetric=False, periodic_v=True)
    c = sol.centres
    theta = torch.acos((c[..., 0] / c.norm(dim=-1)).clamp(-1, 1))  # angle to the flow (+x)
    exact = 1 - 9 / 4 * torch.sin(theta) ** 2
    polar = torch.acos(c[..., 2] / c.norm(dim=-1))
    keep = (polar > pole_margin) & (polar < math.pi - pole_margin)
    return (sol.cp[0] - exact)[keep].abs().max().item()


def test_sphere_cp_coarse():
    """Default-suite version: 16 x 32 panels, Cp within 0.025 of 1 - 9/4 sin^2(theta) (measured 0.020)."""
    assert _sphere_cp_error(16, 32) < 0.025


@pytest.mark.slow
def test_sphere_cp_within_one_percent_and_converges():
    """Cp = 1 - 9/4 sin^2(theta) within 0.01 (1 % of the freestream dynamic pressure) from 24 x 48
    latitude-longitude panels on, away from the poles (polar angle > 20 degrees); the error falls
    about like 1/n (measured 0.020, 0.009, 0.005 for n = 16, 24, 32)."""
    errs = [_sphere_cp_error(n, 2 * n) for n in (16, 24, 32)]
    print("\nsphere max |Cp error|:", errs)
    assert errs[1] < 0.01 and errs[2] < errs[1] < errs[0]


_CACHE = {}


def _lift_slope(wing, n_chord, n_span, mach=0.0):
    key = (wing, n_chord, n_span, mach)
    if key not in _CACHE:
        _CACHE[key] = _lift_slope_uncached(wing, n_chord, n_span, mach)
    return _CACHE[key]


def _lift_slope_uncached(wing, n_chord, n_span, mach=0.0):
    sol = solve_panels(wing_grid(wing, n_chord, n_span, 2), torch.tensor([0.0, 4.0]), mach, ref_area=wing.area)
    return ((sol.cl[1] - sol.cl[0]) / math.radians(4)).item()


RECT = Wing("naca0006", span=6.0, root_chord=1.0)  # aspect ratio 6, thin so that thin-wing theories apply


def test_lift_slope_matches_lifting_line():
    cla = _lift_slope(RECT, 20, 12)
    llt = lifting_line_slope(6.0)  # 4.530 / rad
    assert abs(cla / llt - 1) < 0.05, (cla, llt)


def test_lift_slope_matches_aerosandbox_vlm():
    asb = pytest.importorskip("aerosandbox")
    xsecs = [asb.WingXSec(xyz_le=[0, y, 0], chord=1.0, airfoil=asb.Airfoil("naca0006")) for y in (0.0, 3.0)]
    plane = asb.Airplane(wings=[asb.Wing(symmetric=True, xsecs=xsecs)], s_ref=6.0, c_ref=1.0, b_ref=6.0)
    cl = []
    for a in (0.0, 4.0):
        vlm = asb.VortexLatticeMethod(
            airplane=plane, op_point=asb.OperatingPoint(velocity=10.0, alpha=a), spanwise_resolution=12, chordwise_resolution=8
        )
        cl.append(float(vlm.run()["CL"]))
    vlm_slope = (cl[1] - cl[0]) / math.radians(4)
    assert abs(_lift_slope(RECT, 20, 12) / vlm_slope - 1) < 0.05


def test_prandtl_glauert_matches_compressible_lifting_line():
    """Goethert's rule in 3-D: the lift slope grows like lifting-line theory with a0 = 2 pi / beta."""
    ratio = _lift_slope(RECT, 12, 8, mach=0.6) / _lift_slope(RECT, 12, 8)
    beta = math.sqrt(1 - 0.36)
    ref = lifting_line_slope(6.0 * beta, a0=2 * math.pi) / beta / lifting_line_slope(6.0)
    assert abs(ratio / ref - 1) < 0.03, (ratio, ref)


def test_half_wing_with_image_equals_full_wing():
    w = Wing("naca2412", span=5.0, taper=0.6, sweep=15.0)
    X = wing_grid(w, 10, 6, 2)
    mirrored = (X * torch.tensor([1.0, -1.0, 1.0], dtype=X.dtype)).flip(1)[:, :-1]  # left half, tip -> root
    full = torch.cat([mirrored, X], 1)
    a = solve_panels(X, 5.0, ref_area=w.area)
    b = solve_panels(full, 5.0, symmetric=False, ref_area=w.area)
    assert abs(a.cl.item() / b.cl.item() - 1) < 0.01
    # the same Cp on the right half (panels away from the root strip)
    assert torch.allclose(a.cp[0, :, 1:], b.cp[0, :, mirrored.shape[1] + 1 :], atol=0.02)


def test_panel_solver_is_differentiable():
    X0 = wing_grid(Wing("naca0012", span=3.0), 4, 2, 1)

    def f(t):
        X = X0 * torch.stack([torch.ones_like(t), torch.ones_like(t), 1 + t])  # thicken the wing
        sol = solve_panels(X, 3.0, wake_length=10.0)
        return torch.cat([sol.cp.reshape(-1)[:5], sol.cl])

    assert torch.autograd.gradcheck(f, (torch.tensor(0.1, dtype=torch.float64, requires_grad=True),))


def test_panel_to_points_and_bad_input():
    v = torch.arange(12.0).reshape(3, 4)
    p = panel_to_points(v)
    assert p.shape == (4, 5) and p[0, 0] == v[0, 0] and p[1, 1] == v[:2, :2].mean()
    with pytest.raises(ValueError, match="mach"):
        solve_panels(wing_grid(RECT, 4, 2), 0.0, mach=1.2)
    with pytest.raises(ValueError, match="shape"):
        solve_panels(torch.zeros(3, 3), 0.0)


@pytest.mark.gpu
def test_panel_solver_cuda_matches_cpu():
    X = wing_grid(Wing("naca2412", span=6.0, taper=0.5), 12, 8)
    a = solve_panels(X, [2.0, 6.0], 0.3)
    b = solve_panels(X.cuda(), [2.0, 6.0], 0.3)
    assert b.cp.is_cuda and torch.allclose(a.cp, b.cp.cpu(), atol=1e-8)


def test_default_reference_area_is_the_full_planform():
    w = Wing("naca0012", span=4.0, taper=0.5)
    X = wing_grid(w, 6, 3, 1)
    a = solve_panels(X, 4.0).cl
    b = solve_panels(X, 4.0, ref_area=w.area).cl
    assert abs(a.item() / b.item() - 1) < 0.05  # the rounded tip cap adds a little projected area


@pytest.mark.parametrize(
    "change, err, match",
    [
        (dict(alpha=math.nan), ValueError, "alpha must be finite"),
        (dict(alpha=torch.zeros(2, 2)), ValueError, "shape \\(A,\\)"),
        (dict(alpha="5"), TypeError, "alpha must be a number"),
        (dict(ref_area=0.0), ValueError, "ref_area must be positive"),
        (dict(wake_length=0.0), ValueError, "wake_length must be positive"),
        (dict(X=lambda X: X * math.nan), ValueError, "NaN or inf"),
        (dict(X=lambda X: X.long()), TypeError, "floating-point"),
        (dict(X=lambda X: X[:, :1].expand(-1, 3, -1)), ValueError, "zero area"),  # repeated span stations
    ],
)
def test_solve_panels_bad_input_is_named(change, err, match):
    kw, change = dict(X=wing_grid(RECT, 4, 2), alpha=2.0), dict(change)
    if "X" in change:
        kw["X"] = change.pop("X")(kw["X"])
    kw.update(change)
    with pytest.raises(err, match=match):
        solve_panels(kw.pop("X"), kw.pop("alpha"), **kw)


def test_panel_to_points_and_lifting_line_bad_input():
    with pytest.raises(ValueError, match="values must have shape"):
        panel_to_points(torch.zeros(5))
    with pytest.raises(ValueError, match="n_terms >= 1"):
        lifting_line_slope(6.0, n_terms=0)
    with pytest.raises(ValueError, match="0 < a0"):
        lifting_line_slope(6.0, a0=0.0)
