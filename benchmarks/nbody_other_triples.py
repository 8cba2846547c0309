"""Benchmark: the step controllers on three-body systems the paper's generator does not make.

`DepthRule`'s passage law and the agents were fitted and tuned on the paper's triples only (three 1-Msun bodies
in a plane, 5-20 AU apart, 10 km/s). This runs the same table as ``benchmarks/nbody.py --rl-only`` (symmetrized
step, 0.1-yr decisions, paired-bootstrap 90% intervals) on three other families, each drawn from its own seed:

- ``masses``: the paper's positions and velocities with masses drawn log-uniformly from 0.3-3 Msun (the law's
  constant was fitted with equal unit masses);
- ``hierarchical``: inclined hierarchical triples built by rebound from orbital elements (an inner binary of
  0.5-1.5 Msun bodies with a = 1-5 AU, e = 0-0.8; a third body on an outer orbit with a = 3-10 inner a, e = 0-0.5,
  inclination up to 90 degrees; random angles): 3-D, many inner orbits per run, some unstable;
- ``free-fall``: Agekyan-Anosova triples, three 1-Msun bodies starting at rest (body 0 at (10, 0) AU, body 1
  anywhere in x = [-5, 0], y = [0, 10] AU, body 2 so that the centre of mass is at the origin), the set-up of
  Breen et al. (2020): a violent triple encounter within a few years.

    .venv/bin/python benchmarks/nbody_other_triples.py                      # all three, 200 systems each, 30 yr
    .venv/bin/python benchmarks/nbody_other_triples.py --family masses --n 20 --t-end 5   # a quick look
    .venv/bin/python benchmarks/nbody_other_triples.py --recount DIR/other_free-fall_symmetrized.npz   # from a saved run
    .venv/bin/python benchmarks/nbody_other_triples.py --passage-law --family masses   # one passage's error vs the masses

After each family's table: the same controllers without the systems that end early under every one of them.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbody import DEFAULT_POLICIES, RL_MUS, rl_section  # noqa: E402

from geomsci.nbody import DepthRule, paper_triple  # noqa: E402
from geomsci.nbody.initial_conditions import _com_frame, to_mesh  # noqa: E402
from geomsci.nbody.units import G_AU  # noqa: E402

# the families draw from seeds far from the paper's training (>= 2000), validation (1000-1399) and test (0-199) seeds
SEED0 = 500_000


def unequal_masses(seed: int):
    """The paper's triple ``seed`` with masses 10**U(log10 0.3, log10 3) Msun, moved to its centre-of-mass frame."""
    p = paper_triple(seed)
    m = 10 ** np.random.default_rng([seed, 1]).uniform(math.log10(0.3), math.log10(3.0), 3)
    return to_mesh(*_com_frame(p.points.numpy(), p.point_data["velocities"].numpy(), m), m)


def hierarchical(seed: int):
    """An inclined hierarchical triple made by rebound from orbital elements (AU, yr, Msun; G = 4 pi^2)."""
    import rebound

    rng = np.random.default_rng([seed, 2])
    sim = rebound.Simulation()
    sim.G = G_AU
    m = rng.uniform(0.5, 1.5, 3)
    a_in = rng.uniform(1.0, 5.0)
    sim.add(m=m[0])
    sim.add(m=m[1], a=a_in, e=rng.uniform(0, 0.8), f=rng.uniform(0, 2 * np.pi))
    sim.add(
        m=m[2], a=a_in * rng.uniform(3.0, 10.0), e=rng.uniform(0, 0.5), inc=rng.uniform(0, np.pi / 2),
        Omega=rng.uniform(0, 2 * np.pi), omega=rng.uniform(0, 2 * np.pi), f=rng.uniform(0, 2 * np.pi),
    )  # fmt: skip
    sim.move_to_com()
    x = [[p.x, p.y, p.z] for p in sim.particles]
    v = [[p.vx, p.vy, p.vz] for p in sim.particles]
    return to_mesh(x, v, m)


def free_fall(seed: int):
    """An Agekyan-Anosova triple: three 1-Msun bodies at rest, scaled to 10 AU."""
    rng = np.random.default_rng([seed, 3])
    x1 = np.array([10.0, 0.0])
    x2 = np.array([rng.uniform(-5.0, 0.0), rng.uniform(0.0, 10.0)])
    xs = np.stack([x1, x2, -(x1 + x2)])
    return to_mesh(np.pad(xs, ((0, 0), (0, 1))), np.zeros((3, 3)), np.ones(3))


FAMILIES = {"masses": unequal_masses, "hierarchical": hierarchical, "free-fall": free_fall}
RULES = (DepthRule(0.1, 3e-4), DepthRule(0.15, 3e-4), DepthRule(0.1, 3e-4, mass_aware=True))
POLICIES = [p for p in DEFAULT_POLICIES if p.stem in ("policy_residual", "policy_residual_cem", "policy_residual_cem_b05")]
# the families run further down in mu than the paper's front: some of them have no safe constant at 2.2e-2
MUS = (4.6e-3, 1e-2) + RL_MUS


def recount_without_unavoidable(npz_path: Path) -> None:
    """Print the controllers again without the systems that end early under every controller (the smallest constant
    mu included): point-mass near-collisions no step in the set survives. What is left compares like with like."""
    d = np.load(npz_path)
    names = list(dict.fromkeys(k.rsplit("|", 1)[0] for k in d.files))
    always = np.logical_and.reduce([d[f"{n}|early"] for n in names])
    keep = ~always
    print(f"-- without the {int(always.sum())} system(s) that end early under every controller: {np.nonzero(always)[0].tolist()}")
    for n in names:
        err, nf = d[f"{n}|err"][keep], d[f"{n}|nf"][keep]
        print(
            f"{n:>62} early {int(d[f'{n}|early'][keep].sum()):3d}  p90 {np.quantile(err, 0.9):8.2e}  "
            f"median {np.median(err):8.2e}  mean evaluations {nf.mean():7.0f}"
        )
    print(flush=True)


