"""Benchmark: a learned time-step policy against fixed step parameters, Aarseth's rule and IAS15.

Test systems: the paper's three-body generator, seeds 0-99 (the policy was trained on seeds >=
1000), integrated for 30 yr with a decision every 0.1 yr. For every controller we print the
median and 90th-percentile final |dE/E0|, the median number of force evaluations, the runs that
ended early (|dE/E0| > 0.1) and the runs stopped by the step budget ('capped'; their error is
the one where they stopped and their cost is at least the budget). Then rebound's IAS15 on the
same systems (the accuracy ceiling) and the batched-Hermite throughput beside IAS15's.

A state-independent probe row, 'alternating mu' (4.6e-3 and 1e-2 on alternate 0.1-yr intervals),
measures what mixing mu costs by itself: the final error of these runs is the small net of large,
mostly cancelling excursions in encounters, and a mixed run errs like its coarser mu while
paying for the finer one (examples/nbody_schedule_probes.py has more such rules). The verdict lines interpolate the fixed-parameter
front in log-log (rows with <= 10% capped runs) at the policy's median error and median cost.

Numbers in docs/nbody.md come from the full run (8 min wall on the shared CPU):

    .venv/bin/python benchmarks/nbody.py            # full: seeds 0-99, 30 yr
    .venv/bin/python benchmarks/nbody.py --quick    # seeds 0-9, 5 yr
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from geomsci.nbody import energy, paper_triple
from geomsci.nbody.dqn import Policy
from geomsci.nbody.env import ACTIONS
from geomsci.nbody.evaluate import run_controller, summarize
from geomsci.nbody.integrate import state_from
from geomsci.nbody.integrators import evolve
from geomsci.nbody.plots import plot_front
from geomsci.nbody.reference import ias15_final_energy_error, rebound_simulation

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = ROOT / "assets" / "nbody" / "policy.pt"


def row_text(name, s):
    return (f"{name:>16} {s['median_error']:11.2e} {s['p90_error']:11.2e} {s['median_n_force']:12.0f} "
            f"{s['ended_early']:6d} {s['stalled']:7d}")


def interp_front(front, x_key, y_key, x):
    """log-log interpolation of y(x) along the fixed-parameter front (None outside its range)."""
    xs = np.log10([r[x_key] for r in front])
    ys = np.log10([r[y_key] for r in front])
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    lx = np.log10(x)
    if lx < xs[0] or lx > xs[-1]:
        return None
    return 10 ** np.interp(lx, xs, ys)


def pareto(policy_row, front):
    """Cost ratio at equal median error, and error gap (dex) at equal median cost."""
    ok = [r for r in front if r["stalled"] <= 0.1 * r["n_runs"]]  # medians unaffected by a few capped runs
    c_fixed = interp_front(ok, "median_error", "median_n_force", policy_row["median_error"])
    e_fixed = interp_front(ok, "median_n_force", "median_error", policy_row["median_n_force"])
    ratio = None if c_fixed is None else c_fixed / policy_row["median_n_force"]
    dex = None if e_fixed is None else np.log10(e_fixed / policy_row["median_error"])
    return ratio, dex


def verdict(prow, rows, pname) -> bool:
    """Print where ``prow`` sits against the fixed-parameter front; True when the issue's goal holds."""
    ratio, dex = pareto(prow, rows)
    rtxt = ("outside the front" if ratio is None else f"{ratio:.2f}x fewer force evaluations" if ratio >= 1
            else f"{1 / ratio:.2f}x more force evaluations (ratio {ratio:.2f})")
    dtxt = ("outside the front" if dex is None else f"{dex:.2f} dex lower error" if dex >= 0
            else f"{-dex:.2f} dex higher error")
    goal = ((ratio is not None and ratio >= 1.5) or (dex is not None and dex >= 0.5)) and prow["ended_early"] == 0
    print(f"{'':>16} vs fixed {pname} (rows with <= 10% capped): at equal median error {rtxt}; at equal median cost "
          f"{dtxt}; goal (>=1.5x or >=0.5 dex, no early ends) {'MET' if goal else 'NOT met'}")
    return goal


