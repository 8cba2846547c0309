"""Two-body elements of a pair against the analytic Kepler orbit."""

import math

import pytest
import torch

from geomsci.nbody import integrate, kepler_orbit, pair_orbit
from geomsci.nbody.initial_conditions import to_mesh


def test_elements_along_a_kepler_orbit():
    # a = 1, G M = 1 (period 2 pi), starting at pericentre; Hermite at small mu is exact to ~1e-10 here
    e = 0.6
    times = [1.0, 2 * math.pi - 0.5, 2 * math.pi + 0.25]
    tr = integrate(kepler_orbit(e), times, mu=1e-3, G=1.0)
    m = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    for k, t in enumerate(times):
        el = pair_orbit(tr.x[k], tr.v[k], m, 1.0, 0, 1)
        assert el["a"].item() == pytest.approx(1.0, abs=1e-9)
        assert el["e"].item() == pytest.approx(e, abs=1e-9)
        assert el["q"].item() == pytest.approx(1 - e, abs=1e-9)
        assert el["energy"].item() == pytest.approx(-0.5, abs=1e-9)
        since = math.remainder(t, 2 * math.pi)  # signed time from the nearest pericentre
        assert el["t_peri"].item() == pytest.approx(since, abs=1e-7)


def test_hyperbolic_fly_by():
    # unit masses' sum G M = 1; at pericentre q = 0.5 with speed above escape: e = q v^2 / (G M) - 1
    q, vp = 0.5, 2.5
    x = torch.tensor([[[0.0, 0, 0], [q, 0, 0]]], dtype=torch.float64)
    v = torch.tensor([[[0.0, 0, 0], [0, vp, 0]]], dtype=torch.float64)
    m = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    el = pair_orbit(x, v, m, 1.0, 0, 1)
    assert el["energy"].item() > 0
    assert el["e"].item() == pytest.approx(q * vp**2 - 1, rel=1e-12)
    assert el["q"].item() == pytest.approx(q, rel=1e-12)
    assert el["t_peri"].item() == pytest.approx(0.0, abs=1e-12)
    # a little later it is receding: positive time since pericentre, equal to the elapsed time
    tr = integrate(to_mesh(x[0].numpy(), v[0].numpy(), m[0].numpy()), [0.3], mu=1e-3, G=1.0)
    el = pair_orbit(tr.x[0], tr.v[0], m, 1.0, 0, 1)
    assert el["t_peri"].item() == pytest.approx(0.3, abs=1e-8)


def test_rejects_2d_positions():
    x = torch.zeros(1, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="3-D"):
        pair_orbit(x, x, torch.ones(1, 2, dtype=torch.float64), 1.0, 0, 1)
