"""The time-step control problem as an environment: a batched core and a gymnasium wrapper.

Every ``check_step`` (0.1 yr) the agent picks mu (an index into `ACTIONS`, 10 values log-spaced
from 1e-4 to 1e-1, or into another set given as ``actions``); the integrator then advances the three-body system to the next check time
with that parameter ('hermite': dt = mu * collision time; 'aarseth': Hermite with Aarseth's
criterion and eta = mu, the same action values driving another integrator without retraining).

Observation (the paper's 'cart' state, 4N + 1 numbers, float32), N-body units with the total
mass and 1 AU as units (G = 1):

    [x_1/10, y_1/10, ..., x_N/10, y_N/10,  vx_1, vy_1, ..., vx_N, vy_N,  -log10 |dE/E0|]

``observation='extended'`` appends three features that make the decision learnable and
integrator-independent (16 numbers in all):

    [..., log10(t_coll / check_step),  d(-log10 |dE/E0|) over the last interval,  log10(mu_prev)]

t_coll is the collision time min over pairs of min(r/v, sqrt(r^3/(G(m_i+m_j)))) (how close the
next encounter is, relative to the decision interval), and mu_prev the parameter used in the last
interval (log10 mu_prev = 0 before the first decision). The previous parameter matters because
changing mu is not free here: in these three-body runs the final error is the small net of large,
mostly cancelling energy excursions during encounters, and a run that mixes two mu values ends
with about the error of the coarser one while paying for the finer one (docs/nbody.md measures it).

``observation='encounter'`` appends two more (18 numbers): how deep the nearby encounter is and when

    [..., log10(q / 1 AU),  t_to / check_step]

of the deepest pericentre passage (smallest q) within ``ENCOUNTER_WINDOW`` = 2 decision intervals of
now, ahead (t_to > 0) or just passed (t_to < 0), with q and t_to from each pair's osculating
two-body orbit (`nearest_pericentres`); when there is none: [3, 2] (q = 1000 AU). t_coll says that an
encounter is near, not how deep it gets; the energy at stake in a passage is G m_i m_j / q, so the
error a fixed mu makes there grows as 1/q. A passage just behind matters as much as one ahead: the
energy error of a passage is a large excursion that cancels on the way out only if the outbound
leg is integrated with the step parameter of the inbound one.

``observation='encounter_mass'`` is the same 18 numbers with the depth measured against the energy at stake
instead of in AU: log10(q_eff / 1 AU) with q_eff = q |E0| / (m_i m_j PAPER_ENERGY), PAPER_ENERGY = 5.38 Msun AU^2
yr^-2 the median |E0| of the paper's triples, so that a passage's share of |dE/E0|, which goes as
m_i m_j / (q |E0|), reads the same for any masses (on the paper's triples it shifts log q by log10(|E0| / 5.38):
-0.36 ... +0.34 for 98% of seeds 0-1999). `DepthRule(..., mass_aware=True)` reads it.

An episode ends early (terminated) when |dE/E0| > ``max_error`` (0.1); it is truncated after
``n_checks`` intervals or when a system needs more than ``max_substeps`` steps in one interval.

`SystemBatch` runs B systems at once (training and the batched evaluator use it); `TimeStepEnv` is
the single-system `gymnasium.Env`, registered as ``geomsci/TimeStep-v0``.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch

from geomsci.core.mesh import Mesh

from .diagnostics import energy, nearest_pericentres, potential_energy
from .initial_conditions import paper_triple
from .integrate import state_from
from .integrators import evolve
from .rewards import E_LIM, FINAL_E_LIM, PAPER_WEIGHTS, REWARDS, cost_reward, final_reward, paper_reward, steady_reward
from .timesteps import collision_timescale
from .units import G_AU, nbody_velocity_unit

ACTIONS = np.logspace(-4, -1, 10)
TEST_SEEDS = range(0, 100)
TRAIN_SEEDS = range(1000, 1_000_000)
INTEGRATORS = ("hermite", "aarseth")
OBSERVATIONS = {"paper": 13, "extended": 16, "encounter": 18, "encounter_mass": 18}  # observation kind -> length
PAPER_ENERGY = 5.38  # Msun AU^2 / yr^2: median |E0| of the paper's triples (seeds 1000-1199), the 'encounter_mass' unit
ENCOUNTER_PAIRS = ((0, 1), (0, 2), (1, 2))  # the pair order of nearest_pericentres for three bodies
ENCOUNTER_WINDOW = 2.0  # 'encounter' observation: pericentre passages due within this many decision intervals
NO_ENCOUNTER_LOG_Q = 3.0  # its log10(q / AU) when none is due (1000 AU: no encounter)
OBS_BOUND = 1e3  # observations are clipped to [-1e3, 1e3] (a body ejected to 10^4 AU)


def check_actions(actions) -> np.ndarray:
    """``actions`` as a float64 array (K,), or a ValueError unless they are K >= 2 positive, finite, increasing values."""
    arr = np.asarray(actions, dtype=np.float64).reshape(-1)
    if arr.size < 2 or not np.all(np.isfinite(arr) & (arr > 0)) or not np.all(np.diff(arr) > 0):
        raise ValueError(
            f"actions must be at least two positive, finite step parameters in increasing order, got {np.asarray(actions).tolist()}"
        )
    return arr


NEAR_ZERO_ENERGY = 0.05  # |E0| / |U0| below which |dE/E0| is no measure of accuracy


def _warn_if_energy_near_zero(E0: torch.Tensor, U0: torch.Tensor) -> None:
    """Warn about systems whose total energy is nearly zero: |dE/E0| divides by it, so there a tiny absolute error
    reads as a large relative one (and ends the run early). The paper's triples have |E0| >= 0.4 |U0|."""
    ratio = (E0 / U0).abs()  # (B,)
    near = torch.nonzero(ratio < NEAR_ZERO_ENERGY).flatten().tolist()
    if near:
        which = ", ".join(f"number {i} (|E0| = {ratio[i].item():.1e} |U0|)" for i in near[:5]) + (" ..." if len(near) > 5 else "")
        warnings.warn(
            f"SystemBatch: {len(near)} system(s) have a total energy near zero: {which}. Their |dE/E0| is amplified by "
            f"|U0| / |E0| and an early end there (|dE/E0| above max_error) may mean little; judge them by |dE| / |U0|.",
            RuntimeWarning,
            stacklevel=3,
        )


