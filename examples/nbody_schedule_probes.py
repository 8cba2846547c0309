"""Can ANY state-based mu schedule beat a constant mu?  Hand-written rules against the fixed-mu front.

    .venv/bin/python examples/nbody_schedule_probes.py [--seeds 1000-1063] [--t-end 30]

An upper-bound probe for the learned policy, run on training-range seeds (1000-1063 by default;
the test seeds 0-99 are never used here). Every rule picks, every 0.1 yr, one of the paper's 10 mu
values for the Hermite collision-time integrator, from the state only:

  encounter     fine mu while the collision time t_coll < threshold (an encounter is near), coarse otherwise
  reverse       the opposite (coarse in encounters, fine in quiet phases)
  budget        error feedback: refine when log10 |dE/E0| is above a budget path that ends at a target,
                coarsen when it is 1.5 dex below it
  alternate     state-independent: 4.6e-3 and 1e-2 on alternate intervals (or alternate 5-yr blocks)
  ratchet       switch once: 1e-2 -> 4.6e-3 after the first t_coll < 0.01 yr, or 4.6e-3 -> 1e-2 once |dE/E0| > 1e-9

For each it prints median / p90 final |dE/E0|, median force evaluations, and the gap to the
fixed-mu front at equal median cost (log-log interpolation; negative = worse than a constant mu).
Then a diagnostic of the fixed-mu = 1e-2 runs: how much of the per-interval energy changes cancel.
About 15 minutes of one CPU thread.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from geomsci.nbody import energy, paper_triple
from geomsci.nbody.env import ACTIONS, SystemBatch
from geomsci.nbody.evaluate import parse_seeds
from geomsci.nbody.integrate import state_from
from geomsci.nbody.integrators import evolve
from geomsci.nbody.timesteps import collision_timescale
from geomsci.nbody.units import G_AU

CAP = 40_000  # force evaluations per run, as in benchmarks/nbody.py


def fixed_front(seeds, t_end, idxs=(4, 5, 6, 7)):
    """Fixed mu = ACTIONS[idxs], all in one batch, straight to t_end -> list of (mu, median err, median evals)."""
    S = len(seeds)
    st = state_from([paper_triple(s) for s in seeds] * len(idxs))
    e0 = energy(st.x, st.v, st.m, st.G)
    evolve(st, t_end, param=torch.as_tensor(np.repeat(ACTIONS[list(idxs)], S)), max_steps=CAP - 1)
    err = ((energy(st.x, st.v, st.m, st.G) - e0) / e0).abs().numpy()
    n = st.n_force.numpy()
    return [(ACTIONS[i], np.median(err[k * S:(k + 1) * S]), np.median(n[k * S:(k + 1) * S])) for k, i in enumerate(idxs)]


def gap_dex(front, err, n):
    """log10(front error at cost n / err): > 0 means the rule beats a constant mu at equal median cost."""
    c = np.log10([f[2] for f in front])
    e = np.log10([f[1] for f in front])
    o = np.argsort(c)
    if not c.min() <= np.log10(n) <= c.max():
        return float("nan")
    return float(np.interp(np.log10(n), c[o], e[o]) - np.log10(err))


def run_rule(seeds, t_end, rule):
    """Run ``rule(k, t_coll (B,), log10 err (B,), memory dict) -> action indices (B,)`` in lock-step."""
    sb = SystemBatch(seeds, max_substeps=20_000)
    mem = {"a": np.full(sb.batch, 6)}
    for k in range(int(round(t_end / 0.1))):
        st = sb.state
        tc = collision_timescale(st.x, st.v, st.m, G_AU).numpy()
        le = np.log10(np.maximum(sb.rel_error.numpy(), 1e-16))
        a = np.clip(rule(k, tc, le, mem), 0, len(ACTIONS) - 1).astype(int)
        left = (CAP - st.n_force).clamp_min(0)
        sb.step(a, max_steps=torch.minimum(left, torch.full_like(left, 20_000)))
        mem["a"] = a
        if sb.done.all():
            break
    return sb.rel_error.numpy(), sb.state.n_force.numpy(), int(sb.ended_early.sum())


def rules(t_end):
    K = t_end / 0.1

    def encounter(fine, coarse, thr_yr):
        return lambda k, tc, le, m: np.where(tc < thr_yr, fine, coarse)

    def budget(target):
        def r(k, tc, le, m):
            path = target + 0.5 * np.log10((k + 1) / K)
            a = m["a"]
            return np.clip(np.where(le > path, a - 1, np.where(le < path - 1.5, a + 1, a)), 4, 8)
        return r

    def ratchet(start, end, trigger):
        def r(k, tc, le, m):
            f = m.setdefault("flag", np.zeros(len(le), bool))
            f |= trigger(tc, le)
            return np.where(f, end, start)
        return r

    return [
        ("encounter 4.6e-3 | 1e-2, t_coll < 0.1 yr", encounter(5, 6, 0.1)),
        ("reverse 1e-2 | 4.6e-3, t_coll < 0.1 yr", encounter(6, 5, 0.1)),
        ("encounter 2.2e-3 | 1e-2, t_coll < 0.03 yr", encounter(4, 6, 0.0316)),
        ("encounter 4.6e-3 | 2.2e-2, t_coll < 0.05 yr", encounter(5, 7, 0.05)),
        ("encounter 4.6e-3 | 1e-2, t_coll < 0.5 yr", encounter(5, 6, 0.5)),
        ("budget, target 1e-9", budget(-9.0)),
        ("alternate 4.6e-3/1e-2 every 0.1 yr", lambda k, tc, le, m: np.full(len(le), 6 if k % 2 else 5)),
        ("alternate 4.6e-3/1e-2 every 5 yr", lambda k, tc, le, m: np.full(len(le), 6 if (k // 50) % 2 else 5)),
        ("ratchet 1e-2 -> 4.6e-3 (t_coll < 0.01 yr)", ratchet(6, 5, lambda tc, le: tc < 0.01)),
        ("ratchet 4.6e-3 -> 1e-2 (|dE/E0| > 1e-9)", ratchet(5, 6, lambda tc, le: le > -9.0)),
    ]


def cancellation(seeds, t_end):
    """Per-interval energy changes at fixed mu = 1e-2: how much cancels, and are big ones foreseeable?"""
    sb = SystemBatch(seeds)
    J, TC = [], []
    for _ in range(int(round(t_end / 0.1))):
        st = sb.state
        TC.append(collision_timescale(st.x, st.v, st.m, G_AU).numpy())
        E = sb.E.clone()
        sb.step(np.full(sb.batch, 6))
        J.append(((sb.E - E) / sb.E0).numpy())
    J, TC = np.array(J), np.array(TC)
    final = np.abs(J.sum(0))
    big = np.abs(J) >= 0.1 * np.abs(J).max(0)[None]
    print(f"fixed mu = 1e-2, {len(seeds)} systems: sum over intervals of |energy change| / |final error|: median "
          f"{np.median(np.abs(J).sum(0) / final):.1f}; largest single change / final: {np.median(np.abs(J).max(0) / final):.2f}")
    print(f"intervals with a change >= 10% of the run's largest: {100 * big.mean():.1f}%; of those, only "
          f"{100 * (TC[big] < 0.1).mean():.0f}% started with t_coll < 0.1 yr (vs {100 * (TC < 0.1).mean():.0f}% of all)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1000-1063")
    ap.add_argument("--t-end", type=float, default=30.0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = parse_seeds(args.seeds)
    front = fixed_front(seeds, args.t_end)
    print(f"seeds {args.seeds}, {args.t_end:g} yr, Hermite; fixed-mu front:")
    for mu, e, n in front:
        print(f"{'mu = %.2g' % mu:>44}: median |dE/E0| {e:9.2e}  median evals {n:7.0f}")
    print()
    for name, rule in rules(args.t_end):
        t0 = time.process_time()
        err, n, early = run_rule(seeds, args.t_end, rule)
        me, mn = np.median(err), np.median(n)
        print(f"{name:>44}: median |dE/E0| {me:9.2e}  p90 {np.quantile(err, 0.9):9.2e}  median evals {mn:7.0f}  "
              f"early {early}  vs front at equal cost {gap_dex(front, me, mn):+.2f} dex  [{time.process_time() - t0:.0f} s]",
              flush=True)
    print()
    cancellation(seeds, args.t_end)


if __name__ == "__main__":
    main()
