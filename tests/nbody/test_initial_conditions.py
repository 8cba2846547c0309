"""Initial conditions: the paper's generator, classic problems, Plummer spheres."""

import pytest
import torch

from geomsci.nbody import KM_S_IN_AU_YR, center_of_mass, energy, paper_triple, plummer, pythagorean


def test_paper_triple_is_reproducible_and_in_range():
    a, b, c = paper_triple(5), paper_triple(5), paper_triple(6)
    assert torch.equal(a.points, b.points) and not torch.equal(a.points, c.points)
    m = a.point_data["masses"]
    assert m.tolist() == [1.0, 1.0, 1.0]
    x, v = a.points, a.point_data["velocities"]
    # undo the centre-of-mass shift: body 0 was at the origin
    rel = x - x[0]
    assert 5 <= rel[1, 0] <= 20 and 0 <= rel[1, 1] <= 10
    assert -10 <= rel[2, 0] <= 0 and 5 <= rel[2, 1] <= 20
    dv = (v - v[2]) / KM_S_IN_AU_YR  # body 2 started at rest
    torch.testing.assert_close(dv[0], torch.tensor([0.0, 10.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(dv[1], torch.tensor([-10.0, 0.0, 0.0], dtype=torch.float64))
    xc, vc = center_of_mass(x[None], v[None], m[None])
    assert xc.abs().max() < 1e-12 and vc.abs().max() < 1e-15


def test_km_s_conversion():
    # 1 AU/yr = 4.74047 km/s
    assert abs(1 / KM_S_IN_AU_YR - 4.740470) < 1e-5


def test_pythagorean_energy():
    # at rest: E = U = -(3*4/5 + 3*5/4 + 4*5/3) = -769/60
    p = pythagorean()
    E = energy(p.points[None], p.point_data["velocities"][None], p.point_data["masses"][None], 1.0)
    assert abs(E.item() + 769 / 60) < 1e-12


def test_plummer_is_in_henon_units():
    p = plummer(2000, seed=1)
    E = energy(p.points[None], p.point_data["velocities"][None], p.point_data["masses"][None], 1.0).item()
    assert abs(E + 0.25) < 0.03  # sampling noise ~ 1/sqrt(N)
    assert abs(p.point_data["masses"].sum().item() - 1.0) < 1e-12
    assert torch.equal(plummer(50, seed=3).points, plummer(50, seed=3).points)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        paper_triple(-1)
