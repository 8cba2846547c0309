"""Can ANY state-based mu schedule beat a constant mu?  Hand-written rules against the fixed-mu front.

    .venv/bin/python examples/nbody_schedule_probes.py [--seeds 1000-1063] [--t-end 30] [--only oracle|rejection]

An upper-bound probe for the learned policy, run on training-range seeds (1000-1063 by default;
the test seeds 0-99 are never used here). Every rule picks, every 0.1 yr, one of the paper's 10 mu
values for the Hermite collision-time integrator, from the state only:

  encounter     fine mu while the collision time t_coll < threshold (an encounter is near), coarse otherwise
  reverse       the opposite (coarse in encounters, fine in quiet phases)
  budget        error feedback: refine when log10 |dE/E0| is above a budget path that ends at a target,
                coarsen when it is 1.5 dex below it
  alternate     state-independent: 4.6e-3 and 1e-2 on alternate intervals (or alternate 5-yr blocks)
  ratchet       switch once: 1e-2 -> 4.6e-3 after the first t_coll < 0.01 yr, or 4.6e-3 -> 1e-2 once |dE/E0| > 1e-9
  pericentre    foresight from two-body elements (`pair_orbit`): fine mu while a pair whose pericentre is
                deep (G m_i m_j / (q |E0|) > 30 or 300) passes it within 0.1 yr of the decision
  hierarchy     fine mu while the third body's orbit about the most bound pair brings it within 5 binary
                apocentres in the next 0.3 yr (or it is there, or no pair is bound)

For each it prints median / p90 final |dE/E0|, median force evaluations, and the gap to the
fixed-mu front at equal median cost (log-log interpolation; negative = worse than a constant mu).
Then a diagnostic of the fixed-mu = 1e-2 runs: how much of the per-interval energy changes cancel,
and a hindsight bound: what choosing each interval's mu with knowledge of its cost and energy change
could gain at equal cost, under three models of how the changes add up (see `hindsight`), and a
hindsight replay that refines exactly the intervals that held the largest changes (`hindsight_replay`),
and a per-run oracle: one constant mu per system, chosen knowing its outcome at every mu
(`per_run_oracle`; `--only oracle` runs just that, ~1 min), and interval rejection: an error-controlled
scheme outside the agent's interface that redoes an interval at a finer mu when its energy change
exceeds a threshold (`interval_rejection`; `--only rejection`, ~4 min). About 30 minutes of one CPU thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from geomsci.nbody import energy, pair_orbit, paper_triple
from geomsci.nbody.env import ACTIONS, SystemBatch
from geomsci.nbody.evaluate import parse_seeds
from geomsci.nbody.integrate import state_from
from geomsci.nbody.integrators import evolve
from geomsci.nbody.timesteps import collision_timescale
from geomsci.nbody.units import G_AU

CAP = 40_000  # force evaluations per run, as in benchmarks/nbody.py


def fixed_runs(seeds, t_end, idxs=None):
    """Constant mu = ACTIONS[idxs], all in one batch, straight to t_end -> (error, evals, capped), each (K, S)."""
    S, idxs = len(seeds), list(range(len(ACTIONS)) if idxs is None else idxs)
    st = state_from([paper_triple(s) for s in seeds] * len(idxs))
    e0 = energy(st.x, st.v, st.m, st.G)
    capped = evolve(st, t_end, param=torch.as_tensor(np.repeat(ACTIONS[idxs], S)), max_steps=CAP - 1).numpy()
    err = ((energy(st.x, st.v, st.m, st.G) - e0) / e0).abs().numpy()
    return err.reshape(-1, S), st.n_force.numpy().reshape(-1, S), capped.reshape(-1, S)


def fixed_front(seeds, t_end, idxs=(4, 5, 6, 7)):
    """Fixed mu = ACTIONS[idxs] -> list of (mu, median err, median evals)."""
    err, n, _ = fixed_runs(seeds, t_end, idxs)
    return [(ACTIONS[i], np.median(err[k]), np.median(n[k])) for k, i in enumerate(idxs)]


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
        mem["state"], mem["E0"] = st, sb.E0  # rules that look at the orbits read them from here
        a = np.clip(rule(k, tc, le, mem), 0, len(ACTIONS) - 1).astype(int)
        left = (CAP - st.n_force).clamp_min(0)
        sb.step(a, max_steps=torch.minimum(left, torch.full_like(left, 20_000)))
        mem["a"] = a
        if sb.done.all():
            break
    return sb.rel_error.numpy(), sb.state.n_force.numpy(), int(sb.ended_early.sum())


def orbit_features(st, E0):
    """Per system, from two-body elements: the depth G m_i m_j / (q |E0|) of every pair whose pericentre
    falls within 0.1 yr of now (0 if none), and whether the third body can reach the binary.

    'binary' is the most bound pair; the third body 'threatens' it when its own orbit about the binary's
    centre of mass brings it within 5 binary apocentres in the next 0.3 yr, or it is already there.
    """
    els = {(i, j): pair_orbit(st.x, st.v, st.m, G_AU, i, j) for i, j in ((0, 1), (0, 2), (1, 2))}
    depth = torch.zeros_like(E0)
    for (i, j), el in els.items():
        soon = el["t_peri"].abs() < 0.1
        depth = torch.maximum(depth, torch.where(soon, G_AU * st.m[:, i] * st.m[:, j] / (el["q"] * E0.abs()), 0.0))
    pairs = list(els)
    eps = torch.stack([els[p]["energy"] for p in pairs], 1)  # (B, 3)
    best = eps.argmin(1)
    threat = torch.zeros(st.batch, dtype=torch.bool)
    for b_idx, (i, j) in enumerate(pairs):
        k = 3 - i - j
        el = els[(i, j)]
        mi, mj = st.m[:, i : i + 1], st.m[:, j : j + 1]
        cx = (mi * st.x[:, i] + mj * st.x[:, j]) / (mi + mj)
        cv = (mi * st.v[:, i] + mj * st.v[:, j]) / (mi + mj)
        x3 = torch.stack([torch.zeros_like(cx), st.x[:, k] - cx], 1)
        v3 = torch.stack([torch.zeros_like(cv), st.v[:, k] - cv], 1)
        m3 = torch.stack([(mi + mj)[:, 0], st.m[:, k]], 1)
        out = pair_orbit(x3, v3, m3, G_AU, 0, 1)
        reach = 5 * el["a"] * (1 + el["e"])
        t = (out["r"] < reach) | ((out["q"] < reach) & (out["t_peri"].abs() < 0.3)) | (el["energy"] >= 0)
        threat = torch.where(best == b_idx, t, threat)
    return depth.numpy(), threat.numpy()


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

    def pericentre(fine, coarse, depth_min):
        def r(k, tc, le, m):
            depth, _ = orbit_features(m["state"], m["E0"])
            return np.where(depth > depth_min, fine, coarse)

        return r

    def hierarchy(fine, coarse):
        def r(k, tc, le, m):
            _, threat = orbit_features(m["state"], m["E0"])
            return np.where(threat, fine, coarse)

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
        ("pericentre 4.6e-3 | 1e-2, depth > 30", pericentre(5, 6, 30.0)),
        ("pericentre 4.6e-3 | 1e-2, depth > 300", pericentre(5, 6, 300.0)),
        ("hierarchy 4.6e-3 | 1e-2 (third body near)", hierarchy(5, 6)),
        ("alternate 4.6e-3/1e-2 every 0.1 yr", lambda k, tc, le, m: np.full(len(le), 6 if k % 2 else 5)),
        ("alternate 4.6e-3/1e-2 every 5 yr", lambda k, tc, le, m: np.full(len(le), 6 if (k // 50) % 2 else 5)),
        ("ratchet 1e-2 -> 4.6e-3 (t_coll < 0.01 yr)", ratchet(6, 5, lambda tc, le: tc < 0.01)),
        ("ratchet 4.6e-3 -> 1e-2 (|dE/E0| > 1e-9)", ratchet(5, 6, lambda tc, le: le > -9.0)),
    ]


def cancellation(seeds, t_end):
    """Per-interval energy changes at fixed mu = 1e-2: how much cancels, and are big ones foreseeable?"""
    sb = SystemBatch(seeds)
    J, TC, C = [], [], []
    for _ in range(int(round(t_end / 0.1))):
        st = sb.state
        TC.append(collision_timescale(st.x, st.v, st.m, G_AU).numpy())
        E = sb.E.clone()
        C.append(sb.step(np.full(sb.batch, 6))["n_force"])
        J.append(((sb.E - E) / sb.E0).numpy())
    J, TC, C = np.array(J), np.array(TC), np.array(C, dtype=float)
    final = np.abs(J.sum(0))
    big = np.abs(J) >= 0.1 * np.abs(J).max(0)[None]
    print(
        f"fixed mu = 1e-2, {len(seeds)} systems: sum over intervals of |energy change| / |final error|: median "
        f"{np.median(np.abs(J).sum(0) / final):.1f}; largest single change / final: {np.median(np.abs(J).max(0) / final):.2f}"
    )
    print(
        f"intervals with a change >= 10% of the run's largest: {100 * big.mean():.1f}%; of those, only "
        f"{100 * (TC[big] < 0.1).mean():.0f}% started with t_coll < 0.1 yr (vs {100 * (TC < 0.1).mean():.0f}% of all)"
    )
    hindsight(np.abs(J), C)
    return np.abs(J)


def hindsight_replay(seeds, t_end, changes, front):
    """Rerun with mu = 4.6e-3 (or 2.2e-3) on the intervals that held the largest energy changes of the
    fixed-mu = 1e-2 run (plus the one before and after), 1e-2 elsewhere: foresight no rule can have."""
    K, S = changes.shape
    variants = [(3, 5), (10, 5), (30, 5), (3, 4)]  # (intervals per system, fine action index)
    acts = []
    for n_top, fine in variants:
        a = np.full((K, S), 6)
        for b, ks in enumerate(np.argsort(-changes, 0)[:n_top].T):
            for k in ks:
                a[max(0, k - 1) : k + 2, b] = fine
        acts.append(a)
    A = np.concatenate(acts, 1)
    sb = SystemBatch(list(seeds) * len(variants))
    for k in range(K):
        left = (CAP - sb.state.n_force).clamp_min(0)
        sb.step(A[k], max_steps=torch.minimum(left, torch.full_like(left, 20_000)))
    err, n = sb.rel_error.numpy(), sb.state.n_force.numpy()
    print("hindsight replay (fine mu on each system's largest-change intervals of the mu = 1e-2 run, +-1 interval):")
    for i, (n_top, fine) in enumerate(variants):
        sl = slice(i * S, (i + 1) * S)
        me, mn = np.median(err[sl]), np.median(n[sl])
        print(
            f"  top {n_top:>2}, {ACTIONS[fine]:.2g} there ({100 * np.mean(acts[i] != 6):.1f}% of intervals): median |dE/E0| "
            f"{me:9.2e}  p90 {np.quantile(err[sl], 0.9):9.2e}  median evals {mn:7.0f}  vs front {gap_dex(front, me, mn):+.2f} dex"
        )


def hindsight(e, c, p=4.67):
    """Upper bound on what re-scheduling mu could gain, given hindsight of every interval's cost and change.

    Model: scaling mu by s_k in interval k multiplies that interval's energy change e_k by s_k^p (p = 4.67,
    the slope of the fixed-mu front: error ~ mu^4.67) and its cost c_k by 1/s_k. At equal total cost per
    system, the best continuous s_k (any 10-value schedule is one of them) minimizes a norm of the
    rescaled changes. How the changes add up is the open question, so three norms: 'sum' (they add, no
    cancellation), 'rms' (random signs: sqrt of the sum of squares), 'max' (the largest one decides).
    Lagrange gives s_k proportional to (c_k / e_k^r)^(1/(r p + 1)) for the r-norm (r = 1, 2), and for
    'max' the s_k that make every rescaled change equal. Prints the median gain in dex at equal cost.
    """
    e = e + 1e-30
    out = []
    for name, r in (("sum", 1), ("rms", 2)):
        g = (c / e**r) ** (1 / (r * p + 1))
        s = g * (c / g).sum(0) / c.sum(0)  # rescaled so that sum c/s = sum c
        out.append((name, np.log10((e**r).sum(0) / (e**r * s ** (r * p)).sum(0)) / r))
    level = ((c * e ** (1 / p)).sum(0) / c.sum(0)) ** p  # common rescaled change at equal cost
    out.append(("max", np.log10(e.max(0) / level)))
    print("hindsight bound (each 0.1-yr interval's mu chosen knowing its cost and energy change; equal cost per system):")
    for name, gain in out:
        print(
            f"  {name:>4} model: median gain {np.median(gain):.2f} dex (10-90%: {np.quantile(gain, 0.1):.2f} to "
            f"{np.quantile(gain, 0.9):.2f}); the goal needs 0.5"
        )


def per_run_oracle(seeds, t_end, front):
    """Hindsight choice of ONE constant mu per system, from that system's constant-mu outcomes.

    No chaos spoils this one (every run is a constant-mu run), so it bounds what a per-run controller
    could gain. 'tolerance': each system gets the largest mu whose final error is <= T (the smallest
    mu if none is). 'median gaming': the 51% of systems cheapest to bring below T get that mu and the
    rest a coarse 2.2e-2, which moves the two medians and wrecks the tail: the goal's median-only
    metric rewards it, a user would not.
    """
    err, n, capped = fixed_runs(seeds, t_end)
    K, S = err.shape
    cols = np.arange(S)
    print(f"per-run oracle (one constant mu per system, chosen knowing its outcome at every mu; {S} systems):")
    for T in 10.0 ** np.arange(-10.0, -5.5, 1.0):
        ok = (err <= T) & ~capped
        pick = np.where(ok.any(0), K - 1 - np.argmax(ok[::-1], 0), 0)  # largest mu reaching T, else the smallest
        e, c = err[pick, cols], n[pick, cols]
        order = np.argsort(np.where(ok.any(0), c, np.inf))
        game = np.full(S, 7)
        game[order[: S // 2 + 1]] = pick[order[: S // 2 + 1]]
        ge, gc = err[game, cols], n[game, cols]
        print(
            f"  T = {T:7.1e}  tolerance: median |dE/E0| {np.median(e):9.2e}  p90 {np.quantile(e, 0.9):9.2e}  "
            f"median evals {np.median(c):7.0f}  vs front {gap_dex(front, np.median(e), np.median(c)):+.2f} dex  |  "
            f"median gaming: {np.median(ge):9.2e}  p90 {np.quantile(ge, 0.9):9.2e}  {np.median(gc):7.0f}  "
            f"vs front {gap_dex(front, np.median(ge), np.median(gc)):+.2f} dex"
        )


def interval_rejection(seeds, t_end, front, coarse=ACTIONS[6], fine=ACTIONS[5], thresholds=(1e-10, 1e-9, 1e-8)):
    """Error control by redoing intervals, which no mu-picking agent can do: integrate each 0.1-yr
    interval at ``coarse``; where its |energy change| / |E0| exceeds the threshold, restore the
    checkpoint and redo the interval at ``fine``. The rejected attempt's evaluations still count.
    Unlike the hindsight replays, the refined intervals are those of the run itself."""
    fields = ("x", "v", "a", "j", "t", "tau", "n_force", "n_steps")
    S, K = len(seeds), len(thresholds)
    st = state_from([paper_triple(s) for s in seeds] * K)
    thr = torch.as_tensor(np.repeat(thresholds, S), dtype=st.x.dtype)
    E0 = energy(st.x, st.v, st.m, st.G)
    E = E0.clone()
    wasted = torch.zeros_like(st.n_force)  # evaluations spent on rejected attempts
    redone = torch.zeros_like(st.n_force)

    def budget():
        left = (CAP - st.n_force - wasted).clamp_min(0)
        return torch.minimum(left, torch.full_like(left, 20_000))

    for k in range(1, int(round(t_end / 0.1)) + 1):
        saved = {f: getattr(st, f).clone() for f in fields}
        evolve(st, 0.1 * k, param=coarse, max_steps=budget())
        E1 = energy(st.x, st.v, st.m, st.G)
        redo = ((E1 - E) / E0).abs() > thr  # (S K,)
        if bool(redo.any()):
            wasted += torch.where(redo, st.n_force - saved["n_force"], 0)
            redone += redo.long()
            for f in fields:
                cur = getattr(st, f)
                setattr(st, f, torch.where(redo.view(-1, *[1] * (cur.dim() - 1)), saved[f], cur))
            mu = torch.where(redo, torch.tensor(float(fine), dtype=st.x.dtype), torch.tensor(float(coarse), dtype=st.x.dtype))
            evolve(st, 0.1 * k, param=mu, max_steps=budget())
            E1 = energy(st.x, st.v, st.m, st.G)
        E = E1
    err, n = ((E - E0) / E0).abs().numpy(), (st.n_force + wasted).numpy()
    print(
        f"interval rejection (mu = {coarse:.2g}, an interval redone at {fine:.2g} when its |energy change| > threshold; "
        "rejected attempts counted):"
    )
    for i, t in enumerate(thresholds):
        sl = slice(i * S, (i + 1) * S)
        me, mn = np.median(err[sl]), np.median(n[sl])
        print(
            f"  threshold {t:7.1e}: median |dE/E0| {me:9.2e}  p90 {np.quantile(err[sl], 0.9):9.2e}  median evals {mn:7.0f}  "
            f"redone {np.median(redone.numpy()[sl]):.0f} of {int(round(t_end / 0.1))} intervals  "
            f"vs front {gap_dex(front, me, mn):+.2f} dex"
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1000-1063")
    ap.add_argument("--t-end", type=float, default=30.0)
    ap.add_argument(
        "--only",
        choices=("oracle", "rejection"),
        default=None,
        help="just the per-run oracle (~1 min) or just interval rejection (~4 min)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = parse_seeds(args.seeds)
    front = fixed_front(seeds, args.t_end)
    print(f"seeds {args.seeds}, {args.t_end:g} yr, Hermite; fixed-mu front:")
    for mu, e, n in front:
        print(f"{f'mu = {mu:.2g}':>44}: median |dE/E0| {e:9.2e}  median evals {n:7.0f}")
    print()
    if args.only == "oracle":
        return per_run_oracle(seeds, args.t_end, front)
    if args.only == "rejection":
        return interval_rejection(seeds, args.t_end, front)
    for name, rule in rules(args.t_end):
        t0 = time.process_time()
        err, n, early = run_rule(seeds, args.t_end, rule)
        me, mn = np.median(err), np.median(n)
        print(
            f"{name:>44}: median |dE/E0| {me:9.2e}  p90 {np.quantile(err, 0.9):9.2e}  median evals {mn:7.0f}  "
            f"early {early}  vs front at equal cost {gap_dex(front, me, mn):+.2f} dex  [{time.process_time() - t0:.0f} s]",
            flush=True,
        )
    print()
    changes = cancellation(seeds, args.t_end)
    hindsight_replay(seeds, args.t_end, changes, front)
    print()
    per_run_oracle(seeds, args.t_end, front)
    print()
    interval_rejection(seeds, args.t_end, front)


if __name__ == "__main__":
    main()
