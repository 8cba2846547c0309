"""Burrau's Pythagorean three-body problem: Hermite against rebound's IAS15, and the orbits.

    .venv/bin/python examples/nbody_pythagorean.py [out_dir]

Integrates to t = 4 (N-body units, G = 1) with the 4th-order Hermite scheme at mu = 2e-3,
prints the position difference from IAS15 at a few times (small until the first close
encounter at t ~ 1.88, then growing: the problem is chaotic) and the energy error, and writes
the orbits as a PNG.
"""
import sys
from pathlib import Path

import numpy as np
import torch

from geomsci.nbody import integrate, pythagorean
from geomsci.nbody.plots import plot_orbits
from geomsci.nbody.reference import ias15_trajectory

out = Path(sys.argv[1] if len(sys.argv) > 1 else "nbody_pythagorean_out")
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
p = pythagorean()
times = np.linspace(0.02, 4.0, 200)
tr = integrate(p, times, mu=2e-3, G=1.0, progress=True)
ref = ias15_trajectory(p, times, G=1.0)
diff = np.abs(tr.x[:, 0].numpy() - ref["x"]).max(axis=(1, 2))
for t in (1.0, 1.8, 2.0, 3.0, 4.0):
    k = int(np.argmin(np.abs(times - t)))
    print(f"t = {times[k]:5.2f}: max |x_hermite - x_ias15| = {diff[k]:.2e}")
print(f"Hermite |dE/E0| at t=4: {tr.relative_energy_error[-1, 0]:.2e} with {int(tr.n_force[-1, 0])} force evaluations")
png = plot_orbits(np.concatenate([p.points[None].numpy(), tr.x[:, 0].numpy()]), out / "pythagorean.png",
                  title="Pythagorean problem, t = 0..4", labels=["m=3", "m=4", "m=5"])
print(f"wrote {png}")
