"""The PIG step of ``geomsci demo``: a small PIG solves Helmholtz (1, 2) in a few CPU seconds."""

from __future__ import annotations

from pathlib import Path


def demo(out_dir: Path) -> str:
    """Helmholtz (1, 2) with 4 x 32 Gaussians, 400 steps (about 4 CPU-seconds); returns the rel. L2 reached.

    Settings picked for a short run (not the benchmark's): wider Gaussians (sigma 0.2) cover the
    box with few of them, a large Adam rate (5e-2) for 30 % of the time, then L-BFGS."""
    from geomsci.core.threads import limit_threads
    from geomsci.pig import PIG
    from geomsci.pig.problems import Helmholtz2D
    from geomsci.pig.results import plot_solution
    from geomsci.pig.train import train

    with limit_threads(1):
        prob = Helmholtz2D(1, 2)
        prob.test_shape = (41, 41)
        net = PIG(2, prob.bounds, n_gaussians=32, channels=4, sigma_init=0.2, seed=0)
        res = train(
            prob,
            net,
            iters=400,
            clock="cpu",
            adam_fraction=0.3,
            lr=5e-2,
            n_collocation=300,
            n_data=120,
            lbfgs_points=900,
            eval_every=25,
            progress=False,
        )
        net.load_state_dict(res.best_state)
        plot_solution(
            prob,
            net,
            Path(out_dir) / "helmholtz_pig.png",
            title=f"PIG on Helmholtz (1, 2): rel. L2 {res.best_rel_l2:.1e} after {res.seconds:.1f} CPU-s",
        )
    return (
        f"PIG on Helmholtz (1,2): rel. L2 {res.best_rel_l2:.2e} (best; final {res.final_rel_l2:.2e}) after "
        f"{res.seconds:.1f} CPU-s / {res.steps} steps; wrote helmholtz_pig.png"
    )
