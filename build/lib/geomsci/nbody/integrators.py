"""Batched N-body integrators: Hermite (4th order, two step criteria) and leapfrog KDK.

B independent systems advance together, each with its own shared time step (the same dt for
all bodies of a system, different dt across systems). Everything is float64 torch on whatever
device the state lives on; a single system is just B = 1 and gives the same bits as the same
system inside any batch (see `forces.ordered_sum`).

Hermite predictor-corrector (Makino & Aarseth 1992), one force+jerk evaluation per step:

    predict   xp = x + v h + a h^2/2 + j h^3/6          vp = v + a h + j h^2/2
    evaluate  a1, j1 at (xp, vp)
    correct   v1 = v + (a + a1) h/2 + (j - j1) h^2/12
              x1 = x + (v + v1) h/2 + (a - a1) h^2/12

Leapfrog KDK: v+ = v + a h/2;  x1 = x + v+ h;  a1 = a(x1);  v1 = v+ + a1 h/2.

`evolve` lands every system exactly on its requested end time: the last step is clipped to the
remaining interval and the clock is then set to the end time itself (no round-off drift).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from .forces import accelerations, accelerations_and_jerks
from .timesteps import aarseth_timescale, collision_timescale, initial_aarseth_timescale

METHODS = ("hermite", "aarseth", "leapfrog")


@dataclass
class NBodyState:
    """State of B systems of N bodies in D dimensions (all tensors on one device, float64).

    x, v : (B, N, D) positions and velocities;  m : (B, N) masses;  t : (B,) times
    a, j : (B, N, D) acceleration and jerk at (x, v) (cached; one force evaluation each)
    tau : (B,) Aarseth timescale (dt = sqrt(eta) tau) from the last Hermite step
    n_force : (B,) int64 force evaluations so far;  n_steps : (B,) int64 steps so far
    G : gravitational constant
    """

    x: torch.Tensor
    v: torch.Tensor
    m: torch.Tensor
    t: torch.Tensor
    a: torch.Tensor
    j: torch.Tensor
    tau: torch.Tensor
    n_force: torch.Tensor
    n_steps: torch.Tensor
    G: float = 1.0
    extra: dict = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    def select(self, idx) -> "NBodyState":
        """Sub-batch ``idx`` (slice, index list or bool mask) as a new state."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1)
        return replace(self, **{k: getattr(self, k)[idx] for k in ("x", "v", "m", "t", "a", "j", "tau", "n_force", "n_steps")})


def make_state(x: torch.Tensor, v: torch.Tensor, m: torch.Tensor, G: float, t: torch.Tensor | float = 0.0) -> NBodyState:
    """Build a state from positions (B,N,D), velocities (B,N,D), masses (B,N); one force evaluation."""
    if x.dim() != 3 or v.shape != x.shape:
        raise ValueError(f"make_state: x and v must both have shape (B, N, D), got {tuple(x.shape)} and {tuple(v.shape)}")
    if m.shape != x.shape[:2]:
        raise ValueError(f"make_state: m must have shape (B, N) = {tuple(x.shape[:2])}, got {tuple(m.shape)}")
    if x.shape[1] < 2:
        raise ValueError(f"make_state: need at least 2 bodies, got N = {x.shape[1]}")
    if not (m > 0).all():
        raise ValueError("make_state: masses must be positive")
    if not (math.isfinite(G) and G > 0):
        raise ValueError(f"make_state: G must be positive and finite, got {G} (4 pi^2 for AU, yr, Msun; 1 for N-body units)")
    if not (torch.isfinite(x).all() and torch.isfinite(v).all() and torch.isfinite(m).all()):
        raise ValueError("make_state: positions, velocities and masses must be finite (found NaN or inf)")
    B = x.shape[0]
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(B).clone()
    a, j = accelerations_and_jerks(x, v, m, G)
    bad = ~(torch.isfinite(a).all(-1) & torch.isfinite(j).all(-1))  # (B, N)
    if bad.any():
        b, i = torch.nonzero(bad)[0].tolist()
        raise ValueError(f"make_state: system {b}, body {i} shares its position with another body (infinite force); "
                         "point masses must start apart")
    ones = torch.ones(B, dtype=torch.long, device=x.device)
    return NBodyState(x=x, v=v, m=m, t=t, a=a, j=j, tau=initial_aarseth_timescale(a, j),
                      n_force=ones, n_steps=torch.zeros_like(ones), G=float(G))


