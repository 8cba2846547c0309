"""`geomsci nbody ...`: integrate, train a time-step agent, evaluate it; and the demo step."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import typer

app = typer.Typer(help="N-body integrators and learned time-step control (AU, yr, Msun; G = 4 pi^2).",
                  no_args_is_help=True)

IC_CHOICES = ("pythagorean", "figure_eight", "kepler", "paper", "plummer")


def _initial_condition(name: str, seed: int, n: int):
    from . import initial_conditions as ic
    from .units import G_AU

    if name == "paper":
        return ic.paper_triple(seed), G_AU
    if name == "pythagorean":
        return ic.pythagorean(), 1.0
    if name == "figure_eight":
        return ic.figure_eight(), 1.0
    if name == "kepler":
        return ic.kepler_orbit(0.5), 1.0
    if name == "plummer":
        return ic.plummer(n, seed), 1.0
    raise ValueError(f"--ic must be one of {IC_CHOICES}, got {name!r}")


@app.command()
def run(
    ic: str = typer.Option("pythagorean", help=f"initial condition: {', '.join(IC_CHOICES)}"),
    seed: int = typer.Option(0, help="system seed (paper, plummer)"),
    n: int = typer.Option(32, help="bodies (plummer)"),
    method: str = typer.Option("hermite", help="hermite | aarseth | leapfrog"),
    mu: float = typer.Option(1e-2, help="step parameter mu (hermite, leapfrog)"),
    eta: float = typer.Option(0.02, help="Aarseth's eta (aarseth)"),
    t_end: float = typer.Option(10.0, help="end time (yr for 'paper', N-body units otherwise)"),
    n_out: int = typer.Option(200, help="number of output times"),
    out: Path = typer.Option(Path("traj.csv"), "-o", "--out", help="CSV: t, body, x..vz, energy, n_force"),
    plot: Path = typer.Option(None, help="also write a PNG of the orbits"),
):
    """Integrate one system and write its trajectory as CSV (one row per body and output time)."""
    from geomsci.core.io import write_table

    from .integrate import integrate
    from .plots import plot_orbits

    if t_end <= 0 or n_out < 1:
        raise ValueError(f"--t-end must be > 0 and --n-out >= 1, got {t_end} and {n_out}")
    system, G = _initial_condition(ic, seed, n)
    times = torch.linspace(0, t_end, n_out + 1, dtype=torch.float64)[1:]
    t0 = time.perf_counter()
    tr = integrate(system, times, method=method, mu=mu, eta=eta, G=G, progress=True)
    wall = time.perf_counter() - t0
    T, N = tr.x.shape[0], tr.x.shape[2]
    x, v = tr.x[:, 0].reshape(T * N, -1).numpy(), tr.v[:, 0].reshape(T * N, -1).numpy()
    cols = {"t": np.repeat(times.numpy(), N), "body": np.tile(np.arange(N), T)}
    for k, name in enumerate("xyz"[: x.shape[1]]):
        cols[name] = x[:, k]
    for k, name in enumerate(["vx", "vy", "vz"][: v.shape[1]]):
        cols[name] = v[:, k]
    cols["energy"] = np.repeat(tr.energy[:, 0].numpy(), N)
    cols["n_force"] = np.repeat(tr.n_force[:, 0].numpy(), N)
    write_table(out, cols)
    if plot is not None:
        plot_orbits(torch.cat([system.points[None], tr.x[:, 0]]).numpy(), plot, title=f"{ic}, {method}")
    err = tr.relative_energy_error[-1, 0].item()
    typer.echo(f"wrote {out}: {T} outputs x {N} bodies; |dE/E0| = {err:.2e}, "
               f"{int(tr.n_force[-1, 0])} force evaluations, {wall:.2f} s")


@app.command()
def train(
    out: Path = typer.Option(Path("policy.pt"), "-o", "--out", help="where to save the policy"),
    episodes: int = typer.Option(320, help="training episodes (systems)"),
    parallel: int = typer.Option(16, help="systems rolled out at once (batched integrator, one mu each)"),
    n_checks: int = typer.Option(200, help="0.1-yr intervals per episode"),
    reward: str = typer.Option("steady", help="steady | final | cost | paper (see geomsci.nbody.rewards)"),
    lam: float = typer.Option(1.0, help="cost weight (per 1000 force evaluations) of the cost/final/steady rewards"),
    c_switch: float = typer.Option(0.5, help="charge per notch that mu moves (steady reward)"),
    observation: str = typer.Option("extended", help="extended (16 numbers) | paper (13)"),
    stall_charge: bool = typer.Option(True, help="charge a system stopped by the step cap for the intervals it skips"),
    seed: int = typer.Option(1, help="training seed (systems are drawn from seeds >= 1000)"),
    threads: int = typer.Option(1, help="torch threads"),
):
    """Train the DQN time-step agent on seeds disjoint from the test seeds 0-99."""
    from .dqn import DQNConfig, train_dqn

    torch.set_num_threads(threads)
    cfg = DQNConfig(episodes=episodes, parallel=parallel, n_checks=n_checks, reward=reward, lam=lam, seed=seed,
                    eps_decay=max(episodes / 4, 1.0), observation=observation, c_switch=c_switch,
                    stall_charge=stall_charge)
    t0 = time.perf_counter()
    pol = train_dqn(cfg)
    pol.save(out)
    typer.echo(f"saved {out} after {episodes} episodes in {time.perf_counter() - t0:.0f} s")


@app.command()
def evaluate(
    policy: Path = typer.Argument(..., help="policy file from `geomsci nbody train`"),
    seeds: str = typer.Option("0-99", help="test seeds, e.g. 0-99"),
    t_end: float = typer.Option(30.0, help="yr"),
    integrator: str = typer.Option("hermite", help="hermite (mu) | aarseth (eta = mu)"),
    compare: bool = typer.Option(False, help="also run every fixed mu and plot the front"),
    plot: Path = typer.Option(None, help="PNG of error vs cost (with --compare)"),
    max_substeps: int = typer.Option(20000, help="per-interval step cap"),
):
    """Run a trained policy on many systems at once; print error and cost statistics."""
    from .dqn import Policy
    from .env import ACTIONS
    from .evaluate import parse_seeds, run_controller, summarize
    from .plots import plot_front

    pol = Policy.load(policy)
    s = parse_seeds(seeds)
    rows = []
    res = run_controller(s, pol, integrator=integrator, t_end=t_end, max_substeps=max_substeps, progress=True)
    rows.append({"name": "policy", **summarize(res)})
    if compare:
        for k, mu in enumerate(ACTIONS):
            r = run_controller(s, k, integrator=integrator, t_end=t_end, max_substeps=max_substeps)
            rows.append({"name": f"mu={mu:.2g}", "group": "fixed", **summarize(r)})
    typer.echo(f"{'controller':>12} {'med |dE/E0|':>12} {'p90 |dE/E0|':>12} {'med n_force':>12} {'early':>6} {'stalled':>8}")
    for r in rows:
        typer.echo(f"{r['name']:>12} {r['median_error']:12.2e} {r['p90_error']:12.2e} {r['median_n_force']:12.0f} "
                   f"{r['ended_early']:6d} {r['stalled']:8d}")
    if plot is not None:
        plot_front(rows, plot, title=f"{integrator}, seeds {seeds}, {t_end:g} yr")
        typer.echo(f"wrote {plot}")


def demo(out_dir: Path) -> str:
    """Figure-eight energy check, 64 paper systems batched, Pythagorean orbits PNG (< 7 s)."""
    from .initial_conditions import FIGURE_EIGHT_PERIOD, figure_eight, paper_triple, pythagorean
    from .integrate import integrate
    from .plots import plot_orbits

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    fe = integrate(figure_eight(), [FIGURE_EIGHT_PERIOD], mu=6e-3, G=1.0)
    p = pythagorean()
    times = torch.linspace(0.02, 2.0, 100, dtype=torch.float64)
    tr = integrate(p, times, mu=5e-3, G=1.0)
    plot_orbits(torch.cat([p.points[None], tr.x[:, 0]]).numpy(), out_dir / "pythagorean_orbits.png",
                title="Pythagorean problem, t = 0..2", labels=["m=3", "m=4", "m=5"])
    systems = [paper_triple(s) for s in range(64)]
    t0 = time.perf_counter()
    batch = integrate(systems, [0.3], mu=1e-2)
    wall = time.perf_counter() - t0
    rate = batch.state.n_steps.sum().item() / wall
    return (f"figure-eight |dE/E0| over one period {fe.relative_energy_error[-1, 0].item():.1e}; "
            f"64 paper systems batched: {rate:,.0f} system-steps/s; wrote pythagorean_orbits.png")
