"""PIG vs PINN on Helmholtz (a1, a2) = (1, 4) at the same CPU budget, with plots.

python examples/pig_helmholtz.py [--budget 20] [--out pig_helmholtz]
"""

import argparse
from pathlib import Path

import torch

from geomsci.pig import PIG, PINN, plot_history, plot_solution, train
from geomsci.pig.configs import model_kwargs, train_kwargs
from geomsci.pig.problems import Helmholtz2D


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=20.0, help="training CPU seconds per model")
    ap.add_argument("--out", type=Path, default=Path("pig_helmholtz"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    problem = Helmholtz2D(1, 4)
    runs = {}
    for label, cls, key in (("PIG", PIG, "pig"), ("PINN", PINN, "pinn")):
        model = cls(2, problem.bounds, **model_kwargs("helmholtz", key))
        runs[label] = train(problem, model, budget=args.budget, clock="cpu", **train_kwargs("helmholtz", key))
        print(
            f"{label}: rel. L2 final {runs[label].final_rel_l2:.3e}, best {runs[label].best_rel_l2:.3e} "
            f"({runs[label].steps} steps)"
        )
        plot_solution(problem, model, args.out / f"{label.lower()}_solution.png")
    plot_history(runs, args.out / "error_vs_time.png", title="Helmholtz (1, 4)")
    print(f"wrote PNGs to {args.out}")


if __name__ == "__main__":
    main()
