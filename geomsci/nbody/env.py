"""The time-step control problem as an environment: a batched core and a gymnasium wrapper.

Every ``check_step`` (0.1 yr) the agent picks mu (an index into `ACTIONS`, 10 values log-spaced
from 1e-4 to 1e-1); the integrator then advances the three-body system to the next check time
with that parameter ('hermite': dt = mu * collision time; 'aarseth': Hermite with Aarseth's
criterion and eta = mu, the same action values driving another integrator without retraining).

Observation (the paper's 'cart' state, 4N + 1 numbers, float32), N-body units with the total
mass and 1 AU as units (G = 1):

    [x_1/10, y_1/10, ..., x_N/10, y_N/10,  vx_1, vy_1, ..., vx_N, vy_N,  -log10 |dE/E0|]

An episode ends early (terminated) when |dE/E0| > ``max_error`` (0.1); it is truncated after
``n_checks`` intervals or when a system needs more than ``max_substeps`` steps in one interval.

`SystemBatch` runs B systems at once (training and the batched evaluator use it); `TimeStepEnv` is
the single-system `gymnasium.Env`.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from .diagnostics import energy
from .initial_conditions import paper_triple
from .integrate import state_from
from .integrators import evolve
from .rewards import E_LIM, PAPER_WEIGHTS, REWARDS, cost_reward, final_reward, paper_reward
from .units import G_AU, nbody_velocity_unit

ACTIONS = np.logspace(-4, -1, 10)
TEST_SEEDS = range(0, 100)
TRAIN_SEEDS = range(1000, 1_000_000)
INTEGRATORS = ("hermite", "aarseth")
OBS_BOUND = 1e3  # observations are clipped to [-1e3, 1e3] (a body ejected to 10^4 AU)


class SystemBatch:
    """B paper three-body systems advanced together, one step parameter per system per interval.

    Parameters
    ----------
    seeds : sequence of int, the `paper_triple` seeds (B = len(seeds))
    integrator : 'hermite' or 'aarseth'
    check_step : interval between decisions, yr
    max_error : |dE/E0| above which a system's run ends early
    max_substeps : per-interval step cap (a system exceeding it is stopped: 'stalled')
    """

    def __init__(self, seeds, *, integrator: str = "hermite", check_step: float = 0.1, max_error: float = 0.1,
                 max_substeps: int = 20000, actions=ACTIONS, device=None):
        if integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
        if check_step <= 0:
            raise ValueError(f"check_step must be > 0 yr, got {check_step}")
        self.seeds = [int(s) for s in seeds]
        self.integrator, self.check_step, self.max_error = integrator, float(check_step), float(max_error)
        self.max_substeps, self.actions = int(max_substeps), np.asarray(actions, dtype=np.float64)
        self.state = state_from([paper_triple(s, device=device) for s in self.seeds], G=G_AU)
        st = self.state
        self.E0 = energy(st.x, st.v, st.m, G_AU)  # (B,)
        self.E = self.E0.clone()
        self.k = 0  # intervals done
        B = st.batch
        self.done = torch.zeros(B, dtype=torch.bool, device=st.x.device)  # ended (early or stalled)
        self.ended_early = torch.zeros_like(self.done)
        self.stalled = torch.zeros_like(self.done)
        self.v_unit = nbody_velocity_unit(3.0, 1.0, G_AU)

    @property
    def batch(self) -> int:
        return self.state.batch

    @property
    def rel_error(self) -> torch.Tensor:
        """|E - E0| / |E0| per system, (B,)."""
        return ((self.E - self.E0) / self.E0).abs()

    def observe(self) -> np.ndarray:
        """Observation (B, 4N + 1) float32 (see module docstring)."""
        st = self.state
        pos = (st.x[..., :2] / 10.0).reshape(st.batch, -1)  # (B, 2N), length unit 1 AU, /10 as the paper
        vel = (st.v[..., :2] / self.v_unit).reshape(st.batch, -1)  # (B, 2N)
        err = -torch.log10(self.rel_error.clamp_min(1e-16))[:, None]  # (B, 1)
        return torch.cat([pos, vel, err], dim=1).cpu().numpy().astype(np.float32)

    def step(self, action_idx, max_steps=None) -> dict:
        """Advance every running system one interval with ``ACTIONS[action_idx[b]]``.

        ``max_steps`` (int or (B,) tensor) overrides ``max_substeps`` for this interval.
        Returns a dict of numpy arrays (B,): 'E', 'E_prev', 'n_force' (this interval), 'mu',
        'ended_early', 'stalled', 'active' (systems that were running before this call).
        """
        a = np.asarray(action_idx).reshape(-1)
        if a.shape[0] != self.batch or a.min() < 0 or a.max() >= len(self.actions):
            raise ValueError(f"actions must be {self.batch} indices in [0, {len(self.actions)}), got {a.tolist()[:8]}")
        st = self.state
        active = ~self.done
        mu = torch.as_tensor(self.actions[a], dtype=st.x.dtype, device=st.x.device)
        t_next = torch.full_like(st.t, (self.k + 1) * self.check_step)
        t_target = torch.where(active, t_next, st.t)  # finished systems stay where they are
        nf0 = st.n_force.clone()
        cap = self.max_substeps if max_steps is None else max_steps
        stalled = evolve(st, t_target, method=self.integrator, param=mu, max_steps=cap)
        E_prev = self.E
        self.E = energy(st.x, st.v, st.m, G_AU)
        err = self.rel_error
        early = active & (~torch.isfinite(err) | (err > self.max_error))
        stalled = active & stalled & ~early
        self.ended_early |= early
        self.stalled |= stalled
        self.done |= early | stalled
        self.k += 1
        return {"E": self.E.cpu().numpy(), "E_prev": E_prev.cpu().numpy(), "E0": self.E0.cpu().numpy(),
                "n_force": (st.n_force - nf0).cpu().numpy(), "mu": self.actions[a],
                "ended_early": early.cpu().numpy(), "stalled": stalled.cpu().numpy(),
                "active": active.cpu().numpy()}


def compute_reward(kind: str, out: dict, weights=PAPER_WEIGHTS, lam: float = 1.0, e_lim: float = E_LIM) -> np.ndarray:
    """Reward (B,) of one `SystemBatch.step` output for reward ``kind`` ('paper' or 'cost')."""
    if kind == "paper":
        dE = (out["E"] - out["E0"]) / out["E0"]
        dEp = (out["E_prev"] - out["E0"]) / out["E0"]
        r = paper_reward(dE, dEp, out["mu"], weights, e_lim)
    elif kind == "cost":
        r = cost_reward(out["E"], out["E_prev"], out["E0"], out["n_force"], lam, e_lim)
    elif kind == "final":
        dE = (out["E"] - out["E0"]) / out["E0"]
        dEp = (out["E_prev"] - out["E0"]) / out["E0"]
        r = final_reward(dE, dEp, out["n_force"], lam)
    else:
        raise ValueError(f"reward must be one of {REWARDS}, got {kind!r}")
    r = np.where(np.isfinite(r), r, -100.0)
    return np.where(out["ended_early"], r - 100.0, r).astype(np.float64)


class TimeStepEnv(gym.Env):
    """gymnasium environment: pick the step parameter of a three-body integration every 0.1 yr.

    Parameters
    ----------
    seeds : systems to draw from on `reset` (default: the training seeds, disjoint from TEST_SEEDS)
    integrator : 'hermite' (mu) or 'aarseth' (eta = mu)
    reward : 'paper', 'cost' or 'final' (see `geomsci.nbody.rewards`)
    n_checks : intervals per episode (300 x 0.1 yr = 30 yr)
    lam : cost weight of the 'cost' reward

    ``reset(seed=s)`` seeds the draw of the system; ``options={'system_seed': k}`` picks system k.
    """

    metadata = {"render_modes": []}

    def __init__(self, seeds=TRAIN_SEEDS, *, integrator: str = "hermite", reward: str = "cost", n_checks: int = 300,
                 check_step: float = 0.1, max_error: float = 0.1, max_substeps: int = 20000, lam: float = 1.0,
                 weights=PAPER_WEIGHTS):
        if reward not in REWARDS:
            raise ValueError(f"TimeStepEnv: reward must be one of {REWARDS}, got {reward!r}")
        if integrator not in INTEGRATORS:
            raise ValueError(f"TimeStepEnv: integrator must be one of {INTEGRATORS}, got {integrator!r}")
        self.seeds = list(seeds) if not isinstance(seeds, range) else seeds
        self.integrator, self.reward_kind, self.n_checks = integrator, reward, int(n_checks)
        self.check_step, self.max_error, self.max_substeps = check_step, max_error, max_substeps
        self.lam, self.weights = lam, weights
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(13,), dtype=np.float32)
        self._batch: SystemBatch | None = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        if "system_seed" in options:
            k = int(options["system_seed"])
        else:
            k = int(self.seeds[int(self.np_random.integers(len(self.seeds)))])
        self._batch = SystemBatch([k], integrator=self.integrator, check_step=self.check_step,
                                  max_error=self.max_error, max_substeps=self.max_substeps)
        return np.clip(self._batch.observe()[0], -OBS_BOUND, OBS_BOUND), {"system_seed": k}

    def step(self, action):
        if self._batch is None:
            raise RuntimeError("TimeStepEnv: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"TimeStepEnv: action must be an int in [0, {self.action_space.n}), got {action!r}")
        out = self._batch.step([int(action)])
        reward = float(compute_reward(self.reward_kind, out, self.weights, self.lam)[0])
        obs = self._batch.observe()[0]
        obs = np.clip(np.nan_to_num(obs, nan=0.0), -OBS_BOUND, OBS_BOUND)
        terminated = bool(out["ended_early"][0])
        truncated = bool(out["stalled"][0]) or (self._batch.k >= self.n_checks and not terminated)
        info = {"energy_error": float(self._batch.rel_error[0]), "n_force": int(out["n_force"][0]),
                "mu": float(out["mu"][0]), "t": float(self._batch.state.t[0])}
        return obs, reward, terminated, truncated, info
