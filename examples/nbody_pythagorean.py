"""Burrau's Pythagorean three-body problem: Hermite against rebound's IAS15, the energy, the escape, the orbits.

    .venv/bin/python examples/nbody_pythagorean.py [out_dir] [--t-end 70] [--mu 3e-3] [--predictor-order 5]

N-body units, G = 1. Integrates with the time-symmetrized, P(EC)^2, compensated Hermite step
(``symmetric=1, corrector=2, compensated=True``; with ``--predictor-order 5``, the one-evaluation step
with the fifth-order predictor instead: ``symmetric=1, predictor_order=5, compensated=True``), prints
the position difference from IAS15 at a few times (small until the first close encounter at t ~ 1.88, then growing: the problem is
chaotic), |dE/E0| at t = 20, and at the end body 0's position and velocity beside IAS15's at
tolerances 1e-10 ... 1e-6: by t ~ 60 the lightest body (m = 3) escapes while the other two leave as
a binary, and the check is that Hermite's body 0 lies within IAS15's own spread over tolerances.
Writes the orbits as a PNG. t_end = 70 takes a few minutes on one core.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from geomsci.nbody import integrate, pythagorean
from geomsci.nbody.plots import plot_orbits
from geomsci.nbody.reference import ias15_trajectory, rebound_simulation

ap = argparse.ArgumentParser()
ap.add_argument("out", nargs="?", default="nbody_pythagorean_out")
ap.add_argument("--t-end", type=float, default=70.0)
ap.add_argument("--mu", type=float, default=3e-3)
ap.add_argument("--predictor-order", type=int, default=3, choices=(3, 5), help="5: one evaluation per step, no P(EC)^2")
args = ap.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
p = pythagorean()
times = np.linspace(0.02, args.t_end, int(round(args.t_end / 0.02)))
step = {"corrector": 2} if args.predictor_order == 3 else {"predictor_order": 5}
tr = integrate(p, times, mu=args.mu, G=1.0, symmetric=1, compensated=True, progress=True, **step)
ref = ias15_trajectory(p, times, G=1.0)
diff = np.abs(tr.x[:, 0].numpy() - ref["x"]).max(axis=(1, 2))
for t in (1.0, 1.8, 2.0, 3.0, 4.0):
    k = int(np.argmin(np.abs(times - t)))
    print(f"t = {times[k]:5.2f}: max |x_hermite - x_ias15| = {diff[k]:.2e}")
k20 = int(np.argmin(np.abs(times - 20.0)))
print(
    f"Hermite |dE/E0| at t = {times[k20]:.2f}: {tr.relative_energy_error[k20, 0]:.2e}; at t = {times[-1]:.2f}: "
    f"{tr.relative_energy_error[-1, 0]:.2e} with {int(tr.n_force[-1, 0])} force evaluations (mu = {args.mu:g})"
)

ias = []
for eps in (1e-10, 1e-9, 1e-8, 1e-7, 1e-6):
    sim = rebound_simulation(p, G=1.0)
    sim.integrator.epsilon = eps
    sim.integrate(float(times[-1]), exact_finish_time=1)
    q = sim.particles[0]
    ias.append([q.x, q.y, q.z])
    print(f"IAS15 eps {eps:.0e}: body 0 at ({q.x:8.4f}, {q.y:8.4f}), v = ({q.vx:.4f}, {q.vy:.4f})")
ias = np.array(ias)
x0, v0 = tr.x[-1, 0, 0].numpy(), tr.v[-1, 0, 0].numpy()
spread = max(np.linalg.norm(a - b) for a in ias for b in ias)
dist = np.linalg.norm(ias - x0, axis=1).min()
print(f"Hermite:         body 0 at ({x0[0]:8.4f}, {x0[1]:8.4f}), v = ({v0[0]:.4f}, {v0[1]:.4f})")
print(
    f"distance to the nearest IAS15 run {dist:.3g}; IAS15's own spread over tolerances {spread:.3g}: "
    f"{'within' if dist <= spread else 'OUTSIDE'} the spread"
)
png = plot_orbits(
    np.concatenate([p.points[None].numpy(), tr.x[:, 0].numpy()]),
    out / "pythagorean.png",
    title=f"Pythagorean problem, t = 0..{args.t_end:g}",
    labels=["m=3", "m=4", "m=5"],
)
print(f"wrote {png}")
