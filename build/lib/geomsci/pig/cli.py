"""`geomsci pig ...` commands and the PIG step of `geomsci demo`."""
from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Physics-Informed Gaussians: solve PDE problems with PIG or a PINN baseline.",
                  no_args_is_help=True)


def _build(problem_name: str, model: str, gaussians: int, seed: int):
    from geomsci.pig import PIG, PINN
    from geomsci.pig.problems import get_problem
    from geomsci.pig.configs import model_kwargs

    if model not in ("pig", "pinn"):
        raise ValueError(f"--model must be 'pig' or 'pinn', got {model!r}")
    if gaussians < 0:
        raise ValueError(f"--gaussians must be >= 1 (or 0: the problem's setting), got {gaussians}")
    problem = get_problem(problem_name)
    kw = model_kwargs(problem_name, model, problem.bounds)
    if model == "pig":
        if gaussians:
            kw["n_gaussians"] = gaussians
        net = PIG(problem.dim, problem.bounds, seed=seed, **kw)
    else:
        net = PINN(problem.dim, problem.bounds, seed=seed, **kw)
    return problem, net


def _write_outputs(problem, net, result, out: Path, label: str) -> list[Path]:
    import geomsci
    from geomsci.core.io import write_table
    from geomsci.core.mesh import Mesh
    from geomsci.pig.results import plot_history, plot_solution, solution_field

    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_solution(problem, net, out / f"{label}_solution.png")]
    paths.append(plot_history({label: result}, out / f"{label}_history.png", title=problem.name))
    field = solution_field(problem, net)
    if isinstance(field, Mesh):
        pts = field.points
        if pts.shape[1] == 2:  # VTU wants 3-D points
            import torch

            field = Mesh(torch.cat([pts, torch.zeros_like(pts[:, :1])], 1), field.cells, "triangle", field.point_data)
        paths.append(out / f"{label}_solution.vtu")
        geomsci.save(field, paths[-1])
    else:
        import numpy as np

        paths.append(out / f"{label}_solution.npz")
        np.savez(paths[-1], values=field.values.numpy(), origin=field.origin.numpy(), spacing=field.spacing.numpy(),
                 channels=np.array(["u", "reference", "error"]))
    h = result.history
    paths.append(write_table(out / f"{label}_history.csv", {"step": h["eval_step"], "time_s": h["eval_time"], "rel_l2": h["rel_l2"]}))
    return paths


@app.command()
def solve(
    problem: str = typer.Argument(..., help="helmholtz, helmholtz_high, klein_gordon, flow_mixing, diffusion, allen_cahn, poisson_mesh"),
    iters: int = typer.Option(1000, "--iters", help="optimiser steps (Adam, then L-BFGS)"),
    gaussians: int = typer.Option(0, "--gaussians", help="Gaussians per feature channel (PIG; 0: the problem's setting in configs.py)"),
    budget: float = typer.Option(0.0, "--budget", help="training seconds instead of --iters (0: use --iters)"),
    model: str = typer.Option("pig", "--model", help="pig or pinn"),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads (small models run best on 1)"),
    out: Path = typer.Option(Path("pig_output"), "--out", "-o", help="folder for PNGs, the solution field and the history"),
):
    """Train a PIG (or PINN) on PROBLEM and write plots, the solution field and the error history to OUT."""
    import torch

    from geomsci.pig.configs import train_kwargs
    from geomsci.pig.train import train

    if iters < 1:
        raise ValueError(f"--iters must be >= 1, got {iters}")
    if budget < 0:
        raise ValueError(f"--budget must be >= 0 seconds, got {budget}")
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    prob, net = _build(problem, model, gaussians, seed)
    res = train(prob, net, iters=iters, budget=budget or None, seed=seed, **train_kwargs(problem, model))
    paths = _write_outputs(prob, net, res, out, f"{problem}_{model}")
    typer.echo(f"{problem} {model}: rel. L2 final {res.final_rel_l2:.3e}, best {res.best_rel_l2:.3e} "
               f"({res.steps} steps, {res.seconds:.1f} s training)")
    for p in paths:
        typer.echo(f"  wrote {p}")


def demo(out_dir: Path) -> str:
    """Helmholtz (1, 4) with a small PIG for a 2-second training budget; returns the rel. L2 reached."""
    import torch

    from geomsci.pig import PIG
    from geomsci.pig.problems import Helmholtz2D
    from geomsci.pig.results import plot_solution
    from geomsci.pig.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        prob = Helmholtz2D(1, 4)
        prob.test_shape = (41, 41)
        net = PIG(2, prob.bounds, n_gaussians=64, channels=4, seed=0)
        t0 = time.perf_counter()
        res = train(prob, net, budget=2.0, adam_fraction=0.6, lr=2e-2, n_collocation=300, n_data=120,
                    lbfgs_points=1000, eval_every=50, progress=False)
        plot_solution(prob, net, Path(out_dir) / "helmholtz_pig.png")
    finally:
        torch.set_num_threads(threads)
    return (f"PIG on Helmholtz (1,4): rel. L2 {res.final_rel_l2:.2e} (best {res.best_rel_l2:.2e}) after "
            f"{res.seconds:.1f} s / {res.steps} steps; wrote helmholtz_pig.png")
