"""`geomsci nbody ...`: integrate one system or an ensemble, train a time-step agent, evaluate it.

Every command checks its input and its output paths before it starts work (bad input: one line,
exit 2), never overwrites a file without ``--force``, and runs under `limit_threads` (``--threads``).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from geomsci.core.cli_checks import output_file
from geomsci.core.threads import limit_threads

from .demo import demo  # noqa: F401  (the `geomsci demo` step)

app = typer.Typer(help="N-body integrators and learned time-step control (AU, yr, Msun; G = 4 pi^2).", no_args_is_help=True)

IC_CHOICES = ("pythagorean", "figure_eight", "kepler", "paper", "plummer")
THREADS_HELP = "torch threads (default: $GEOMSCI_THREADS, else half the cores, 1 on a 2-core machine)"
PREDICTOR_HELP = (
    "Hermite predictor order: 3 (classic) or 5 (snap and crackle from the last step; more accurate, same evaluations)"
)


def _output_file(path: Path | None, option: str, force: bool, example: str) -> Path | None:
    """``path`` if it may be written (``core.cli_checks.output_file``), its folder made; None stays None."""
    if path is None:
        return None
    path = output_file(path, force, option, example=example)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _output_times(t_end: float, n_out: int):
    """The n_out output times t_end/n_out .. t_end, a float64 tensor, after checking --t-end and --n-out."""
    import torch

    if not (t_end > 0) or n_out < 1:
        raise ValueError(f"--t-end must be > 0 and --n-out >= 1, got {t_end} and {n_out}")
    return torch.linspace(0, t_end, n_out + 1, dtype=torch.float64)[1:]


def _check_method(method: str) -> None:
    from .integrators import METHODS

    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")


def _parse_actions(spec: str | None) -> list | None:
    """'1e-2,4.6e-2,0.1' -> [0.01, 0.046, 0.1] (checked); None -> None (the paper's ten)."""
    if spec is None:
        return None
    from .env import check_actions

    try:
        values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--actions: expected comma-separated step parameters like '1e-2,4.6e-2,0.1', got {spec!r}") from None
    return check_actions(values).tolist()


def _parse_base_rule(spec: str | None, option: str = "--base-rule") -> dict | None:
    """'0.1,3e-4' -> {'hi': 0.1, 'budget': 3e-4}; None -> None (no base rule)."""
    if spec is None:
        return None
    try:
        hi, budget = (float(v) for v in spec.split(","))
    except ValueError:
        raise ValueError(
            f"{option}: expected 'HI,BUDGET' like '0.1,3e-4' (DepthRule's mu and |dE/E0| budget), got {spec!r}"
        ) from None
    return {"hi": hi, "budget": budget}


def _parse_offsets(spec: str | None) -> list | None:
    """'-2,-1,0,1' -> [-2, -1, 0, 1]; None -> None (the default offsets)."""
    if spec is None:
        return None
    try:
        return [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--offsets: expected comma-separated integers like '-2,-1,0,1', got {spec!r}") from None


def _non_default_step_options(**opts) -> dict:
    """The `evolve` options that differ from the standard step (so the standard step passes none)."""
    standard = {"symmetric": 0, "corrector": 1, "compensated": False, "predictor_order": 3}
    return {k: v for k, v in opts.items() if v != standard[k]}


def _file_G(given: float | None, from_file: float | None) -> float:
    """The G to run a file's systems with: --g if given, else the file's own, else 4 pi^2 (AU, yr, Msun)."""
    from .units import G_AU

    return given if given is not None else (from_file if from_file is not None else G_AU)


def _system_from_file(path: Path, index: int, G: float | None):
    """System ``index`` of a CSV or rebound file (`geomsci.nbody.files`) and the G to run it with."""
    from .files import read_systems

    systems, G_file = read_systems(path)
    if not 0 <= index < len(systems):
        raise ValueError(f"--system: {path} holds {len(systems)} system(s), numbered 0-{len(systems) - 1}; got {index}")
    return systems[index], _file_G(G, G_file)


def _triples_in_au(path: Path) -> list:
    """The three-body systems of a file, checked to be in the controllers' units (AU, yr, Msun)."""
    from .files import read_systems
    from .units import G_AU

    found, G_file = read_systems(path)
    if G_file is not None and abs(G_file / G_AU - 1) > 1e-3:
        raise ValueError(
            f"--systems: {path} has G = {G_file:g}; the controllers run in AU, yr and Msun (G = 4 pi^2 = {G_AU:.4f}): "
            "convert the file first (rebound: sim.units = ('yr', 'AU', 'Msun') before adding the bodies)"
        )
    if G_file is not None and G_file != G_AU:  # e.g. rebound's ('yr', 'AU', 'Msun') units: G = 39.4769
        typer.echo(f"note: {path.name} has G = {G_file:.6g}; the controllers run with 4 pi^2 = {G_AU:.6g}", err=True)
    sizes = sorted({m.n_points for m in found})
    if sizes != [3]:
        raise ValueError(f"--systems: the controllers run three-body systems; {path} holds systems of {sizes} bodies")
    return found


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
    raise ValueError(f"--ic must be one of {IC_CHOICES} or a .csv / rebound .bin file of bodies, got {name!r}")


@app.command()
def run(
    ic: str = typer.Option(
        "pythagorean",
        help=f"initial condition: {', '.join(IC_CHOICES)}, or a file of bodies: a .csv (columns x, y, [z], vx, vy, [vz], m; "
        "optional 'system') or a rebound .bin",
    ),
    system: int = typer.Option(0, help="which system of an --ic file (0 = the first row group / snapshot)"),
    g: float = typer.Option(
        None,
        "--g",
        help="gravitational constant for an --ic file (default: the rebound file's own; 4 pi^2, AU/yr/Msun, for a CSV)",
    ),
    seed: int = typer.Option(0, help="system seed (paper, plummer)"),
    n: int = typer.Option(32, help="bodies (plummer)"),
    method: str = typer.Option("hermite", help="hermite | aarseth | leapfrog"),
    mu: float = typer.Option(1e-2, help="step parameter mu (hermite, leapfrog)"),
    eta: float = typer.Option(0.02, help="Aarseth's eta (aarseth)"),
    symmetric: int = typer.Option(0, help="iterations of the time-symmetrized step (0 = off; hermite, leapfrog)"),
    corrector: int = typer.Option(1, help="n of the P(EC)^n Hermite corrector (force evaluations per step)"),
    compensated: bool = typer.Option(False, help="compensated (TwoSum) position/velocity updates"),
    predictor_order: int = typer.Option(3, help=PREDICTOR_HELP),
    t_end: float = typer.Option(10.0, help="end time (yr for 'paper', N-body units otherwise)"),
    n_out: int = typer.Option(200, help="number of output times"),
    max_wall_time: float = typer.Option(None, help="stop after this many seconds (the trajectory so far is written)"),
    out: Path = typer.Option(Path("traj.csv"), "-o", "--out", help="CSV: t, body, x..vz, energy, n_force"),
    plot: Path = typer.Option(None, help="also write a PNG of the orbits"),
    force: bool = typer.Option(False, help="overwrite existing output files"),
    threads: int = typer.Option(None, help=THREADS_HELP),
):
    """Integrate one system and write its trajectory as CSV (one row per body and output time)."""
    import numpy as np
    import torch

    from geomsci.core.io import write_table

    from .integrate import integrate
    from .integrators import StepRule
    from .plots import plot_orbits

    times = _output_times(t_end, n_out)
    _check_method(method)
    StepRule(method, symmetric, corrector, compensated, predictor_order).check()
    if ic.lower().endswith((".csv", ".bin")):
        bodies, G = _system_from_file(Path(ic), system, g)
    else:
        if g is not None:
            raise ValueError(f"--g is for an --ic file; {ic!r} has its own units")
        bodies, G = _initial_condition(ic, seed, n)
    out = _output_file(out, "-o/--out", force, "trajectory.csv")
    plot = _output_file(plot, "--plot", force, "orbits.png")
    with limit_threads(threads):
        t0 = time.perf_counter()
        tr = integrate(
            bodies,
            times,
            method=method,
            mu=mu,
            eta=eta,
            G=G,
            symmetric=symmetric,
            corrector=corrector,
            compensated=compensated,
            predictor_order=predictor_order,
            max_wall_time=max_wall_time,
            progress=True,
        )
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
        plot_orbits(torch.cat([bodies.points[None], tr.x[:, 0]]).numpy(), plot, title=f"{Path(ic).name}, {method}")
    err = tr.relative_energy_error[-1, 0].item()
    typer.echo(
        f"wrote {out}: {T} outputs x {N} bodies; |dE/E0| = {err:.2e}, "
        f"{int(tr.n_force[-1, 0])} force evaluations, {wall:.2f} s"
        + (" (stopped early: see the warning)" if bool(tr.stalled[0]) else "")
    )


@app.command()
def ensemble(
    out: Path = typer.Option(..., "-o", "--out", help="folder for manifest.json and the chunk files"),
    n_systems: int = typer.Option(None, help="number of paper systems (seeds 0 .. n-1); with --systems: the first n"),
    systems: Path = typer.Option(
        None, help="integrate the systems of this file instead (a .csv of bodies or a rebound .bin; geomsci.nbody.files)"
    ),
    g: float = typer.Option(None, "--g", help="gravitational constant for --systems (default: the file's own; 4 pi^2 for a CSV)"),
    t_end: float = typer.Option(30.0, help="yr"),
    n_out: int = typer.Option(1, help="output times, evenly spaced up to --t-end"),
    chunk_size: int = typer.Option(4096, help="systems per batch and per file"),
    method: str = typer.Option("hermite", help="hermite | aarseth | leapfrog"),
    mu: float = typer.Option(1e-2, help="step parameter mu (hermite, leapfrog)"),
    eta: float = typer.Option(0.02, help="Aarseth's eta (aarseth)"),
    symmetric: int = typer.Option(1, help="iterations of the time-symmetrized step (0 = off)"),
    corrector: int = typer.Option(1, help="n of the P(EC)^n Hermite corrector"),
    compensated: bool = typer.Option(False, help="compensated (TwoSum) updates"),
    predictor_order: int = typer.Option(3, help=PREDICTOR_HELP),
    device: str = typer.Option(None, help="torch device of the integration, e.g. cuda"),
    scheduler: str = typer.Option(None, help="dask scheduler: threads | processes | tcp://host:port (default: this process)"),
    force: bool = typer.Option(False, help="start over if the folder holds a different ensemble"),
    threads: int = typer.Option(None, help=THREADS_HELP),
):
    """Integrate many systems (the paper's, or those of a file) in chunks streamed to disk; rerun to resume."""
    from .ensemble import integrate_ensemble
    from .initial_conditions import paper_triple
    from .units import G_AU

    times = _output_times(t_end, n_out).tolist()
    _check_method(method)
    if systems is None:
        if n_systems is None:
            raise ValueError("give --n-systems N (paper systems 0 .. N-1) or --systems FILE")
        if g is not None:
            raise ValueError("--g is for --systems; the paper systems are in AU, yr, Msun")
        make, G = paper_triple, G_AU
    else:
        from .files import SystemsFile

        make = SystemsFile(systems)
        sizes = sorted({m.n_points for m in make.systems})
        if len(sizes) > 1:
            raise ValueError(f"--systems: {systems} mixes systems of {sizes} bodies; an ensemble needs one size")
        n_systems = len(make) if n_systems is None else n_systems
        if not 1 <= n_systems <= len(make):
            raise ValueError(f"--n-systems: {systems} holds {len(make)} system(s), got {n_systems}")
        G = _file_G(g, make.G)
    opts = {
        "method": method,
        "mu": mu,
        "eta": eta,
        "symmetric": symmetric,
        "corrector": corrector,
        "compensated": compensated,
        "predictor_order": predictor_order,
    }
    with limit_threads(threads):
        t0 = time.perf_counter()
        path = integrate_ensemble(
            make, n_systems, times, out, chunk_size=chunk_size, scheduler=scheduler, G=G, device=device, force=force, **opts
        )
    typer.echo(
        f"wrote {n_systems} systems to {path} in {time.perf_counter() - t0:.1f} s (geomsci.nbody.load_ensemble reads them back)"
    )


@app.command()
def train(
    out: Path = typer.Option(Path("policy.pt"), "-o", "--out", help="where to save the policy"),
    episodes: int = typer.Option(320, help="training episodes (systems)"),
    parallel: int = typer.Option(16, help="systems rolled out at once (batched integrator, one mu each)"),
    n_checks: int = typer.Option(200, help="0.1-yr intervals per episode"),
    reward: str = typer.Option("steady", help="steady | final | cost | paper (see geomsci.nbody.rewards)"),
    lam: float = typer.Option(1.0, help="cost weight (per 1000 force evaluations) of the cost/final/steady rewards"),
    c_switch: float = typer.Option(0.5, help="charge per notch that mu moves (steady reward)"),
    e_lim: float = typer.Option(
        None, help="|dE/E0| below which accuracy earns nothing (default: 1e-12 steady/final, 1e-10 cost/paper)"
    ),
    observation: str = typer.Option(
        "extended",
        help="extended (16 numbers) | paper (13) | encounter (18) | encounter_mass (18, depth against the energy at stake)",
    ),
    stall_charge: bool = typer.Option(True, help="charge a system stopped by the step cap for the intervals it skips"),
    actions: str = typer.Option(
        None, help="step parameters to choose from, e.g. '1e-2,2.2e-2,4.6e-2,0.1,0.22' (default: the paper's ten)"
    ),
    symmetric: int = typer.Option(0, help="train on the time-symmetrized step with this many iterations (0 = standard)"),
    corrector: int = typer.Option(1, help="n of the P(EC)^n Hermite corrector in training rollouts"),
    compensated: bool = typer.Option(False, help="compensated (TwoSum) updates in training rollouts"),
    predictor_order: int = typer.Option(3, help="Hermite predictor order in training rollouts: 3 or 5"),
    base_rule: str = typer.Option(
        None,
        help="residual agent: start from DepthRule(HI, BUDGET), given as 'HI,BUDGET' (e.g. '0.1,3e-4'; needs "
        "--observation encounter; actions default to the half notches 4.6e-3 ... 0.15)",
    ),
    offsets: str = typer.Option(None, help="residual agent: its choices in action indices from the rule's (default '-2,-1,0,1')"),
    c_offset: float = typer.Option(0.0, help="residual agent: training charge per index its action is away from the rule's"),
    eps_start: float = typer.Option(1.0, help="exploration rate at the start (0.3 suits a residual agent: it starts good)"),
    eps_end: float = typer.Option(0.05, help="exploration rate it decays to"),
    keep: str = typer.Option(
        None,
        help="residual agent: where the rule's choice stands: 'dips' (where it lowers mu), 'passages' (near any) or 'ordinary' (away from them)",
    ),
    seed: int = typer.Option(1, help="training seed (systems are drawn from seeds >= 1000)"),
    force: bool = typer.Option(False, help="overwrite an existing policy file"),
    threads: int = typer.Option(1, help="torch threads (1 reproduces the shipped policy bit for bit)"),
):
    """Train the DQN time-step agent on seeds disjoint from the test seeds."""
    from .dqn import DQNConfig, train_dqn
    from .env import OBSERVATIONS
    from .rewards import REWARDS

    if reward not in REWARDS:
        raise ValueError(f"--reward must be one of {', '.join(REWARDS)}, got {reward!r}")
    if observation not in OBSERVATIONS:
        raise ValueError(f"--observation must be one of {', '.join(OBSERVATIONS)}, got {observation!r}")
    from .integrators import StepRule

    StepRule("hermite", symmetric, corrector, compensated, predictor_order).check()
    step_options = _non_default_step_options(
        symmetric=symmetric, corrector=corrector, compensated=compensated, predictor_order=predictor_order
    )
    out = _output_file(out, "-o/--out", force, "policy.pt")
    cfg = DQNConfig(
        episodes=episodes,
        parallel=parallel,
        n_checks=n_checks,
        reward=reward,
        lam=lam,
        seed=seed,
        eps_decay=max(episodes / 4, 1.0),
        observation=observation,
        c_switch=c_switch,
        stall_charge=stall_charge,
        e_lim=e_lim,
        actions=_parse_actions(actions),
        step_options=step_options or None,
        base_rule=_parse_base_rule(base_rule),
        offsets=_parse_offsets(offsets),
        c_offset=c_offset,
        keep=keep,
        eps_start=eps_start,
        eps_end=eps_end,
    )
    with limit_threads(threads):
        t0 = time.perf_counter()
        pol = train_dqn(cfg)
    pol.save(out)
    typer.echo(f"saved {out} after {episodes} episodes in {time.perf_counter() - t0:.0f} s")


@app.command()
def evaluate(
    policy: Path = typer.Argument(None, help="policy file from `geomsci nbody train` (or give --rule)"),
    rule: str = typer.Option(
        None,
        help="evaluate the hand-written DepthRule(HI, BUDGET) instead of a policy, as 'HI,BUDGET' (e.g. '0.1,3e-4', "
        "the rule that meets the cost goal; its default step is the symmetrized one its law was fitted on)",
    ),
    mass_aware: bool = typer.Option(
        False, help="with --rule: measure a passage's depth against the energy at stake, q |E0| / (m_i m_j 5.38) (other masses)"
    ),
    seeds: str = typer.Option("0-99", help="test seeds, e.g. 0-99"),
    systems: Path = typer.Option(
        None,
        help="run on the three-body systems of this file instead of seeds (a .csv of bodies or a rebound .bin, "
        "in AU, yr, Msun; see geomsci.nbody.files)",
    ),
    t_end: float = typer.Option(30.0, help="yr"),
    integrator: str = typer.Option("hermite", help="hermite (mu) | aarseth (eta = mu)"),
    symmetric: int = typer.Option(
        None, help="time-symmetrized step iterations (default: as the policy was trained; 0 = standard)"
    ),
    corrector: int = typer.Option(None, help="n of the P(EC)^n corrector (default: as the policy was trained)"),
    compensated: bool = typer.Option(None, "--compensated/--no-compensated", help="TwoSum updates (default: as trained)"),
    predictor_order: int = typer.Option(None, help="Hermite predictor order, 3 or 5 (default: as trained)"),
    compare: bool = typer.Option(False, help="also run every fixed mu and plot the front"),
    plot: Path = typer.Option(None, help="PNG of error vs cost (with --compare)"),
    run_plot: Path = typer.Option(
        None, help="PNG of the first system's run: its orbits, the mu chosen in each interval and |dE/E0| over time"
    ),
    max_substeps: int = typer.Option(20000, help="per-interval step cap"),
    force: bool = typer.Option(False, help="overwrite an existing --plot / --run-plot file"),
    threads: int = typer.Option(None, help=THREADS_HELP),
):
    """Run a trained policy, or a hand-written rule, on many systems at once; print error and cost statistics."""
    import numpy as np

    from .dqn import Policy
    from .env import INTEGRATORS
    from .evaluate import parse_seeds, run_controller, summarize
    from .integrators import StepRule
    from .plots import plot_controlled_run, plot_front

    if integrator not in INTEGRATORS:
        raise ValueError(f"--integrator must be one of {', '.join(INTEGRATORS)}, got {integrator!r}")
    if (policy is None) == (rule is None):
        raise ValueError("give a policy file or --rule HI,BUDGET (one of them)")
    if mass_aware and rule is None:
        raise ValueError("--mass-aware is an option of --rule (a policy reads the observation it was trained on)")
    if rule is not None:
        from .rules import DepthRule

        pol, trained, name = DepthRule(**_parse_base_rule(rule, "--rule"), mass_aware=mass_aware), {"symmetric": 1}, "rule"
    else:
        pol, name = Policy.load(policy), "policy"
        trained = pol.config.step_options or {}
    given = {"symmetric": symmetric, "corrector": corrector, "compensated": compensated, "predictor_order": predictor_order}
    opts = {k: (trained.get(k) if v is None else v) for k, v in given.items()}
    opts = _non_default_step_options(**{k: v for k, v in opts.items() if v is not None})
    StepRule(integrator, **opts).check()
    s = parse_seeds(seeds) if systems is None else _triples_in_au(systems)
    where = f"seeds {seeds}" if systems is None else f"{len(s)} system(s) of {systems.name}"
    plot = _output_file(plot, "--plot", force, "front.png")
    run_plot = _output_file(run_plot, "--run-plot", force, "run.png")
    rows = []
    with limit_threads(threads):
        res = run_controller(
            s, pol, integrator=integrator, t_end=t_end, max_substeps=max_substeps, progress=True, step_options=opts,
            record=run_plot is not None,
        )  # fmt: skip
        rows.append({"name": name, **summarize(res)})
        if compare:
            for k, mu in enumerate(pol.actions):
                r = run_controller(
                    s, k, integrator=integrator, t_end=t_end, max_substeps=max_substeps, step_options=opts, actions=pol.actions
                )
                rows.append({"name": f"mu={mu:.2g}", "group": "fixed", **summarize(r)})
    typer.echo(f"{integrator}, step options {opts or 'none (the standard step)'}, mu from {np.round(pol.actions, 4).tolist()}")
    if rule is not None:
        typer.echo(pol.name)
    elif pol.view.rule is not None:
        typer.echo(
            f"residual agent on {pol.view.rule.name}, offsets {pol.view.offsets.tolist()}, the rule stands: {pol.config.keep}"
        )
    typer.echo(
        f"{'controller':>12} {'med |dE/E0|':>12} {'p90 |dE/E0|':>12} {'med n_force':>12} {'mean n_force':>12} {'early':>6} "
        f"{'stalled':>8}"
    )
    for r in rows:
        typer.echo(
            f"{r['name']:>12} {r['median_error']:12.2e} {r['p90_error']:12.2e} {r['median_n_force']:12.0f} "
            f"{r['mean_n_force']:12.0f} {r['ended_early']:6d} {r['stalled']:8d}"
        )
    if plot is not None:
        plot_front(rows, plot, title=f"{integrator}, {where}, {t_end:g} yr")
        typer.echo(f"wrote {plot}")
    if run_plot is not None:
        first = f"seed {s[0]}" if systems is None else f"system 0 of {systems.name}"
        title = f"{name} on {first}: {res['n_force'][0]} force evaluations, final |dE/E0| {res['final_error'][0]:.2g}"
        typer.echo(f"wrote {plot_controlled_run(res, run_plot, title=title)}")