def run_fixed(seeds, integrator, t_end, max_force):
    """Every fixed parameter on all seeds as ONE batch of 10 x len(seeds) systems, straight to t_end.

    Each system keeps its own step size, and a system's bits do not depend on its batch-mates, so
    this equals 10 separate runs at a fraction of the Python overhead. (A fixed parameter needs no
    0.1-yr decision points, which in lock-step would cost the sum over intervals of the slowest
    system's steps.) Returns 10 result dicts like `run_controller`'s.
    """
    S, K = len(seeds), len(ACTIONS)
    st = state_from([paper_triple(s) for s in seeds] * K)
    param = torch.as_tensor(np.repeat(ACTIONS, S), dtype=torch.float64)
    e0 = energy(st.x, st.v, st.m, st.G)
    stalled = evolve(st, t_end, method=integrator, param=param, max_steps=max_force - 1).numpy()
    err = ((energy(st.x, st.v, st.m, st.G) - e0) / e0).abs().numpy()
    err = np.where(np.isfinite(err), err, np.inf)
    out = []
    for k in range(K):
        sl = slice(k * S, (k + 1) * S)
        out.append({"final_error": err[sl], "n_force": st.n_force.numpy()[sl], "ended_early": err[sl] > 0.1,
                    "stalled": stalled[sl]})
    return out


