"""Train a small DQN time-step agent and compare it with fixed mu on a few test systems.

    .venv/bin/python examples/nbody_rl_timestep.py [out_dir]

About five minutes on one idle CPU thread. The agent picks mu every 0.1 yr from 10 log-spaced values; it is
trained on paper systems with seeds >= 1000 and tested on seeds 0-9 (10 yr). Fixed mu runs go
straight to 10 yr as one batch per mu (no decision points needed).
"""

import sys
from pathlib import Path

import numpy as np
import torch

from geomsci.nbody import integrate, paper_triple
from geomsci.nbody.dqn import DQNConfig, train_dqn
from geomsci.nbody.env import ACTIONS
from geomsci.nbody.evaluate import run_controller, summarize
from geomsci.nbody.plots import plot_front

out = Path(sys.argv[1] if len(sys.argv) > 1 else "nbody_rl_out")
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
policy = train_dqn(DQNConfig(episodes=24, parallel=8, n_checks=50, eps_decay=6.0))
policy.save(out / "policy.pt")
seeds = list(range(10))
systems = [paper_triple(s) for s in seeds]
rows = []
for mu in ACTIONS[ACTIONS >= 2e-3]:
    tr = integrate(systems, [10.0], mu=float(mu), max_steps=40_000)  # near-collisions are costly
    rows.append(
        {
            "name": f"mu={mu:.2g}",
            "group": "fixed mu",
            "median_error": float(np.median(tr.relative_energy_error[-1].numpy())),
            "median_n_force": float(np.median(tr.n_force[-1].numpy())),
        }
    )
rows.append({"name": "RL policy", **summarize(run_controller(seeds, policy, t_end=10.0, max_force=40_000))})
for r in rows:
    print(f"{r['name']:>10}: median |dE/E0| {r['median_error']:.2e}, median force evaluations {r['median_n_force']:.0f}")
print(f"wrote {plot_front(rows, out / 'front.png')} and {out / 'policy.pt'}")
