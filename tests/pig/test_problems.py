"""Every problem with an exact solution has zero residual there and consistent data; references
match their initial states."""

import math

import pytest
import torch

from geomsci.pig.jet import autograd_jet
from geomsci.pig.problems import AllenCahn, FlowMixing, Helmholtz2D, KleinGordon, NonlinearDiffusion, Problem, get_problem


@pytest.mark.parametrize("problem", [Helmholtz2D(1, 4), Helmholtz2D(10, 10), KleinGordon(), FlowMixing()], ids=lambda p: p.name)
def test_exact_solution_has_zero_residual(problem):
    g = torch.Generator().manual_seed(0)
    x = problem.sample_interior(200, g)
    jet = autograd_jet(lambda y: problem.solution(y)[:, None], x, problem.order, problem.second_dims)
    r = problem.residual(jet, x)
    assert r.abs().max() < 1e-9 * max(1.0, problem.residual_scale)
    for c in problem.constraints(50, g):
        if c.x_pair is None:
            j = autograd_jet(lambda y: problem.solution(y)[:, None], c.x, 1, ())
            val = j.u if c.deriv is None else j.d(c.deriv)
            torch.testing.assert_close(val.detach(), c.target, atol=1e-12, rtol=0)


def test_allen_cahn_reference_initial_state_and_interpolation():
    p = AllenCahn(n_ref=128, n_times=11)
    x = torch.stack([torch.linspace(-1, 0.75, 8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)], 1)  # grid nodes
    torch.testing.assert_close(p.solution(x), x[:, 0] ** 2 * torch.cos(math.pi * x[:, 0]), atol=1e-10, rtol=0)
    xt, ut = p.test_points()
    torch.testing.assert_close(p.solution(xt[:500]), ut[:500], atol=1e-10, rtol=0)
    # off the grid, trigonometric interpolation of the kinked periodic extension of x^2 cos(pi x)
    # (u'(-1) = 2, u'(1) = -2) is accurate to O(1/n^2) near the kink (measured max 5.9e-3 at
    # n = 128, next to x = 1) and much better away from it (7e-4 for |x| < 0.9)
    for c in p.constraints(200, torch.Generator().manual_seed(0)):
        if c.name == "initial":
            err = (p.solution(c.x) - c.target).abs()
            assert err.max() < 1e-2
            assert err[c.x[:, 0].abs() < 0.9].max() < 1e-3


def test_diffusion_reference_grid_and_interpolation():
    p = NonlinearDiffusion(n_ref=33, n_times=6)
    x, u = p.test_points()
    assert x.shape == (17 * 17 * 6, 3) and u.shape == (x.shape[0],)
    torch.testing.assert_close(p.solution(x[:300]), u[:300], atol=1e-12, rtol=0)
    assert u.reshape(17, 17, 6)[0].abs().max() == 0.0  # x = -1 boundary holds u = 0


def test_registry_and_subclassing():
    with pytest.raises(ValueError, match="unknown problem"):
        get_problem("navier_stokes")

    class Poisson1D(Problem):  # users add problems by subclassing
        name = "poisson1d"
        second_dims = (0,)
        test_shape = (101,)

        def __init__(self):
            self.bounds = torch.tensor([[0.0], [1.0]], dtype=torch.float64)

        def residual(self, jet, x):
            return jet.dd(0) + math.pi**2 * torch.sin(math.pi * x[:, 0])

        def constraints(self, n, generator=None):
            from geomsci.pig.problems import Constraint

            xb = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
            return [Constraint(xb, torch.zeros(2, dtype=torch.float64))]

        def solution(self, x):
            return torch.sin(math.pi * x[:, 0])

    p = Poisson1D()
    x, u = p.test_points()
    assert x.shape == (101, 1) and p.dim == 1 and p.spatial_dims == (0,)


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: Helmholtz2D(0, 4), ValueError, "a1, a2 must be finite and nonzero"),
        (lambda: Helmholtz2D(1, 4, k=math.nan), ValueError, "k finite"),
        (lambda: KleinGordon(t_max=0.0), ValueError, "t_max must be a positive"),
        (lambda: AllenCahn(n_ref=16, n_times=1), ValueError, "n_times must be >= 2"),
        (lambda: NonlinearDiffusion(n_ref=9, n_times=0), ValueError, "n_times must be >= 2"),
    ],
)
def test_bad_problem_parameters_raise(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_poisson_mesh_wants_a_mesh_and_problems_need_a_test_shape():
    from geomsci.pig.problems import PoissonMesh

    with pytest.raises(TypeError, match="mesh must be a geomsci Mesh"):
        PoissonMesh(mesh="plate.vtu")
    p = Helmholtz2D(1, 4)
    p.test_shape = None
    with pytest.raises(ValueError, match="set test_shape"):
        p.test_points()