def throughput(n_it: int, t_end: float, device: str, sizes=(1, 64, 256)) -> None:
    """System-steps per second of the batched Hermite integrator beside rebound IAS15's steps per second."""
    print(f"== throughput: batched Hermite (mu = 1e-2, {device}) vs rebound IAS15 (1 system, CPU), 1 CPU thread ==")
    for B in sizes:
        st = state_from([paper_triple(s % 100).to(device) for s in range(B)])
        evolve(st, 1e9, param=1e-2, max_steps=5)  # warm-up (CUDA context, kernels)
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        evolve(st, 1e9, param=1e-2, max_steps=n_it)
        if device != "cpu":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"  Hermite B={B:>6}: {B * n_it / dt:14,.0f} system-steps/s")
    sim = rebound_simulation(paper_triple(0))
    t0 = time.perf_counter()
    sim.integrate(t_end, exact_finish_time=1)
    dt = time.perf_counter() - t0
    print(f"  IAS15 (1 system): {sim.steps_done / dt:14,.0f} steps/s ({sim.steps_done} steps to {t_end:g} yr)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="seeds 0-9 over 5 yr")
    ap.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    ap.add_argument("--max-force", type=int, default=None, help="force-evaluation budget per run")
    ap.add_argument("--out", type=Path, default=Path("bench_nbody"))
    ap.add_argument("--throughput-only", metavar="DEVICE", default=None,
                    help="only the throughput table, on this device (cpu, cuda), with batches up to 65 536 on CUDA")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.throughput_only:
        sizes = (1, 64, 256) if args.throughput_only == "cpu" else (1, 64, 256, 4096, 65536)
        throughput(200 if args.quick else 1000, 30.0, args.throughput_only, sizes)
        return
    seeds = list(range(10 if args.quick else 100))
    t_end = 5.0 if args.quick else 30.0
    max_force = args.max_force or (10_000 if args.quick else 40_000)
    args.out.mkdir(parents=True, exist_ok=True)
    pol = Policy.load(args.policy)
    print(f"seeds {seeds[0]}-{seeds[-1]}, {t_end:g} yr, decisions every 0.1 yr, budget {max_force} force evaluations per run")
    print(f"policy {args.policy} (trained on seeds >= 1000, {pol.config.episodes} episodes, reward "
          f"'{pol.config.reward}', observation '{pol.observation}')\n")
    head = f"{'controller':>16} {'med|dE/E0|':>11} {'p90|dE/E0|':>11} {'med n_force':>12} {'early':>6} {'capped':>7}"
    all_rows, verdicts = {}, {}
    for integ, pname in (("hermite", "mu"), ("aarseth", "eta")):
        print(f"== {integ} ({pname} per decision) ==")
        print(head)
        t0 = time.perf_counter()
        blocks = run_fixed(seeds, integ, t_end, max_force)
        print(f"{'':>16} (10 fixed {pname}: {10 * len(seeds)} systems in one batch, {time.perf_counter() - t0:.0f} s)")
        t0 = time.perf_counter()
        blocks.append(run_controller(seeds, pol, integrator=integ, t_end=t_end, max_force=max_force, progress=True))
        t_pol = time.perf_counter() - t0
        rows = []
        for k, val in enumerate(ACTIONS):
            s = summarize(blocks[k])
            rows.append({"name": f"{pname}={val:.2g}", "group": f"fixed {pname}", "n_runs": len(seeds), **s})
            print(row_text(rows[-1]["name"], s))
        res = blocks[-1]
        s = summarize(res)
        prow = {"name": "RL policy", "group": "RL policy", "n_runs": len(seeds), **s}
        used = np.bincount(res["actions"][res["actions"] >= 0], minlength=len(ACTIONS))
        print(row_text("RL policy", s), f"  [{t_pol:.0f} s, decisions every 0.1 yr]")
        print(f"{'':>16} policy's choices: " + ", ".join(f"{ACTIONS[i]:.2g}:{100 * used[i] / used.sum():.0f}%"
                                                        for i in range(len(ACTIONS)) if used[i]))
        acts = res["actions"]
        switches = ((acts[1:] != acts[:-1]) & (acts[1:] >= 0)).sum(0)
        print(f"{'':>16} changes of the parameter per run: median {np.median(switches):.0f}, max {switches.max()}")
        verdicts[integ] = verdict(prow, rows, pname)
        if integ == "hermite":
            alt = np.where(np.arange(int(round(t_end / 0.1))) % 2 == 0, 5, 6)
            t0 = time.perf_counter()
            ares = run_controller(seeds, lambda obs, _c=iter(alt): np.full(len(obs), next(_c)), integrator=integ,
                                  t_end=t_end, max_force=max_force)
            arow = {"name": "alternating mu", "group": "probe", "n_runs": len(seeds), **summarize(ares)}
            print(row_text(arow["name"], arow), f"  [{time.perf_counter() - t0:.0f} s] mu = 4.6e-3 / 1e-2 on alternate intervals")
            verdict(arow, rows, pname)
        print()
        all_rows[integ] = rows + [prow]
        plot_front(rows + [prow], args.out / f"front_{integ}.png", title=f"{integ}: seeds 0-{seeds[-1]}, {t_end:g} yr")

    print("== rebound IAS15 (accuracy ceiling) ==")
    t0 = time.perf_counter()
    errs, steps = zip(*[ias15_final_energy_error(paper_triple(s), t_end) for s in seeds])
    print(f"{'IAS15':>16} {np.median(errs):11.2e} {np.quantile(errs, 0.9):11.2e} {'(steps)':>5}{np.median(steps):7.0f}"
          f"  [{time.perf_counter() - t0:.0f} s]\n")

    throughput(200 if args.quick else 1000, t_end, "cpu")
    print(f"\nfront plots: {args.out / 'front_hermite.png'}, {args.out / 'front_aarseth.png'}")
    both = verdicts["hermite"] and verdicts["aarseth"]
    print(f"issue goal (dominates the fixed-mu front on Hermite AND keeps it driving the Aarseth integrator, no early ends): "
          f"{'MET' if both else 'NOT met'} (hermite: {'met' if verdicts['hermite'] else 'not met'}, "
          f"aarseth: {'met' if verdicts['aarseth'] else 'not met'})")


if __name__ == "__main__":
    main()
