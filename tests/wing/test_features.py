"""Riemannian features against analytic surfaces.

Autograd features are exact up to round-off (1e-10). Finite differences are fourth order and the
cubic tangent-frame fits on meshes second order, so halving h must divide the error by about 16
and 4 (we accept observed orders > 3.5 and > 1.6).
"""

import math

import pytest
import torch

from geomsci.core.mesh import Mesh
from geomsci.wing import grid_features, grid_to_mesh, mesh_features, riemannian_features

R_T, r_T = 2.0, 0.7  # torus radii


def sphere(uv, R=1.5):  # u = azimuth, v = polar angle; x_u x x_v points inward
    u, v = uv[:, 0], uv[:, 1]
    return R * torch.stack([torch.sin(v) * torch.cos(u), torch.sin(v) * torch.sin(u), torch.cos(v)], -1)


def torus(uv):
    u, v = uv[:, 0], uv[:, 1]
    rho = R_T + r_T * torch.cos(v)
    return torch.stack([rho * torch.cos(u), rho * torch.sin(u), r_T * torch.sin(v)], -1)


def cylinder(uv, r=0.8):
    u, v = uv[:, 0], uv[:, 1]
    return torch.stack([r * torch.cos(u), r * torch.sin(u), v], -1)


def plane(uv):
    u, v = uv[:, 0], uv[:, 1]
    return torch.stack([u + 0.5 * v, 2 * v, 0.3 * u], -1)


def saddle(uv):
    u, v = uv[:, 0], uv[:, 1]
    return torch.stack([u, v, u * v], -1)


def exact(name, uv):
    """Analytic E, F, G, Christoffel symbols, K, H (H for the normal x_u x x_v, positive where the surface bends
    away from it: docs/conventions.md)."""
    u, v = uv[:, 0], uv[:, 1]
    z = torch.zeros_like(u)
    if name == "sphere":
        R = 1.5
        return dict(
            E=R**2 * torch.sin(v) ** 2,
            F=z,
            G=z + R**2,
            Gamma1_11=z,
            Gamma1_12=torch.cos(v) / torch.sin(v),
            Gamma1_22=z,
            Gamma2_11=-torch.sin(v) * torch.cos(v),
            Gamma2_12=z,
            Gamma2_22=z,
            K=z + 1 / R**2,
            H=z - 1 / R,
        )  # inward normal: H = -1/R
    if name == "torus":
        rho = R_T + r_T * torch.cos(v)
        return dict(
            E=rho**2,
            F=z,
            G=z + r_T**2,
            Gamma1_11=z,
            Gamma1_12=-r_T * torch.sin(v) / rho,
            Gamma1_22=z,
            Gamma2_11=rho * torch.sin(v) / r_T,
            Gamma2_12=z,
            Gamma2_22=z,
            K=torch.cos(v) / (r_T * rho),
            H=(R_T + 2 * r_T * torch.cos(v)) / (2 * r_T * rho),
        )
    if name == "cylinder":
        r = 0.8
        return dict(
            E=z + r**2, F=z, G=z + 1, K=z, H=z + 1 / (2 * r), **{f"Gamma{k}_{ij}": z for k in (1, 2) for ij in ("11", "12", "22")}
        )
    if name == "plane":
        return dict(
            E=z + 1.09, F=z + 0.5, G=z + 4.25, K=z, H=z, **{f"Gamma{k}_{ij}": z for k in (1, 2) for ij in ("11", "12", "22")}
        )
    if name == "saddle":
        det = 1 + u**2 + v**2
        return dict(
            E=1 + v**2,
            F=u * v,
            G=1 + u**2,
            Gamma1_11=z,
            Gamma1_12=v / det,
            Gamma1_22=z,
            Gamma2_11=z,
            Gamma2_12=u / det,
            Gamma2_22=z,
            K=-1 / det**2,
            H=u * v / det**1.5,
        )
    raise KeyError(name)


SURFACES = {"sphere": sphere, "torus": torus, "cylinder": cylinder, "plane": plane, "saddle": saddle}


@pytest.mark.parametrize("name", list(SURFACES))
def test_autograd_features_match_analytic(name):
    g = torch.Generator().manual_seed(0)
    uv = torch.rand(200, 2, generator=g, dtype=torch.float64) * 2 - 1
    if name == "sphere":
        uv[:, 1] = 0.3 + (math.pi - 0.6) * (uv[:, 1] + 1) / 2  # away from the poles
    mesh = riemannian_features(SURFACES[name], uv)
    ref = exact(name, uv)
    for key, val in ref.items():
        assert torch.allclose(mesh.point_data[key], val, atol=1e-10, rtol=0), key
    pd = mesh.point_data
    assert torch.allclose(pd["det_g"], pd["E"] * pd["G"] - pd["F"] ** 2, atol=1e-12)
    # inverse metric times metric is the identity
    assert torch.allclose(pd["g11_inv"] * pd["E"] + pd["g12_inv"] * pd["F"], torch.ones_like(pd["E"]), atol=1e-10)
    assert torch.allclose(pd["k1"] * pd["k2"], pd["K"], atol=1e-10)
    assert torch.allclose((pd["k1"] + pd["k2"]) / 2, pd["H"], atol=1e-10)


