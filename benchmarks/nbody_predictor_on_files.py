"""The step options on systems from files other tools wrote: |dE/E0| per system after 30 yr, a table per mu.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nbody_predictor_on_files.py [FILE ...] [--mu 4.6e-3,1e-2]

FILE: a CSV of bodies or a rebound ``.bin`` (`geomsci.nbody.read_systems`); default: the two example files
in assets/nbody. Each option set runs every system of a file as one batch (force evaluations per system are
printed, so equal cost can be checked). A few minutes on one core.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from geomsci.nbody import integrate, read_systems
from geomsci.nbody.units import G_AU

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "assets/nbody/example_triples.csv", ROOT / "assets/nbody/example_triple_rebound.bin")
OPTION_SETS = {
    "standard": {},
    "standard + compensated": {"compensated": True},
    "symmetrized": {"symmetric": 1},
    "symmetrized + 5th-order predictor": {"symmetric": 1, "predictor_order": 5},
    "the same + compensated": {"symmetric": 1, "predictor_order": 5, "compensated": True},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=list(FILES))
    ap.add_argument("--mu", default="4.6e-3,1e-2", help="comma-separated step parameters")
    ap.add_argument("--t-end", type=float, default=30.0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for path in args.files:
        systems, G = read_systems(path)
        G = G if G is not None else G_AU
        for mu in (float(m) for m in args.mu.split(",")):
            print(f"== {path.name}: {len(systems)} system(s), mu = {mu:g}, {args.t_end:g} yr ==")
            print(f"{'options':>36} | |dE/E0| per system | force evaluations per system")
            for name, opts in OPTION_SETS.items():
                tr = integrate(systems, [args.t_end], mu=mu, G=G, max_steps=400_000, progress=False, **opts)
                errs = " ".join(f"{e:.1e}" for e in tr.relative_energy_error[-1].tolist())
                print(f"{name:>36} | {errs} | {' '.join(str(n) for n in tr.n_force[-1].tolist())}", flush=True)
            print()


if __name__ == "__main__":
    main()
