"""`geomsci pig ...` commands: ``solve`` (train and save) and ``predict`` (reuse a saved model).

The demo step lives in ``geomsci.pig.demo``; it is re-exported here for the root CLI."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from geomsci.core.cli_checks import at_least, output_file, output_files, output_folder

from .demo import demo  # noqa: F401  (the root CLI's `geomsci demo` finds it here)

app = typer.Typer(help="Physics-Informed Gaussians: solve PDE problems with PIG or a PINN baseline.", no_args_is_help=True)

MODEL_FORMAT = "geomsci.pig.model/1"


def _atomic(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, then rename: never a half-written ``path``."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _build(problem_name: str, model: str, gaussians: int, seed: int, preset: str, device: str):
    from geomsci.pig import PIG, PINN
    from geomsci.pig.configs import model_kwargs
    from geomsci.pig.problems import get_problem

    if model not in ("pig", "pinn"):
        raise ValueError(f"--model must be 'pig' or 'pinn', got {model!r}")
    if gaussians < 0:
        raise ValueError(f"--gaussians must be >= 1 (or 0: the problem's setting), got {gaussians}")
    problem = get_problem(problem_name)
    kw = model_kwargs(problem_name, model, problem.bounds, preset)
    if model == "pig" and gaussians:
        kw["n_gaussians"] = gaussians
    cls = PIG if model == "pig" else PINN
    return problem, cls(problem.dim, problem.bounds, seed=seed, device=device, **kw), kw


def _model_file(net, kind: str, kw: dict, problem, which: str, rel_l2: float, step: int, state: dict) -> dict:
    return {
        "format": MODEL_FORMAT,
        "problem": problem.name,
        "model": kind,
        "model_kwargs": kw,
        "dim": problem.dim,
        "bounds": problem.bounds.tolist(),
        "which": which,
        "rel_l2": rel_l2,
        "step": step,
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }


def load_model(path: Path, device: str = "cpu"):
    """A model saved by ``geomsci pig solve`` (``*_model.pt`` or ``*_best.pt``) and its file's metadata."""
    import torch

    from geomsci.pig import PIG, PINN

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, or a pickle we refuse to run
        raise ValueError(f"{path} is not a model saved by `geomsci pig solve` ({type(err).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a model saved by `geomsci pig solve` (format {MODEL_FORMAT})")
    cls = PIG if saved["model"] == "pig" else PINN
    net = cls(saved["dim"], saved["bounds"], device=device, **saved["model_kwargs"])
    net.load_state_dict(saved["state_dict"])
    return net, saved


def _write_outputs(problem, net, result, out: Path, label: str) -> list[Path]:
    import torch

    from geomsci.core.io import save, save_grid, write_table
    from geomsci.core.mesh import Mesh
    from geomsci.pig.results import plot_history, plot_solution, solution_field

    paths = [_atomic(out / f"{label}_solution.png", lambda p: plot_solution(problem, net, p))]
    paths.append(_atomic(out / f"{label}_history.png", lambda p: plot_history({label: result}, p, title=problem.name)))
    field = solution_field(problem, net)
    if isinstance(field, Mesh):
        pts = field.points
        if pts.shape[1] == 2:  # VTU wants 3-D points
            field = Mesh(torch.cat([pts, torch.zeros_like(pts[:, :1])], 1), field.cells, "triangle", field.point_data)
        paths.append(_atomic(out / f"{label}_solution.vtu", lambda p: save(field, p)))
    else:
        paths.append(_atomic(out / f"{label}_solution.npz", lambda p: save_grid(field, p, channels=["u", "reference", "error"])))
    h = result.history
    paths.append(
        _atomic(
            out / f"{label}_history.csv",
            lambda p: write_table(p, {"step": h["eval_step"], "time_s": h["eval_time"], "rel_l2": h["rel_l2"]}),
        )
    )
    return paths


def _outputs(out: Path, label: str, dim: int) -> list[Path]:
    field = "vtu" if dim == 2 else "npz"
    names = ["model.pt", "best.pt", "solution.png", "history.png", f"solution.{field}", "history.csv"]
    return [out / f"{label}_{n}" for n in names]


