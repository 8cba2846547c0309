"""Batched evaluation of step-parameter controllers on many paper systems at once.

A controller is either an action index (a fixed mu for the whole run) or a callable mapping
observations (B, obs_dim) to action indices (B,), e.g. a trained `Policy`; its ``observation``
attribute ('paper' or 'extended', default 'paper') picks the observation it is given. All B systems advance
together in one `SystemBatch`; each keeps its own time step.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .env import ACTIONS, SystemBatch


def parse_seeds(spec: str) -> list[int]:
    """'0-99' -> [0..99];  '3,5,8' -> [3, 5, 8];  '0-9,20' also works."""
    seeds: list[int] = []
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = part.split("-")
                seeds += list(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"seeds: expected a spec like '0-99' or '1,2,5', got {spec!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds: expected non-negative seeds like '0-99', got {spec!r}")
    return seeds


def run_controller(
    seeds,
    controller,
    *,
    integrator: str = "hermite",
    t_end: float = 30.0,
    check_step: float = 0.1,
    max_substeps: int = 20000,
    max_force: int | None = None,
    progress: bool = False,
    step_options: dict | None = None,
    actions=None,
    record: bool = False,
) -> dict:
    """Run ``controller`` on the paper systems ``seeds`` up to ``t_end`` yr.

    ``seeds`` may also hold three-body systems of your own (point-set `Mesh`es with 'velocities' and 'masses' in
    AU, AU/yr and Msun), e.g. to run `geomsci.nbody.DepthRule` on them.

    Returns a dict of numpy arrays over systems (B,): 'final_error' |dE/E0| at the end (or where the
    run stopped), 'n_force' force evaluations, 'ended_early' (|dE/E0| > 0.1), 'stalled' (hit
    ``max_substeps`` in one interval or spent more than ``max_force`` evaluations in all; the
    error is then the one where it stopped), 'actions' (K, B) the chosen indices (-1 once stopped) and
    'action_values' (n_actions,) the step parameter of each index.
    ``step_options`` go to `evolve` (e.g. ``{'symmetric': 1}``). ``actions``: the step parameter of
    each index (default: the controller's own ``actions`` attribute if it has one, else `ACTIONS`).
    ``record=True`` also returns the run as it went, at the start and after every interval: 't' (K + 1,) yr, 'x' and
    'v' (K + 1, B, 3, 3) positions (AU) and velocities (AU/yr), 'rel_error' (K + 1, B); a system that stopped repeats
    its last state (K is smaller than t_end / check_step when every system stopped before the end).
    """
    if actions is None:
        actions = getattr(controller, "actions", ACTIONS)
    sysb = SystemBatch(
        seeds,
        integrator=integrator,
        check_step=check_step,
        max_substeps=max_substeps,
        actions=actions,
        step_options=step_options,
    )
    n_checks = int(round(t_end / check_step))
    if n_checks < 1:
        raise ValueError(f"t_end must be at least one check_step ({check_step} yr), got {t_end}")
    actions = np.full((n_checks, sysb.batch), -1, dtype=np.int64)
    kind = getattr(controller, "observation", "paper")
    track = []  # (x, v, rel_error) at every decision, with record=True

    def snapshot():
        if record:
            track.append((sysb.state.x.clone(), sysb.state.v.clone(), sysb.rel_error.clone()))

    snapshot()
    for k in tqdm(range(n_checks), disable=not progress, desc="evaluate"):
        if callable(controller):
            obs = sysb.observe(kind)
            act = np.asarray(controller(obs), dtype=np.int64)
        else:
            idx = int(controller)
            if not 0 <= idx < len(sysb.actions):
                raise ValueError(f"controller: action index must be in [0, {len(sysb.actions)}), got {idx}")
            act = np.full(sysb.batch, idx, dtype=np.int64)
        running = ~sysb.done.cpu().numpy()
        actions[k] = np.where(running, act, -1)
        cap = None
        if max_force is not None:  # never spend more than the budget, even inside one interval
            left = (max_force - sysb.state.n_force).clamp_min(0)
            cap = torch.minimum(left, torch.full_like(left, sysb.max_substeps))
        sysb.step(act, max_steps=cap)
        snapshot()
        if sysb.done.all():
            break
    recorded = {}
    if record:
        recorded = {key: torch.stack(val).cpu().numpy() for key, val in zip(("x", "v", "rel_error"), zip(*track))}
        recorded["t"] = np.arange(len(track)) * check_step
    return {
        **recorded,
        "final_error": sysb.rel_error.cpu().numpy(),
        "n_force": sysb.state.n_force.cpu().numpy(),
        "ended_early": sysb.ended_early.cpu().numpy(),
        "stalled": sysb.stalled.cpu().numpy(),
        "actions": actions,
        "action_values": sysb.actions,
    }


def summarize(res: dict) -> dict:
    """Median and 90th-percentile final |dE/E0|, median and mean force evaluations, runs ended early / stalled."""
    e = res["final_error"]
    return {
        "median_error": float(np.median(e)),
        "p90_error": float(np.quantile(e, 0.9)),
        "median_n_force": float(np.median(res["n_force"])),
        "mean_n_force": float(np.mean(res["n_force"])),
        "ended_early": int(res["ended_early"].sum()),
        "stalled": int(res["stalled"].sum()),
    }