def passage_law_with_masses(systems, t_end: float = 30.0, mus=(3.2e-2, 4.6e-2, 6.8e-2, 0.1), q_max: float = 1e-2) -> None:
    """Does one passage's error go as m_i m_j / (q |E0|), as a scaling argument says, rather than DepthRule's 1/q?
    Over the 0.1-yr intervals with a passage closer than ``q_max`` due (constant mu, symmetrized step, as
    ``benchmarks/nbody.py --passage-law``), fit log10 |d(dE/E0)| on log10 q and log10 mu, then also on log10(m_i m_j)
    and log10 |E0| of the passing pair, and print the coefficients and the residual spread of each fit."""
    from geomsci.nbody.diagnostics import nearest_pericentres
    from geomsci.nbody.env import SystemBatch

    pairs = [(0, 1), (0, 2), (1, 2)]  # the pair order of nearest_pericentres
    rows = []  # (log q, log mu, log m_i m_j, log |E0|, log |change|)
    for mu in mus:
        sb = SystemBatch(systems, actions=[mu, 2 * mu], step_options={"symmetric": 1})
        log_e0, m = np.log10(sb.E0.abs().numpy()), sb.state.m.numpy()
        for _ in range(int(round(t_end / sb.check_step))):
            q, t_to = nearest_pericentres(sb.state.x, sb.state.v, sb.state.m, G_AU)  # (B, 3)
            q, t_rel = q.numpy(), (t_to / sb.check_step).numpy()
            q = np.where((np.abs(t_rel) <= 2) & np.isfinite(t_rel), q, np.inf)
            k = q.argmin(1)  # the deepest passage near now, as the encounter observation picks it
            b_all = np.arange(len(k))
            err0 = sb.rel_error.numpy()
            out = sb.step(np.zeros(sb.batch, dtype=np.int64))
            change = np.abs(sb.rel_error.numpy() - err0)
            due = (t_rel[b_all, k] >= 0) & (t_rel[b_all, k] <= 1)
            for b in np.nonzero(out["active"] & (q[b_all, k] < q_max) & due & np.isfinite(change))[0]:
                i, j = pairs[k[b]]
                rows.append(
                    (np.log10(q[b, k[b]]), np.log10(mu), np.log10(m[b, i] * m[b, j]), log_e0[b], np.log10(max(change[b], 1e-16)))
                )
            if sb.done.all():
                break
    d = np.array(rows).reshape(-1, 5)
    finite = np.isfinite(d).all(axis=1)  # a head-on pair (bodies starting at rest) has q = 0 exactly
    d = d[finite]
    if len(d) < 10:
        print(f"== too few passages closer than {q_max:g} AU with a finite q to fit ({len(d)}) ==\n")
        return
    y, one = d[:, 4], np.ones(len(d))
    print(
        f"== error added by one passage (q < {q_max:g} AU): {len(d)} intervals ({int((~finite).sum())} with q = 0 left out), "
        "constant mu, symmetrized step =="
    )
    for label, X, names in (
        ("DepthRule's form", np.c_[one, d[:, 0], d[:, 1]], ("c", "log q", "log mu")),
        (
            "with the masses and E0",
            np.c_[one, d[:, 0], d[:, 1], d[:, 2], d[:, 3]],
            ("c", "log q", "log mu", "log mi mj", "log|E0|"),
        ),
    ):
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        res = y - X @ coef
        terms = ", ".join(f"{n} {c:+.2f}" for n, c in zip(names, coef))
        print(
            f"  {label:>24}: {terms}; residual std {res.std():.2f} dex, 90% of |residual| below {np.quantile(np.abs(res), 0.9):.2f}"
        )
    print(flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default=",".join(FAMILIES), help="comma-separated subset of " + ", ".join(FAMILIES))
    ap.add_argument("--n", type=int, default=200, help="systems per family")
    ap.add_argument("--t-end", type=float, default=30.0)
    ap.add_argument("--max-force", type=int, default=40_000, help="force-evaluation budget per run")
    ap.add_argument("--out", type=Path, default=Path("bench_nbody"))
    ap.add_argument("--recount", type=Path, default=None, help="only the recount of a saved family run (.npz)")
    ap.add_argument("--passage-law", action="store_true", help="only the fit of one passage's error with and without the masses")
    args = ap.parse_args(argv)
    if args.recount is not None:
        recount_without_unavoidable(args.recount)
        return
    names = [f.strip() for f in args.family.split(",") if f.strip()]
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise SystemExit(f"--family: unknown {unknown}; choose from {list(FAMILIES)}")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        systems = [FAMILIES[name](SEED0 + k) for k in range(args.n)]
        if args.passage_law:
            print(f"#### family {name}: {args.n} systems, {args.t_end:g} yr")
            passage_law_with_masses(systems, args.t_end)
            continue
        print(f"#### family {name}: {args.n} systems, {args.t_end:g} yr, budget {args.max_force} force evaluations\n", flush=True)
        rl_section(
            systems, args.t_end, POLICIES, args.max_force, np.random.default_rng(0), args.out,
            steps=("symmetrized",), rules=RULES, prefix=f"other_{name}", mus=MUS,
        )  # fmt: skip
        recount_without_unavoidable(args.out / f"other_{name}_symmetrized.npz")


if __name__ == "__main__":
    main()