def _warn_if_not_centre_of_mass_frame(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor) -> None:
    """Warn about systems that drift or sit off the origin: the policies read positions and velocities as the paper's
    centre-of-mass-frame triples show them, and a bulk motion's kinetic energy enters E0 and so |dE/E0|."""
    M = m.sum(-1, keepdim=True)  # (B, 1)
    x_com, v_com = (m[..., None] * x).sum(-2) / M, (m[..., None] * v).sum(-2) / M  # (B, D)
    size = (x - x_com[:, None]).norm(dim=-1).amax(-1)  # (B,) extent about the centre of mass
    speed = (v - v_com[:, None]).norm(dim=-1).amax(-1)
    off = (x_com.norm(dim=-1) > 1e-6 * size) | (v_com.norm(dim=-1) > 1e-6 * speed.clamp_min(1e-300))
    idx = torch.nonzero(off).flatten().tolist()
    if idx:
        warnings.warn(
            f"SystemBatch: system(s) {idx[:5]}{' ...' if len(idx) > 5 else ''} are not in the centre-of-mass frame "
            "(their centre of mass is off the origin or moving). Policies read positions and velocities as the "
            "paper's triples show them, and the bulk motion's kinetic energy enters E0: shift each system by its "
            "centre of mass (geomsci.nbody.center_of_mass) first.",
            RuntimeWarning,
            stacklevel=3,
        )


