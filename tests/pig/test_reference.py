"""Reference solvers converge at their theoretical orders; the P2 solver is exact on quadratics."""

import numpy as np
import pytest

from geomsci.core.geometry import boundary_loops, euler_characteristic
from geomsci.pig.reference import allen_cahn_etdrk4, nonlinear_diffusion_fd, plate_with_holes, poisson_p2


def test_etdrk4_is_fourth_order_in_time():
    # Halving dt must cut the error ~16x (4th order); the contour-integral coefficients keep it
    # stable and accurate although L = 5 - eps k^2 changes sign.
    times = [0.2]
    _, ref = allen_cahn_etdrk4(128, 1e-3, times)
    errs = [np.abs(allen_cahn_etdrk4(128, dt, times)[1] - ref).max() for dt in (0.04, 0.02)]
    assert errs[1] < 0.1  # a sensible solution at all
    assert errs[0] / errs[1] > 10.0, errs


def test_etdrk4_keeps_initial_state_and_bounds():
    x, s = allen_cahn_etdrk4(64, 0.01, [0.0, 0.5])
    np.testing.assert_allclose(s[0], x**2 * np.cos(np.pi * x), atol=1e-12)
    assert np.abs(s[1]).max() <= 1.0 + 1e-6  # Allen-Cahn's maximum principle: |u| stays <= 1


def test_fd_diffusion_is_second_order_in_space():
    # Errors against a finer lattice, on the coarse nodes, shrink ~4x per halving of h.
    times = [0.3]
    _, fine = nonlinear_diffusion_fd(65, times)
    errs = []
    for n in (17, 33):
        _, s = nonlinear_diffusion_fd(n, times)
        st = 64 // (n - 1)
        errs.append(np.abs(s - fine[:, ::st, ::st]).max())
    assert errs[0] / errs[1] > 3.0, errs


def test_fd_diffusion_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        nonlinear_diffusion_fd(3)
    for times in ([], [0.0, np.nan]):
        with pytest.raises(ValueError, match="non-empty 1-D increasing array of finite"):
            nonlinear_diffusion_fd(9, times)
    with pytest.raises(ValueError, match=r"cfl must be in \(0, 1\]"):
        nonlinear_diffusion_fd(9, [0.0, 0.1], cfl=0.0)


def test_etdrk4_bad_times_and_step():
    with pytest.raises(ValueError, match="dt must be > 0"):
        allen_cahn_etdrk4(16, 0.0, [0.0, 0.1])
    for times in ([], [-0.1, 0.1]):  # a negative time used to return the initial state silently
        with pytest.raises(ValueError, match="times must be a non-empty 1-D array of finite times >= 0"):
            allen_cahn_etdrk4(16, 1e-2, times)


def test_plate_mesh_topology():
    m = plate_with_holes(0.2)
    assert len(boundary_loops(m.cells)) == 3  # square + two holes
    assert euler_characteristic(m.cells) == -1  # disc with two holes: 1 - 2


def test_p2_exact_on_quadratic_and_converges():
    m = plate_with_holes(0.25)
    u_ex = lambda x: x[:, 0] ** 2 + x[:, 0] * x[:, 1] - 0.5 * x[:, 1] ** 2  # lap = 2 - 1 = 1
    _, _, v, u = poisson_p2(m, lambda x: -np.ones(len(x)), u_ex, refine=0)
    np.testing.assert_allclose(u, u_ex(v), atol=1e-10)  # P2 reproduces quadratics exactly
    smooth = lambda x: np.sin(2 * x[:, 0]) * np.exp(x[:, 1])  # lap = -3 sin(2x) e^y
    f = lambda x: 3 * np.sin(2 * x[:, 0]) * np.exp(x[:, 1])
    errs = [np.abs(poisson_p2(m, f, smooth, refine=r)[3] - smooth(poisson_p2(m, f, smooth, refine=r)[2])).max() for r in (0, 1)]
    assert errs[1] < errs[0] / 3.0, errs


def test_plate_bad_hole():
    with pytest.raises(ValueError, match="hole"):
        plate_with_holes(0.2, holes=((0.9, 0.0, 0.3),))
    with pytest.raises(ValueError, match="overlap or touch"):
        plate_with_holes(0.2, holes=((0.0, 0.0, 0.3), (0.1, 0.0, 0.3)))
    with pytest.raises(ValueError, match="size .* must be > 0"):
        plate_with_holes(0.2, holes=(), size=0.0)
