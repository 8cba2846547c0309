"""Train a small DQN time-step agent and compare it with fixed mu on a few test systems.

    .venv/bin/python examples/nbody_rl_timestep.py [out_dir]

A few minutes on one CPU thread. The agent picks mu every 0.1 yr from 10 log-spaced values; it is
trained on paper systems with seeds >= 1000 and tested on seeds 0-9 (10 yr).
"""
import sys
from pathlib import Path

import torch

from geomsci.nbody.dqn import DQNConfig, train_dqn
from geomsci.nbody.env import ACTIONS
from geomsci.nbody.evaluate import run_controller, summarize
from geomsci.nbody.plots import plot_front

out = Path(sys.argv[1] if len(sys.argv) > 1 else "nbody_rl_out")
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
policy = train_dqn(DQNConfig(episodes=48, parallel=8, n_checks=50, eps_decay=12.0, max_substeps=1000, lam=2.0))
policy.save(out / "policy.pt")
seeds = list(range(10))
rows = [{"name": f"mu={mu:.2g}", "group": "fixed mu", **summarize(run_controller(seeds, k, t_end=10.0, max_force=50_000))}
        for k, mu in enumerate(ACTIONS) if mu >= 2e-3]
rows.append({"name": "RL policy", **summarize(run_controller(seeds, policy, t_end=10.0))})
for r in rows:
    print(f"{r['name']:>10}: median |dE/E0| {r['median_error']:.2e}, median force evaluations {r['median_n_force']:.0f}")
print(f"wrote {plot_front(rows, out / 'front.png')} and {out / 'policy.pt'}")