@app.command()
def solve(
    problem: str = typer.Argument(
        ..., help="helmholtz, helmholtz_high, klein_gordon, flow_mixing, diffusion, allen_cahn, poisson_mesh"
    ),
    iters: int = typer.Option(0, "--iters", help="optimiser steps (0: 1000, or the paper's count with --preset paper)"),
    gaussians: int = typer.Option(0, "--gaussians", help="Gaussians per feature channel (PIG; 0: the preset's setting)"),
    budget: float = typer.Option(
        0.0,
        "--budget",
        help="wall-clock seconds of training instead of --iters (evaluation and set-up not counted; 0: use --iters)",
    ),
    preset: str = typer.Option("cpu", "--preset", help="cpu (package sizes) or paper (the paper's sizes, for a GPU)"),
    model: str = typer.Option("pig", "--model", help="pig or pinn"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device", help="torch device: cpu or cuda"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (default: $GEOMSCI_THREADS or half the cores)"),
    force: bool = typer.Option(False, "--force", help="overwrite existing outputs"),
    out: Path = typer.Option(
        Path("pig_output"), "--out", "-o", help="folder for the model, PNGs, the solution field and the history"
    ),
):
    """Train a PIG (or PINN) on PROBLEM; save the final model and the best state, plots, field and history to OUT."""
    import torch

    from geomsci.core.threads import limit_threads
    from geomsci.pig.configs import paper_iters, train_kwargs
    from geomsci.pig.problems import PROBLEMS
    from geomsci.pig.train import train

    if problem not in PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}; choose from {sorted(PROBLEMS)}")
    if iters < 0:
        raise ValueError(f"--iters must be >= 1 (or 0: the preset's count), got {iters}")
    at_least("--budget", budget, 0, " seconds")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"--device must be cpu or cuda, got {device!r}")
    if device != "cpu" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device here; use --device cpu")
    train_kw = train_kwargs(problem, model, preset)  # checks the preset
    iters = iters or (paper_iters(problem) if preset == "paper" else 1000)
    output_folder(out, force=True)  # refuses a file; the files inside are checked once their names are known
    label = f"{problem}_{model}"
    with limit_threads(threads):
        prob, net, kw = _build(problem, model, gaussians, seed, preset, device)
        paths = _outputs(out, label, prob.dim)
        output_files(paths, force)  # before training: never train and then fail to write
        out.mkdir(parents=True, exist_ok=True)
        res = train(prob, net, iters=iters, budget=budget or None, seed=seed, **train_kw)
        final = _model_file(net, model, kw, prob, "final", res.final_rel_l2, res.steps, net.state_dict())
        _atomic(paths[0], lambda p: torch.save(final, p))
        best = _model_file(net, model, kw, prob, "best", res.best_rel_l2, res.best_step, res.best_state)
        _atomic(paths[1], lambda p: torch.save(best, p))
        net.load_state_dict(res.best_state)  # plots and field show the best state
        written = _write_outputs(prob, net, res, out, label)
    clock = f"{res.seconds:.1f} s training on the wall clock" + (
        f", {res.setup_seconds:.1f} s set-up" if res.setup_seconds > 1 else ""
    )
    typer.echo(
        f"{problem} {model}: rel. L2 final {res.final_rel_l2:.3e}, best {res.best_rel_l2:.3e} at step {res.best_step} "
        f"({res.steps} steps, {clock}, {res.mode} step)"
    )
    typer.echo(f"  wrote {paths[0]} (final model, rel. L2 {res.final_rel_l2:.3e})")
    typer.echo(f"  wrote {paths[1]} (best state, rel. L2 {res.best_rel_l2:.3e}, step {res.best_step})")
    for p in written:
        typer.echo(f"  wrote {p} (best state)" if "solution" in p.name else f"  wrote {p}")


def _read_points(spec: str, saved: dict):
    """(N, d) float64 points from a .csv/.npy file, or a lattice ``grid:N`` / ``grid:N1,N2,..`` over the model's box."""
    import numpy as np
    import torch

    d = saved["dim"]
    if spec.startswith("grid:"):
        try:
            counts = [int(v) for v in spec[5:].split(",")]
        except ValueError:
            raise ValueError(f"POINTS {spec!r}: write grid:N or grid:N1,...,N{d} with integers") from None
        counts = counts * d if len(counts) == 1 else counts
        if len(counts) != d or min(counts) < 2:
            raise ValueError(f"POINTS {spec!r}: need 1 or {d} node counts, each >= 2")
        from geomsci.pig.problems.base import lattice

        return lattice(torch.tensor(saved["bounds"], dtype=torch.float64), counts), counts
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"POINTS file not found: {spec} (or write grid:N for a lattice over the model's box)")
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
    elif path.suffix == ".csv":
        from geomsci.core.io import read_table

        cols = [v for v in read_table(path).values() if v.dtype.kind in "fi"]
        x = np.stack(cols[:d], 1) if len(cols) >= d else np.zeros((0, len(cols)))
    else:
        raise ValueError(f"POINTS {spec}: use a .csv (first {d} numeric columns) or .npy (N, {d}) file, or grid:N")
    if x.ndim != 2 or x.shape[1] != d or not np.isfinite(x).all():
        raise ValueError(f"POINTS {spec}: need finite points of shape (N, {d}), got {x.shape}")
    return torch.as_tensor(x, dtype=torch.float64), None


@app.command()
def predict(
    model_file: Path = typer.Argument(..., help="a *_model.pt or *_best.pt written by `geomsci pig solve`"),
    points: str = typer.Argument(..., help="points: a .csv or .npy file of (N, d) coordinates, or grid:N (N nodes per axis)"),
    out: Path = typer.Option(..., "--out", "-o", help="output .csv (coordinates and u) or .npy (u, shaped like the grid)"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing output"),
):
    """Evaluate a saved model at POINTS and write u there."""
    import numpy as np

    from geomsci.core.io import write_table
    from geomsci.core.threads import limit_threads
    from geomsci.pig.results import _predict

    if out.suffix not in (".csv", ".npy"):
        raise ValueError(f"-o {out}: use a .csv or .npy file name")
    output_file(out, force, example="u.csv")
    with limit_threads(threads):
        net, saved = load_model(model_file)
        x, counts = _read_points(points, saved)
        u = _predict(net, x).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        _atomic(out, lambda p: np.save(p, u.reshape(counts) if counts else u))
    else:
        cols = {f"x{j}": x[:, j].numpy() for j in range(x.shape[1])}
        _atomic(out, lambda p: write_table(p, {**cols, "u": u}))
    typer.echo(
        f"{saved['problem']} {saved['model']} ({saved['which']} state, rel. L2 {saved['rel_l2']:.3e}): "
        f"u at {x.shape[0]} points -> {out}"
    )
