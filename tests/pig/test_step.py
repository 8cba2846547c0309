"""The static-shape Adam step: same losses as a plain loop, as the compiled step and as the CUDA
graph; device sampling without host reads; the device NaN guard."""

import math

import pytest
import torch

from geomsci.pig import PIG, PINN, train
from geomsci.pig.loss import draw_batch, physics_loss
from geomsci.pig.problems import AllenCahn, Helmholtz2D, KleinGordon, NonlinearDiffusion, PoissonMesh
from geomsci.pig.step import AdamStep, resolve_mode

RATES = {"weights": 1e-2, "means": 2e-2, "scales": 5e-3}


def _losses(problem, model, mode, steps, causal=None, resample_every=1):
    stepper = AdamStep(
        problem,
        model,
        n_collocation=128,
        n_data=32,
        rates=RATES,
        lr_final_factor=0.1,
        loss_kwargs={"causal_eps": causal},
        seed=3,
        log_size=steps,
        mode=mode,
    )
    for i in range(steps):
        stepper.step(i / steps, i % resample_every == 0)
    return stepper.losses(), stepper


def test_step_matches_a_plain_adam_loop():
    """The step's static buffers, tensor learning rates, priming and reset change nothing: a
    hand-written loop (fresh points from the same generator, torch Adam, float learning rates)
    gives the same losses to round-off."""
    problem = KleinGordon()
    steps = 30
    got, _ = _losses(problem, PIG(3, problem.bounds, n_gaussians=12, seed=0), "eager", steps, causal=5.0)
    model = PIG(3, problem.bounds, n_gaussians=12, seed=0)
    groups = model.param_groups()
    adam = torch.optim.Adam([{"params": ps, "lr": RATES[k]} for k, ps in groups.items()])
    gen = torch.Generator().manual_seed(3)
    want = []
    for i in range(steps):
        for g, k in zip(adam.param_groups, groups):
            g["lr"] = RATES[k] * 0.1 ** (i / steps)
        xi, cons = draw_batch(problem, 128, 32, gen, torch.float64)
        adam.zero_grad()
        loss = physics_loss(problem, model, xi, cons, causal_eps=5.0)
        loss.backward()
        adam.step()
        want.append(float(loss.detach()))
    assert max(abs(a - b) / abs(b) for a, b in zip(got, want)) < 1e-10


def test_resample_every_keeps_the_points():
    problem = Helmholtz2D(1, 2)
    losses, stepper = _losses(problem, PIG(2, problem.bounds, n_gaussians=8), "eager", 4, resample_every=10)
    x_first = stepper.batch[0].clone()
    stepper.step(0.5, False)
    assert torch.equal(stepper.batch[0], x_first)
    stepper.step(0.5, True)
    assert not torch.equal(stepper.batch[0], x_first)


@pytest.mark.parametrize(
    "problem", [Helmholtz2D(1, 4), KleinGordon(), NonlinearDiffusion(), AllenCahn(), PoissonMesh()], ids=lambda p: p.name
)
def test_samplers_draw_on_the_generator_device_with_fixed_shapes(problem):
    """What the captured step needs of every problem: fresh points of the same shapes at each call,
    inside the box (the device side is checked by the gpu tests and the GPU script)."""
    gen = torch.Generator().manual_seed(0)
    xi, cons = draw_batch(problem, 64, 16, gen, torch.float64)
    xi2, cons2 = draw_batch(problem, 64, 16, gen, torch.float64)
    assert xi.shape == xi2.shape == (64, problem.dim) and not torch.equal(xi, xi2)
    assert [c.x.shape for c in cons] == [c.x.shape for c in cons2] and all(c.target.shape == (16,) for c in cons)
    lo, hi = problem.bounds
    assert bool(((xi >= lo - 1e-12) & (xi <= hi + 1e-12)).all())


def test_device_guard_restores_and_halves_the_rate():
    problem = Helmholtz2D(1, 1)
    model = PIG(2, problem.bounds, n_gaussians=6, seed=0)
    stepper = AdamStep(
        problem,
        model,
        n_collocation=32,
        n_data=8,
        rates=RATES,
        lr_final_factor=1.0,
        loss_kwargs={},
        seed=0,
        log_size=5,
        mode="eager",
    )
    for _ in range(3):
        stepper.step(0.0, True)
    stepper.losses()
    stepper.guard()  # all finite: the copy is refreshed
    good = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        model.means[0, 0] = float("nan")
    stepper.step(0.0, True)
    stepper.losses()
    stepper.guard()
    assert stepper.n_restores == 1 and float(stepper.lr_scale) == 0.5
    assert all(torch.equal(p, g) for p, g in zip(model.parameters(), good))
    assert all(bool(torch.isfinite(t).all()) for t in stepper._moments())


def test_resolve_mode():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_mode(None, cpu) == ("eager", None)
    assert resolve_mode(None, cuda)[0] == "graph" and resolve_mode(True, cpu)[0] == "compile"
    mode, why = resolve_mode(None, cuda, PIG(2, [[0, 0], [1, 1]], n_gaussians=2, truncate_tol=1e-6))
    assert mode == "eager" and "truncate" in why
    with pytest.raises(ValueError, match="compile"):
        resolve_mode("yes", cpu)


@pytest.mark.slow
def test_compiled_step_gives_the_eager_losses():
    """torch.compile of the loss on the CPU: same losses as eager to 1e-10 over 100 float64 steps
    (measured 6e-14 on Helmholtz). Slow: compiling takes minutes on a busy 2-core machine."""
    problem = Helmholtz2D(1, 4)
    eager, _ = _losses(problem, PIG(2, problem.bounds, n_gaussians=16, seed=0), "eager", 100)
    compiled, stepper = _losses(problem, PIG(2, problem.bounds, n_gaussians=16, seed=0), "compile", 100)
    assert stepper.mode == "compile"
    assert max(abs(a - b) / abs(a) for a, b in zip(eager, compiled)) < 1e-10


@pytest.mark.gpu
@pytest.mark.parametrize(
    "make",
    [
        lambda p: PIG(p.dim, p.bounds, n_gaussians=16, seed=0, device="cuda"),
        lambda p: PINN(p.dim, p.bounds, width=16, depth=2, seed=0, device="cuda"),
    ],
    ids=["pig", "pinn"],
)
def test_cuda_graph_step_gives_the_eager_losses(make):
    """The CUDA-graph step replays resampling (device generator), causal weighting, fused Adam and the
    loss log: same losses as the eager step on CUDA to 1e-10 over 100 float64 steps."""
    problem = KleinGordon()
    eager, _ = _losses(problem, make(problem), "eager", 100, causal=5.0)
    graph, stepper = _losses(problem, make(problem), "graph", 100, causal=5.0)
    assert stepper.mode == "graph", stepper.fallback_reason
    assert max(abs(a - b) / abs(a) for a, b in zip(eager, graph)) < 1e-10


@pytest.mark.gpu
def test_train_on_cuda_uses_the_graph():
    problem = Helmholtz2D(1, 2)
    problem.test_shape = (21, 21)
    model = PIG(2, problem.bounds, n_gaussians=16, seed=0, device="cuda")
    r = train(problem, model, iters=300, adam_fraction=1.0, n_collocation=256, n_data=64, eval_every=50, progress=False)
    assert r.mode == "graph" and math.isfinite(r.final_rel_l2) and r.final_rel_l2 < 0.5 * r.history["rel_l2"][0]