def test_autograd_features_are_differentiable():
    """create_graph features are twice differentiable in the surface's parameters (gradcheck, float64)."""
    from geomsci.wing.features import parametric_features

    uv = torch.tensor([[0.3, 0.8], [1.1, -0.4]], dtype=torch.float64)

    def k_of_radius(rr):
        f = lambda p: torch.stack(
            [
                (2 + rr * torch.cos(p[:, 1])) * torch.cos(p[:, 0]),
                (2 + rr * torch.cos(p[:, 1])) * torch.sin(p[:, 0]),
                rr * torch.sin(p[:, 1]),
            ],
            -1,
        )
        return parametric_features(f, uv, create_graph=True).point_data["K"]

    assert torch.autograd.gradcheck(k_of_radius, (torch.tensor(0.7, dtype=torch.float64, requires_grad=True),))


def _grid(fn, n, u_range, v_range, periodic_u=False, periodic_v=False):
    def axis(rng, per):
        a, b = rng
        return torch.arange(n, dtype=torch.float64) * (b - a) / n + a if per else torch.linspace(a, b, n, dtype=torch.float64)

    U, V = torch.meshgrid(axis(u_range, periodic_u), axis(v_range, periodic_v), indexing="ij")
    uv = torch.stack([U, V], -1).reshape(-1, 2)
    X = fn(uv).reshape(n, n, 3)
    du = (u_range[1] - u_range[0]) / (n if periodic_u else n - 1)
    dv = (v_range[1] - v_range[0]) / (n if periodic_v else n - 1)
    return X, uv, du, dv


FD_CASES = {  # fn, u-range, v-range, periodic u, periodic v
    "sphere": (sphere, (0, 2 * math.pi), (0.4, math.pi - 0.4), True, False),
    "torus": (torus, (0, 2 * math.pi), (0, 2 * math.pi), True, True),
    "cylinder": (cylinder, (0, 2 * math.pi), (-1, 1), True, False),
    "saddle": (
        lambda uv: torch.stack([uv[:, 0], uv[:, 1], torch.sin(uv[:, 0]) * torch.sinh(uv[:, 1])], -1),
        (-1, 1),
        (-1, 1),
        False,
        False,
    ),
}


def _fd_errors(name, n):
    fn, ur, vr, pu, pv = FD_CASES[name]
    X, uv, du, dv = _grid(fn, n, ur, vr, pu, pv)
    feats = grid_features(X, pu, pv, du=du, dv=dv).point_data
    ref = parametric_features_ref(fn, uv)
    return {k: (feats[k] - ref[k]).abs().max().item() for k in ("K", "H", "Gamma1_12", "E")}


def parametric_features_ref(fn, uv):
    return riemannian_features(fn, uv).point_data


def _assert_converges(label, errors, name, ns, min_order, round_off):
    """K and H errors, from ``errors(name, n)`` on the doubling sizes ``ns``, fall at ``min_order`` or faster
    between the two finest sizes (a key already below ``round_off`` there is exact and skipped)."""
    errs = [errors(name, n) for n in ns]
    print(f"\n{label}: " + "  ".join(f"n={n} K {e['K']:.2e} H {e['H']:.2e}" for n, e in zip(ns, errs)))
    for key in ("K", "H"):
        e1, e2 = errs[1][key], errs[2][key]
        if e2 < round_off:
            continue
        assert math.log2(e1 / e2) > min_order, (key, errs)


@pytest.mark.parametrize("name", list(FD_CASES))
def test_finite_difference_features_converge_fourth_order(name):
    _assert_converges(f"FD {name}", _fd_errors, name, (16, 32, 64), min_order=3.5, round_off=1e-11)  # cylinder K is exact


def test_finite_differences_exact_on_plane_and_quadric_saddle():
    for fn in (plane, saddle):
        X, uv, du, dv = _grid(fn, 12, (-1, 1), (-0.5, 1.5))
        feats = grid_features(X, du=du, dv=dv).point_data
        for key, val in exact("plane" if fn is plane else "saddle", uv).items():
            assert torch.allclose(feats[key], val, atol=1e-10), key


MESH_CASES = {
    "torus": (torus, (0, 2 * math.pi), (0, 2 * math.pi), True, True),
    "cylinder": (cylinder, (0, 2 * math.pi), (-1, 1), True, False),
    "sphere": (sphere, (0, 2 * math.pi), (0.4, math.pi - 0.4), True, False),
    "saddle": (saddle, (-1, 1), (-1, 1), False, False),
}


