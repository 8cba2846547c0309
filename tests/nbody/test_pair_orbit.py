"""Two-body elements of a pair against the analytic Kepler orbit."""

import math

import pytest
import torch

from geomsci.nbody import integrate, kepler_orbit, pair_orbit
from geomsci.nbody.diagnostics import nearest_pericentres
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


def hyperbolic_pair(q: float, e: float, t_to_peri: float, gm: float = 1.0):
    """Relative position and velocity (3,) on the hyperbola (q, e), ``t_to_peri`` before pericentre (analytic).

    a = q / (e - 1), n = sqrt(G M / a^3); Kepler's equation n t = e sinh F - F gives the hyperbolic anomaly F
    (negative: approaching), then x = a (e - cosh F), y = a sqrt(e^2 - 1) sinh F and dF/dt = n / (e cosh F - 1)."""
    a = q / (e - 1)
    n = math.sqrt(gm / a**3)
    F = -math.asinh(n * t_to_peri / e)  # Newton on e sinh F - F = -n t from this start
    for _ in range(60):
        F -= (e * math.sinh(F) - F + n * t_to_peri) / (e * math.cosh(F) - 1)
    dF = n / (e * math.cosh(F) - 1)
    b = a * math.sqrt(e * e - 1)
    return [a * (e - math.cosh(F)), b * math.sinh(F), 0.0], [-a * math.sinh(F) * dF, b * math.cosh(F) * dF, 0.0]


def test_nearest_pericentres_of_a_fly_by_a_binary_and_a_receding_body():
    # bodies 0-1: a hyperbolic fly-by 0.3 before its pericentre q = 0.01; bodies 0 and 1 are far (1e3) from body 2,
    # which recedes from them fast (its passages with them are behind); G M = 1 for the pair (masses 0.5, body 2 massless)
    r, w = hyperbolic_pair(q=0.01, e=1.5, t_to_peri=0.3)
    x = torch.tensor([[[0.0, 0, 0], r, [1e3, 0, 0]]], dtype=torch.float64)
    v = torch.tensor([[[0.0, 0, 0], w, [50.0, 0, 0]]], dtype=torch.float64)
    m = torch.tensor([[0.5, 0.5, 0.0]], dtype=torch.float64)
    q, t_to = nearest_pericentres(x, v, m, 1.0)  # pairs (0,1), (0,2), (1,2)
    assert q.shape == t_to.shape == (1, 3)
    assert q[0, 0].item() == pytest.approx(0.01, rel=1e-9) and t_to[0, 0].item() == pytest.approx(0.3, rel=1e-9)
    assert (t_to[0, 1:] < 0).all()
    # time-reversed, the fly-by is 0.3 past its pericentre
    q, t_to = nearest_pericentres(x, -v, m, 1.0)
    assert q[0, 0].item() == pytest.approx(0.01, rel=1e-9) and t_to[0, 0].item() == pytest.approx(-0.3, rel=1e-9)
    # a bound pair (a = 1, e = 0.6, period 2 pi): 1.0 after pericentre the last passage is nearest, 4.0 after the next
    tr = integrate(kepler_orbit(0.6), [1.0, 4.0], mu=1e-3, G=1.0)
    m = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    for k, expected in ((0, -1.0), (1, 2 * math.pi - 4.0)):
        q, t_to = nearest_pericentres(tr.x[k], tr.v[k], m, 1.0)
        assert q.item() == pytest.approx(0.4, abs=1e-9) and t_to.item() == pytest.approx(expected, abs=1e-7)
