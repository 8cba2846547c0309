"""Reference solutions from rebound's IAS15 (15th-order, adaptive, machine-precision Gauss-Radau).

rebound is an optional dependency (``pip install geomsci[reference]``); it is imported lazily.
The rebound simulation is driven through its public API: ``sim.add``, ``sim.integrate(t,
exact_finish_time=1)``, ``sim.energy()``; its ``steps_done`` counts IAS15 steps (each step costs
several force evaluations, see rebound's documentation).
"""

from __future__ import annotations

import numpy as np
import torch

from geomsci.core.mesh import Mesh

from .units import G_AU


def _rebound():
    try:
        import rebound
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("geomsci.nbody.reference needs rebound: pip install 'geomsci[reference]'") from e
    return rebound


def rebound_simulation(system: Mesh, G: float = G_AU, integrator: str = "ias15"):
    """A rebound.Simulation holding the bodies of a point-set `Mesh` (float64 copies)."""
    rebound = _rebound()
    sim = rebound.Simulation()
    sim.G = float(G)
    sim.integrator = integrator
    x = system.points.detach().cpu().double().numpy()
    v = system.point_data["velocities"].detach().cpu().double().numpy()
    m = system.point_data["masses"].detach().cpu().double().numpy().reshape(-1)
    if x.shape[1] == 2:
        x, v = np.pad(x, ((0, 0), (0, 1))), np.pad(v, ((0, 0), (0, 1)))
    for i in range(len(m)):
        sim.add(m=float(m[i]), x=x[i, 0], y=x[i, 1], z=x[i, 2], vx=v[i, 0], vy=v[i, 1], vz=v[i, 2])
    return sim


def ias15_trajectory(system: Mesh, times, G: float = G_AU):
    """Integrate with IAS15 and sample at ``times``.

    Returns a dict of numpy arrays: ``x`` and ``v`` (T, N, 3), ``energy`` (T,), ``energy0`` (),
    ``steps`` (T,) cumulative IAS15 steps.
    """
    sim = rebound_simulation(system, G)
    e0 = sim.energy()
    xs, vs, es, steps = [], [], [], []
    for t in np.asarray(times, dtype=float).reshape(-1):
        sim.integrate(float(t), exact_finish_time=1)
        xs.append([[p.x, p.y, p.z] for p in sim.particles])
        vs.append([[p.vx, p.vy, p.vz] for p in sim.particles])
        es.append(sim.energy())
        steps.append(sim.steps_done)
    return {"x": np.array(xs), "v": np.array(vs), "energy": np.array(es), "energy0": e0, "steps": np.array(steps)}


def ias15_final_energy_error(system: Mesh, t_end: float, G: float = G_AU) -> tuple[float, int]:
    """|E(t_end) - E0| / |E0| and the number of IAS15 steps for one system."""
    ref = ias15_trajectory(system, [t_end], G)
    return abs((ref["energy"][-1] - ref["energy0"]) / ref["energy0"]), int(ref["steps"][-1])


def as_tensor(a, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)