class SystemBatch:
    """B paper three-body systems advanced together, one step parameter per system per interval.

    Parameters
    ----------
    seeds : sequence (B,) of `paper_triple` seeds (int) or of three-body systems as point-set `Mesh`es with
        'velocities' and 'masses' in AU, AU/yr and Msun (G = 4 pi^2, the paper's units: a policy's observation
        scales them as the paper does, positions / 10 AU and velocities in the N-body unit of 3 Msun at 1 AU)
    integrator : 'hermite' or 'aarseth'
    check_step : interval between decisions, yr
    max_error : |dE/E0| above which a system's run ends early
    max_substeps : per-interval step cap (a system exceeding it is stopped: 'stalled')
    actions : the step parameter of each action index (default `ACTIONS`, the paper's ten)
    step_options : options of `evolve` for every interval, e.g. ``{'symmetric': 1}`` (default: none,
        the integrator the shipped policy was trained on)
    """

    def __init__(
        self,
        seeds,
        *,
        integrator: str = "hermite",
        check_step: float = 0.1,
        max_error: float = 0.1,
        max_substeps: int = 20000,
        actions=ACTIONS,
        device=None,
        step_options: dict | None = None,
    ):
        if integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
        if check_step <= 0:
            raise ValueError(f"check_step must be > 0 yr, got {check_step}")
        systems = [s if isinstance(s, Mesh) else paper_triple(int(s), device=device) for s in seeds]
        if not systems or any(m.n_points != 3 for m in systems):
            raise ValueError(
                f"SystemBatch: needs paper seeds or three-body systems, got {[m.n_points for m in systems][:8]} bodies"
            )
        self.seeds = [-1 if isinstance(s, Mesh) else int(s) for s in seeds]  # -1: a system given as a Mesh
        self.step_options = dict(step_options or {})
        self.integrator, self.check_step, self.max_error = integrator, float(check_step), float(max_error)
        self.max_substeps, self.actions = int(max_substeps), check_actions(actions)
        self.state = state_from([m.to(device) if device is not None else m for m in systems], G=G_AU)
        st = self.state
        self.E0 = energy(st.x, st.v, st.m, G_AU)  # (B,)
        _warn_if_energy_near_zero(self.E0, potential_energy(st.x, st.m, G_AU))
        _warn_if_not_centre_of_mass_frame(st.x, st.v, st.m)
        self.E = self.E0.clone()
        self.k = 0  # intervals done
        B = st.batch
        self.done = torch.zeros(B, dtype=torch.bool, device=st.x.device)  # ended (early or stalled)
        self.ended_early = torch.zeros_like(self.done)
        self.stalled = torch.zeros_like(self.done)
        self.v_unit = nbody_velocity_unit(3.0, 1.0, G_AU)
        self.mu_prev = torch.ones(B, dtype=st.x.dtype, device=st.x.device)  # 1 = no decision yet
        self.dlog_err = torch.zeros(B, dtype=st.x.dtype, device=st.x.device)

    @property
    def batch(self) -> int:
        return self.state.batch

    @property
    def rel_error(self) -> torch.Tensor:
        """|E - E0| / |E0| per system, (B,)."""
        return ((self.E - self.E0) / self.E0).abs()

    def _neg_log_err(self) -> torch.Tensor:
        return -torch.log10(self.rel_error.clamp_min(1e-16))  # (B,)

    def observe(self, kind: str = "paper") -> np.ndarray:
        """Observation (B, 13) for 'paper', (B, 16) for 'extended', (B, 18) for 'encounter' and 'encounter_mass';
        float32 (module docstring)."""
        if kind not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {tuple(OBSERVATIONS)}, got {kind!r}")
        st = self.state
        pos = (st.x[..., :2] / 10.0).reshape(st.batch, -1)  # (B, 2N), length unit 1 AU, /10 as the paper
        vel = (st.v[..., :2] / self.v_unit).reshape(st.batch, -1)  # (B, 2N)
        cols = [pos, vel, self._neg_log_err()[:, None]]  # (B, 4N + 1)
        if kind != "paper":
            tc = collision_timescale(st.x, st.v, st.m, G_AU)  # (B,) yr
            cols += [
                torch.log10(tc / self.check_step).clamp(-8.0, 8.0)[:, None],
                self.dlog_err.clamp(-16.0, 16.0)[:, None],
                torch.log10(self.mu_prev)[:, None],
            ]
        if kind.startswith("encounter"):
            cols.append(self.nearby_encounter(mass_aware=kind == "encounter_mass"))  # (B, 2)
        obs = torch.cat(cols, dim=1).cpu().numpy().astype(np.float32)
        return np.clip(np.nan_to_num(obs, nan=0.0), -OBS_BOUND, OBS_BOUND)

    def nearby_encounter(self, mass_aware: bool = False) -> torch.Tensor:
        """(B, 2): log10(q / 1 AU) in [-8, 3] and t_to / check_step in [-ENCOUNTER_WINDOW, ENCOUNTER_WINDOW] of the
        deepest pericentre passage within ``ENCOUNTER_WINDOW`` intervals of now (t_to > 0: ahead, < 0: passed);
        [3, ENCOUNTER_WINDOW] when there is none. ``mass_aware``: q_eff = q |E0| / (m_i m_j PAPER_ENERGY) in
        place of q, and 'deepest' by q_eff (the module docstring)."""
        st = self.state
        q, t_to = nearest_pericentres(st.x, st.v, st.m, G_AU)  # (B, 3) AU, yr
        if mass_aware:
            i, j = zip(*ENCOUNTER_PAIRS)
            at_stake = st.m[:, list(i)] * st.m[:, list(j)] * PAPER_ENERGY / self.E0.abs()[:, None]  # (B, 3)
            q = q / at_stake
        t_rel = t_to / self.check_step
        near = t_rel.abs() <= ENCOUNTER_WINDOW  # False for NaN
        log_q = torch.log10(torch.where(near, q, 10.0**NO_ENCOUNTER_LOG_Q).clamp(1e-8, 10.0**NO_ENCOUNTER_LOG_Q))  # (B, 3)
        k = log_q.argmin(dim=1, keepdim=True)  # the deepest passage near now (first pair on ties)
        log_q = log_q.gather(1, k)[:, 0]
        t_rel = torch.where(log_q < NO_ENCOUNTER_LOG_Q, t_rel.gather(1, k)[:, 0], torch.full_like(log_q, ENCOUNTER_WINDOW))
        return torch.stack([log_q, t_rel], dim=1)

    def step(self, action_idx, max_steps=None) -> dict:
        """Advance every running system one interval with ``ACTIONS[action_idx[b]]``.

        ``max_steps`` (int or (B,) tensor) overrides ``max_substeps`` for this interval.
        Returns a dict of numpy arrays (B,): 'E', 'E_prev', 'n_force' (this interval), 'mu',
        'mu_prev' (the parameter of the interval before; 1 before the first decision),
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
        stalled = evolve(st, t_target, method=self.integrator, param=mu, max_steps=cap, **self.step_options)
        E_prev = self.E
        nle_prev = self._neg_log_err()
        self.E = energy(st.x, st.v, st.m, G_AU)
        self.dlog_err = torch.where(active, self._neg_log_err() - nle_prev, self.dlog_err)
        mu_prev = self.mu_prev
        self.mu_prev = torch.where(active, mu, self.mu_prev)
        err = self.rel_error
        early = active & (~torch.isfinite(err) | (err > self.max_error))
        stalled = active & stalled & ~early
        self.ended_early |= early
        self.stalled |= stalled
        self.done |= early | stalled
        self.k += 1
        return {
            "E": self.E.cpu().numpy(),
            "E_prev": E_prev.cpu().numpy(),
            "E0": self.E0.cpu().numpy(),
            "n_force": (st.n_force - nf0).cpu().numpy(),
            "mu": self.actions[a],
            "mu_prev": mu_prev.cpu().numpy(),
            "ended_early": early.cpu().numpy(),
            "stalled": stalled.cpu().numpy(),
            "active": active.cpu().numpy(),
        }


def compute_reward(
    kind: str, out: dict, weights=PAPER_WEIGHTS, lam: float = 1.0, e_lim: float | None = None, c_switch: float = 0.5
) -> np.ndarray:
    """Reward (B,) of one `SystemBatch.step` output for reward ``kind`` (one of `REWARDS`).

    ``e_lim``: the error below which accuracy earns nothing (default: each reward's own, 1e-10 for
    'paper' and 'cost', 1e-12 for 'final' and 'steady').
    """
    if e_lim is not None and not (np.isfinite(e_lim) and 0 < e_lim < 1):
        raise ValueError(f"e_lim must be in (0, 1), got {e_lim}")
    floor = FINAL_E_LIM if e_lim is None else e_lim
    e_lim = E_LIM if e_lim is None else e_lim
    if kind == "paper":
        dE = (out["E"] - out["E0"]) / out["E0"]
        dEp = (out["E_prev"] - out["E0"]) / out["E0"]
        r = paper_reward(dE, dEp, out["mu"], weights, e_lim)
    elif kind == "cost":
        r = cost_reward(out["E"], out["E_prev"], out["E0"], out["n_force"], lam, e_lim)
    elif kind == "final":
        dE = (out["E"] - out["E0"]) / out["E0"]
        dEp = (out["E_prev"] - out["E0"]) / out["E0"]
        r = final_reward(dE, dEp, out["n_force"], lam, floor)
    elif kind == "steady":
        dE = (out["E"] - out["E0"]) / out["E0"]
        dEp = (out["E_prev"] - out["E0"]) / out["E0"]
        r = steady_reward(dE, dEp, out["n_force"], out["mu"], out["mu_prev"], lam, c_switch, floor)
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
    reward : 'paper', 'cost', 'final' or 'steady' (see `geomsci.nbody.rewards`)
    observation : 'paper' (13 numbers), 'extended' (16), 'encounter' or 'encounter_mass' (18; see the module docstring)
    n_checks : intervals per episode (200 x 0.1 yr = 20 yr)
    lam : cost weight (per 1000 force evaluations) of the 'cost', 'final' and 'steady' rewards
    c_switch : charge per notch that mu moves ('steady')
    step_options : options of `evolve`, e.g. ``{'symmetric': 1}``
    actions : the step parameter of each action index (default `ACTIONS`, the paper's ten)
    e_lim : |dE/E0| below which accuracy earns nothing (default: the reward's own, see `compute_reward`)

    Notes
    -----
    The defaults are those of ``geomsci nbody train`` (reward 'steady', lam 1, c_switch 0.5, the
    extended observation, 20-yr episodes). Registered with gymnasium as ``geomsci/TimeStep-v0``
    (``gymnasium.make("geomsci/TimeStep-v0")`` after ``import geomsci.nbody``).

    ``reset(seed=s)`` seeds the draw of the system; ``options={'system_seed': k}`` picks system k.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        seeds=TRAIN_SEEDS,
        *,
        integrator: str = "hermite",
        reward: str = "steady",
        n_checks: int = 200,
        check_step: float = 0.1,
        max_error: float = 0.1,
        max_substeps: int = 20000,
        lam: float = 1.0,
        weights=PAPER_WEIGHTS,
        observation: str = "extended",
        c_switch: float = 0.5,
        step_options: dict | None = None,
        actions=ACTIONS,
        e_lim: float | None = None,
    ):
        if observation not in OBSERVATIONS:
            raise ValueError(f"TimeStepEnv: observation must be one of {tuple(OBSERVATIONS)}, got {observation!r}")
        if reward not in REWARDS:
            raise ValueError(f"TimeStepEnv: reward must be one of {REWARDS}, got {reward!r}")
        if integrator not in INTEGRATORS:
            raise ValueError(f"TimeStepEnv: integrator must be one of {INTEGRATORS}, got {integrator!r}")
        self.seeds = list(seeds) if not isinstance(seeds, range) else seeds
        self.integrator, self.reward_kind, self.n_checks = integrator, reward, int(n_checks)
        self.check_step, self.max_error, self.max_substeps = check_step, max_error, max_substeps
        self.lam, self.weights, self.observation, self.c_switch = lam, weights, observation, c_switch
        self.step_options = dict(step_options or {})
        self.actions, self.e_lim = check_actions(actions), e_lim
        self.action_space = gym.spaces.Discrete(len(self.actions))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(OBSERVATIONS[observation],), dtype=np.float32)
        self._batch: SystemBatch | None = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        if "system_seed" in options:
            k = int(options["system_seed"])
        else:
            k = int(self.seeds[int(self.np_random.integers(len(self.seeds)))])
        self._batch = SystemBatch(
            [k],
            integrator=self.integrator,
            check_step=self.check_step,
            max_error=self.max_error,
            max_substeps=self.max_substeps,
            actions=self.actions,
            step_options=self.step_options,
        )
        return self._batch.observe(self.observation)[0], {"system_seed": k}

    def step(self, action):
        if self._batch is None:
            raise RuntimeError("TimeStepEnv: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"TimeStepEnv: action must be an int in [0, {self.action_space.n}), got {action!r}")
        out = self._batch.step([int(action)])
        reward = float(compute_reward(self.reward_kind, out, self.weights, self.lam, self.e_lim, self.c_switch)[0])
        obs = self._batch.observe(self.observation)[0]
        terminated = bool(out["ended_early"][0])
        truncated = bool(out["stalled"][0]) or (self._batch.k >= self.n_checks and not terminated)
        info = {
            "energy_error": float(self._batch.rel_error[0]),
            "n_force": int(out["n_force"][0]),
            "mu": float(out["mu"][0]),
            "t": float(self._batch.state.t[0]),
        }
        return obs, reward, terminated, truncated, info


ENV_ID = "geomsci/TimeStep-v0"


def register() -> None:
    """Register `TimeStepEnv` with gymnasium as ``geomsci/TimeStep-v0`` (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="geomsci.nbody.env:TimeStepEnv")


register()
