"""The nbody step of ``geomsci demo``: a figure-eight energy check, 64 paper systems batched, Pythagorean orbits."""

from __future__ import annotations

import time
from pathlib import Path

from geomsci.core.threads import limit_threads


def demo(out_dir: Path) -> str:
    """Write ``pythagorean_orbits.png`` under ``out_dir``; return a one-line summary (< 7 s on one thread).

    The figure-eight runs one period with the time-symmetrized, compensated Hermite step; 64 paper
    systems run as one batch to show the batched throughput.
    """
    import torch

    from .initial_conditions import FIGURE_EIGHT_PERIOD, figure_eight, paper_triple, pythagorean
    from .integrate import integrate
    from .plots import plot_orbits

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with limit_threads(1):  # three bodies per system: more threads only add overhead
        fe = integrate(figure_eight(), [FIGURE_EIGHT_PERIOD], mu=6e-3, G=1.0, symmetric=1, compensated=True)
        p = pythagorean()
        times = torch.linspace(0.02, 2.0, 100, dtype=torch.float64)
        tr = integrate(p, times, mu=5e-3, G=1.0)
        plot_orbits(
            torch.cat([p.points[None], tr.x[:, 0]]).numpy(),
            out_dir / "pythagorean_orbits.png",
            title="Pythagorean problem, t = 0..2",
            labels=["m=3", "m=4", "m=5"],
        )
        systems = [paper_triple(s) for s in range(64)]
        t0 = time.perf_counter()
        batch = integrate(systems, [0.3], mu=1e-2)
        wall = time.perf_counter() - t0
    rate = batch.state.n_steps.sum().item() / wall
    return (
        f"figure-eight |dE/E0| over one period {fe.relative_energy_error[-1, 0].item():.1e}; "
        f"64 paper systems batched: {rate:,.0f} system-steps/s; wrote pythagorean_orbits.png"
    )
