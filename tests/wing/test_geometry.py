"""Sections and planforms against their definitions."""

import math

import pytest
import torch

from geomsci.core.geometry import is_watertight, signed_volume
from geomsci.wing import Wing, cosine_stations, cst, naca4, naca5, section, wing_grid, wing_mesh


def test_naca4_thickness_and_camber():
    x = torch.linspace(0, 1, 2001, dtype=torch.float64)
    up, lo = naca4("0012", x)
    t = up[:, 1] - lo[:, 1]
    assert abs(t.max().item() - 0.12) < 1e-3 and abs(x[t.argmax()].item() - 0.30) < 0.01
    assert abs(up[-1, 1].item()) < 1e-12 and abs(lo[-1, 1].item()) < 1e-12  # closed trailing edge
    up, lo = naca4("2412", x)
    camber = (up[:, 1] + lo[:, 1]) / 2
    assert abs(camber.max().item() - 0.02) < 2e-4 and abs(x[camber.argmax()].item() - 0.4) < 0.02


def test_naca5_23012_camber_line():
    """NACA 23012: design C_L 0.3, maximum camber about 1.84 % at 15 % chord (Abbott & von Doenhoff)."""
    x = torch.linspace(0, 1, 4001, dtype=torch.float64)
    up, lo = naca5("23012", x)
    camber = (up[:, 1] + lo[:, 1]) / 2
    assert abs(camber.max().item() - 0.0184) < 5e-4
    assert abs(up[camber.argmax(), 0].item() - 0.15) < 0.02
    # reflexed line ends with nearly zero moment: the camber turns negative slope then back up
    up_r, lo_r = naca5("23112", x)
    assert torch.isfinite(up_r).all() and abs(((up_r + lo_r) / 2)[-1, 1].item()) < 1e-6


def test_cst_is_differentiable_and_matches_class_function():
    x = cosine_stations(30)
    w = torch.tensor([0.2, 0.25, 0.2], dtype=torch.float64, requires_grad=True)
    up, lo = cst(w, -w, x)
    # equal weights A with n = 2 -> shape function sum = A (Bernstein partition of unity)
    up1, _ = cst([0.2, 0.2, 0.2], [-0.2, -0.2, -0.2], x)
    assert torch.allclose(up1[:, 1], 0.2 * x.sqrt() * (1 - x), atol=1e-14)
    assert torch.autograd.gradcheck(lambda a: cst(a, -a, x)[0][:, 1], (w,))


def test_bad_sections_raise():
    x = cosine_stations(8)
    for spec in ("naca12", "nacaABCD", ("cst", [1.0], [1.0, 2.0]), 42):
        with pytest.raises(ValueError):
            section(spec, x)
    with pytest.raises(ValueError, match="taper"):
        Wing(taper=0.0)


def test_wing_grid_planform_and_closed_mesh():
    w = Wing("naca2412", span=6.0, root_chord=1.2, taper=0.5, sweep=20.0, dihedral=5.0, twist=-3.0)
    X = wing_grid(w, n_chord=16, n_span=8, n_cap=3)
    assert X.shape == (33, 12, 3)
    tip = X[:, 8]  # last full section
    chord = (tip[:, 0].max() - tip[:, 0].min()).item()
    assert abs(chord - 0.6) < 0.02  # tip chord = taper * root chord (slightly less: -3 deg twist)
    le = tip[16]
    assert abs(le[0].item() - 3.0 * math.tan(math.radians(20))) < 2e-3  # swept LE (twist moves it < 1e-3)
    assert abs(le[1].item() - 3.0 * math.cos(math.radians(5))) < 1e-9
    # the last cap row is the camber line: upper and lower points coincide
    assert torch.allclose(X[:, -1], X.flip(0)[:, -1], atol=1e-12)
    full = wing_mesh(w, 16, 8, 3, mirror=True)
    assert is_watertight(full.faces)
    vol = signed_volume(full.points, full.faces).item()
    assert vol > 0  # outward normals
    # volume ~ integral of section area (0.0821 c^2 for 12 % thick NACA 4-digit) over the span
    approx = 0.0821 * 1.2**2 * (1 + 0.5 + 0.25) / 3 * 6.0
    assert abs(vol / approx - 1) < 0.05


def test_wing_mesh_saves(tmp_path):
    import geomsci

    m = wing_mesh(Wing("naca0012"), 8, 4, mirror=True)
    geomsci.save(m, tmp_path / "w.obj")
    assert geomsci.load(tmp_path / "w.obj").n_cells == m.n_cells
    m.set_point_field("z", m.points[:, 2])
    geomsci.save(m, tmp_path / "w.vtu")
    back = geomsci.load(tmp_path / "w.vtu")
    assert back.n_points == m.n_points and torch.allclose(back.point_data["z"].double(), m.points[:, 2])


def test_bad_wing_parameters_and_zero_thickness_raise():
    x = cosine_stations(8)
    with pytest.raises(ValueError, match="zero thickness"):
        naca4("0000", x)
    with pytest.raises(ValueError, match="zero thickness"):
        naca5("23000", x)
    with pytest.raises(ValueError, match="weights must be finite"):
        cst([math.nan, 0.2], [-0.1, -0.1], x)
    with pytest.raises(ValueError, match="twist must be a finite angle"):
        Wing(twist=math.nan)
    with pytest.raises(ValueError, match="n_span must be an integer"):
        wing_grid(Wing(), 6, 2.5)


def test_mirror_mesh_needs_a_triangle_mesh():
    from geomsci.core.mesh import Mesh
    from geomsci.wing import mirror_mesh

    with pytest.raises(ValueError, match="mirror_mesh: needs the 3-D triangle mesh"):
        mirror_mesh(Mesh(torch.rand(3, 3)))