def hermite_step(x, v, a, j, m, h: torch.Tensor, G: float):
    """One Hermite predictor-corrector step of size h (B,) -> x1, v1, a1, j1 (B,N,D)."""
    h1 = h[:, None, None]  # (B, 1, 1)
    h2 = h1 * h1
    xp = x + h1 * v + (h2 / 2.0) * a + (h2 * h1 / 6.0) * j
    vp = v + h1 * a + (h2 / 2.0) * j
    a1, j1 = accelerations_and_jerks(xp, vp, m, G)
    v1 = v + (h1 / 2.0) * (a + a1) + (h2 / 12.0) * (j - j1)
    x1 = x + (h1 / 2.0) * (v + v1) + (h2 / 12.0) * (a - a1)
    return x1, v1, a1, j1


def leapfrog_step(x, v, a, m, h: torch.Tensor, G: float):
    """One kick-drift-kick step of size h (B,) -> x1, v1, a1 (B,N,D)."""
    h1 = h[:, None, None]
    vh = v + (h1 / 2.0) * a
    x1 = x + h1 * vh
    a1 = accelerations(x1, m, G)
    v1 = vh + (h1 / 2.0) * a1
    return x1, v1, a1


def check_step_parameter(p: torch.Tensor, what: str) -> torch.Tensor:
    """``p`` unchanged; a ValueError naming ``what`` unless every value is positive and finite."""
    bad = ~(torch.isfinite(p) & (p > 0))
    if bad.any():
        raise ValueError(f"{what} must be positive and finite, got {p[bad][0].item()}")
    return p


def _as_batch(value, state: NBodyState, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=state.x.dtype, device=state.x.device)
    if t.dim() == 0:
        t = t.expand(state.batch)
    if t.shape != (state.batch,):
        raise ValueError(f"evolve: {name} must be a scalar or shape ({state.batch},), got {tuple(t.shape)}")
    return t


def evolve(state: NBodyState, t_end, *, method: str = "hermite", param=1e-2, max_steps=None) -> torch.Tensor:
    """Advance every system of ``state`` (in place) to exactly ``t_end``.

    Parameters
    ----------
    state : NBodyState with B systems
    t_end : float or (B,) end times (>= current times)
    method : 'hermite' (collision-time criterion, param = mu), 'aarseth' (Hermite with Aarseth's
        criterion, param = eta) or 'leapfrog' (KDK with the collision-time criterion, param = mu)
    param : float or (B,) step parameter per system
    max_steps : int or (B,) int tensor; stop a system after this many steps in this call (it is
        then 'stalled')

    Returns
    -------
    stalled : (B,) bool, True where a system stopped before ``t_end``: it hit ``max_steps``, or it
        collapsed (a collision of point masses shrank its step until time no longer advanced, or
        made it non-finite); such a system keeps its last finite state.
    """
    if method not in METHODS:
        raise ValueError(f"evolve: method must be one of {METHODS}, got {method!r}")
    t_end = _as_batch(t_end, state, "t_end")
    p = check_step_parameter(_as_batch(param, state, "param"), "evolve: param")
    if (t_end < state.t).any():
        raise ValueError("evolve: t_end is before the current time of some system")
    sqrt_p = torch.sqrt(p)
    taken = torch.zeros_like(state.n_steps)
    collapsed = torch.zeros_like(state.t, dtype=torch.bool)
    zero = torch.zeros((), dtype=state.x.dtype, device=state.x.device)
    G = state.G
    while True:
        remaining = t_end - state.t  # (B,)
        active = (remaining > 0) & ~collapsed
        if max_steps is not None:
            active = active & (taken < max_steps)
        if not bool(active.any()):
            break
        if method == "aarseth":
            dt = sqrt_p * state.tau
        else:
            dt = p * collision_timescale(state.x, state.v, state.m, G)
        last = dt >= remaining
        # a collision of point masses drives dt to 0 (or NaN): stop that system instead of looping forever
        stuck = active & ~last & ~(state.t + dt > state.t)
        collapsed = collapsed | stuck
        active = active & ~stuck
        h = torch.where(active, torch.where(last, remaining, dt), zero)  # (B,)
        if method == "leapfrog":
            x1, v1, a1 = leapfrog_step(state.x, state.v, state.a, state.m, h, G)
            j1 = state.j
        else:
            x1, v1, a1, j1 = hermite_step(state.x, state.v, state.a, state.j, state.m, h, G)
            if method == "aarseth":
                tau1 = aarseth_timescale(state.a, state.j, a1, j1, h)
                state.tau = torch.where(active, tau1, state.tau)
        act3 = active[:, None, None]
        state.x = torch.where(act3, x1, state.x)
        state.v = torch.where(act3, v1, state.v)
        state.a = torch.where(act3, a1, state.a)
        state.j = torch.where(act3, j1, state.j)
        state.t = torch.where(active, torch.where(last, t_end, state.t + h), state.t)
        inc = active.long()
        state.n_force = state.n_force + inc
        state.n_steps = state.n_steps + inc
        taken = taken + inc
    return (state.t < t_end) | collapsed