def _mesh_errors(name, n):
    fn, ur, vr, pu, pv = MESH_CASES[name]
    X, uv, du, dv = _grid(fn, n, ur, vr, pu, pv)
    mesh = grid_to_mesh(X, pu, pv)
    del mesh.point_data["ij"]  # force the unstructured path
    mesh.point_data["uv"] = uv
    feats = mesh_features(mesh).point_data
    ref = riemannian_features(fn, uv).point_data
    # interior vertices only on open patches (the fit is one-sided at a boundary)
    i = torch.arange(n).reshape(n, 1).expand(n, n).reshape(-1)
    j = torch.arange(n).reshape(1, n).expand(n, n).reshape(-1)
    keep = torch.ones(n * n, dtype=torch.bool)
    if not pu:
        keep &= (i >= n // 8) & (i < n - n // 8)
    if not pv:
        keep &= (j >= n // 8) & (j < n - n // 8)
    return {k: (feats[k] - ref[k])[keep].abs().max().item() for k in ("K", "H", "E", "Gamma2_11")}


@pytest.mark.parametrize("name", list(MESH_CASES))
def test_mesh_fit_features_converge_second_order(name):
    _assert_converges(f"mesh {name}", _mesh_errors, name, (12, 24, 48), min_order=1.6, round_off=1e-9)


def test_mesh_without_uv_has_curvature_only_and_bad_input_raises():
    X, uv, _, _ = _grid(torus, 12, (0, 2 * math.pi), (0, 2 * math.pi), True, True)
    m = grid_to_mesh(X, True, True)
    plain = Mesh(m.points, m.cells, "triangle")
    out = riemannian_features(plain)
    assert "K" in out.point_data and "E" not in out.point_data
    with pytest.raises(ValueError, match="uv"):
        riemannian_features(torus)
    with pytest.raises(ValueError, match="shape"):
        grid_features(torch.zeros(5, 5))
    with pytest.raises(ValueError, match="degree"):
        mesh_features(plain, degree=5)


def test_grid_mesh_dispatch_matches_grid_features():
    X, uv, du, dv = _grid(torus, 16, (0, 2 * math.pi), (0, 2 * math.pi), True, True)
    a = riemannian_features(grid_to_mesh(X, True, True), periodic_u=True, periodic_v=True).point_data
    b = grid_features(X, True, True).point_data
    assert torch.allclose(a["K"], b["K"]) and torch.allclose(a["Gamma2_11"], b["Gamma2_11"])


@pytest.mark.gpu
def test_features_on_cuda_match_cpu():
    X, uv, du, dv = _grid(torus, 24, (0, 2 * math.pi), (0, 2 * math.pi), True, True)
    a = grid_features(X, True, True).point_data["H"]
    b = grid_features(X.cuda(), True, True).point_data["H"]
    assert b.is_cuda and torch.allclose(a, b.cpu(), atol=1e-10)
    m = grid_to_mesh(X, True, True)
    del m.point_data["ij"]
    c = mesh_features(m).point_data["K"]
    d = mesh_features(m.to("cuda")).point_data["K"]
    assert torch.allclose(c, d.cpu(), atol=1e-8)


def test_mesh_fit_on_icosphere_converges():
    """Unstructured icosphere (outward normals): K = 1/R^2, H = +1/R; error falls ~4x per subdivision."""
    from geomsci.core.shapes import icosphere

    errs = []
    for s in (2, 3, 4):
        m = icosphere(s, radius=2.0, dtype=torch.float64)
        f = mesh_features(m).point_data
        errs.append(((f["K"] - 0.25).abs().max().item(), (f["H"] - 0.5).abs().max().item()))
    print("\nicosphere K/H errors:", errs)
    for k in (0, 1):
        assert errs[2][k] < errs[1][k] < errs[0][k]
        assert math.log2(errs[1][k] / errs[2][k]) > 1.6


def test_quartic_mesh_fit_on_icosphere_is_higher_order():
    from geomsci.core.shapes import icosphere

    errs = []
    for s in (2, 3, 4):
        f = mesh_features(icosphere(s, radius=2.0, dtype=torch.float64), degree=4).point_data
        errs.append((f["H"] - 0.5).abs().max().item())
    print("\nicosphere quartic-fit H errors:", errs)  # measured 1.9e-2, 8.1e-4, 5.3e-5
    assert math.log2(errs[1] / errs[2]) > 3.0 and errs[2] < 1e-4


def test_bad_parameters_and_dtypes_are_named():
    from geomsci.wing import parametric_features

    X, _, _, _ = _grid(torus, 8, (0, 2 * math.pi), (0, 2 * math.pi), True, True)
    with pytest.raises(ValueError, match="du .* must be positive"):
        grid_features(X, True, True, du=0.0)  # used to give NaN features
    with pytest.raises(TypeError, match="floating-point"):
        grid_features(X.long(), True, True)
    with pytest.raises(TypeError, match="uv must be a floating-point torch tensor"):
        parametric_features(torus, torch.zeros(4, 2, dtype=torch.long))
