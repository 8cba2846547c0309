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

Options of `evolve` (all off by default, so the defaults give the bits they always gave):

- ``symmetric=k`` (collision-time criteria): the time-symmetrized shared step
  dt = mu (t_coll(now) + t_coll(predicted end)) / 2, iterated k times from dt = mu t_coll(now).
  The end state is the Hermite *predictor* at dt, so no force is evaluated; t_coll needs only
  positions and velocities. A step that sees an encounter coming shrinks before it, not after.
- ``corrector=n``: P(EC)^n, the corrector iterated n times, re-evaluating the force at the last
  corrected state (n force evaluations per step; n = 2 makes Hermite close to time-reversible).
- ``predictor_order=5`` (Hermite, either criterion): the predictor adds the snap and crackle terms
  h^4 s/24 + h^5 c/120 (and h^3 s/6 + h^4 c/24 to v), with s and c at the step's start taken from
  the cubic through the previous step's two ends (as NBODY-style Hermite codes do). No force is
  evaluated for them, and the corrector is unchanged, so the step stays 4th order; but the force is
  now evaluated where the implicit (time-symmetric) Hermite step would put it, and the error drops
  by about an order of magnitude (docs/nbody.md). The first step, before there is a history, is the
  classic one; s and c live in ``state.snap/crackle`` between calls (a call with the classic
  predictor drops them, so they are never stale).
- ``compensated=True``: positions and velocities carry their rounding error (an error term per
  coordinate, updated with the error-free TwoSum), so tiny increments during a deep close approach
  are not lost against O(1) coordinates.
- ``compact=True`` (default; bits unchanged): finished or capped systems leave the working batch
  when at most half of it is still running, so a batch stops paying for its finished members.
- ``cuda_graph=True``: on CUDA, ``graph_steps`` fixed-shape steps are captured once as a CUDA graph
  and replayed (one launch instead of hundreds of kernels per step, one host sync per replay).
  The replayed kernels are the eager ones, so the bits are the same; if capture fails, or the
  state is not on CUDA, the same step runs eagerly (with a warning on capture failure).

`evolve` lands every system exactly on its requested end time: the last step is clipped to the
remaining interval and the clock is then set to the end time itself (no round-off drift).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from .forces import accelerations, accelerations_and_jerks
from .timesteps import aarseth_timescale, collision_timescale, end_snap_crackle, initial_aarseth_timescale

METHODS = ("hermite", "aarseth", "leapfrog")
_BATCHED = ("x", "v", "m", "t", "a", "j", "tau", "n_force", "n_steps")
_OPTIONAL = ("x_err", "v_err", "snap", "crackle")  # kept by some step options only; None otherwise


@dataclass
class NBodyState:
    """State of B systems of N bodies in D dimensions (all tensors on one device, float64).

    x, v : (B, N, D) positions and velocities;  m : (B, N) masses;  t : (B,) times
    a, j : (B, N, D) acceleration and jerk at (x, v) (cached; one force evaluation each)
    tau : (B,) Aarseth timescale (dt = sqrt(eta) tau) from the last Hermite step
    n_force : (B,) int64 force evaluations so far;  n_steps : (B,) int64 steps so far
    x_err, v_err : (B, N, D) rounding errors of x and v (the true value is x + x_err), kept only by
        compensated steps; None until the first one
    snap, crackle : (B, N, D) second and third time derivatives of the acceleration at (x, v), from
        the cubic through the last step's two ends; kept only by ``predictor_order=5`` steps (None
        until the first one; zero before any step, which makes the first prediction the classic one)
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
    x_err: torch.Tensor | None = None
    v_err: torch.Tensor | None = None
    snap: torch.Tensor | None = None
    crackle: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    def select(self, idx) -> NBodyState:
        """Sub-batch ``idx`` (slice, index list or bool mask) as a new state."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1)
        err = {k: getattr(self, k)[idx] for k in _OPTIONAL if getattr(self, k) is not None}
        return replace(self, **{k: getattr(self, k)[idx] for k in _BATCHED}, **err)


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
        raise ValueError(
            f"make_state: system {b}, body {i} shares its position with another body (infinite force); "
            "point masses must start apart"
        )
    ones = torch.ones(B, dtype=torch.long, device=x.device)
    return NBodyState(
        x=x,
        v=v,
        m=m,
        t=t,
        a=a,
        j=j,
        tau=initial_aarseth_timescale(a, j),
        n_force=ones,
        n_steps=torch.zeros_like(ones),
        G=float(G),
    )


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


def two_sum(s: torch.Tensor, err: torch.Tensor, d: torch.Tensor):
    """(s + err) + d as a new pair (s1, err1) with s1 + err1 exact to rounding of err: Knuth's TwoSum.

    Error-free for any magnitudes (unlike Kahan's Fast2Sum, which needs |s| >= |d|): a body passing
    the origin has |x| smaller than its increment.
    """
    y = d + err
    s1 = s + y
    yv = s1 - s
    return s1, (s - (s1 - yv)) + (y - yv)


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


@dataclass(frozen=True)
class StepRule:
    """How a step is taken (see the module docstring): the method and its options."""

    method: str = "hermite"
    symmetric: int = 0
    corrector: int = 1
    compensated: bool = False
    predictor_order: int = 3

    def check(self) -> StepRule:
        if self.method not in METHODS:
            raise ValueError(f"evolve: method must be one of {METHODS}, got {self.method!r}")
        for name, lo in (("symmetric", 0), ("corrector", 1)):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < lo:
                raise ValueError(f"evolve: {name} must be an integer >= {lo}, got {val!r}")
        if self.symmetric and self.method == "aarseth":
            raise ValueError(
                "evolve: symmetric needs the collision-time criterion (method 'hermite' or 'leapfrog'); "
                "Aarseth's criterion needs the force derivatives at the step's end, which a prediction does "
                "not have; use symmetric=0 with method='aarseth'"
            )
        if self.predictor_order not in (3, 5):
            raise ValueError(
                f"evolve: predictor_order must be 3 (Taylor in a, j) or 5 (plus snap, crackle), got {self.predictor_order!r}"
            )
        if self.predictor_order == 5 and self.method == "leapfrog":
            raise ValueError("evolve: predictor_order=5 applies to Hermite ('hermite', 'aarseth'); leapfrog has no jerk, use 3")
        if self.corrector > 1 and self.method == "leapfrog":
            raise ValueError(
                f"evolve: corrector={self.corrector} applies to Hermite ('hermite', 'aarseth'); leapfrog "
                "has no corrector, use corrector=1"
            )
        return self


def _predict(x, v, a, j, h1, x_err, v_err, with_jerk: bool, snap=None, crackle=None):
    """Taylor prediction to step h1 (B,1,1): Hermite's predictor (or leapfrog's drift without j),
    with the snap and crackle terms when they are given (``predictor_order=5``)."""
    h2 = h1 * h1
    if snap is not None:  # the fifth-order terms, added last in either branch
        x45 = (h2 * h2 / 24.0) * (snap + (h1 / 5.0) * crackle)
        v34 = (h2 * h1 / 6.0) * (snap + (h1 / 4.0) * crackle)
    if x_err is None:
        if not with_jerk:
            return x + h1 * v + (h2 / 2.0) * a, v + h1 * a
        xp = x + h1 * v + (h2 / 2.0) * a + (h2 * h1 / 6.0) * j
        vp = v + h1 * a + (h2 / 2.0) * j
        return (xp, vp) if snap is None else (xp + x45, vp + v34)
    # small terms first, then the O(1) coordinate once
    dxp = x_err + h1 * (v + v_err) + (h2 / 2.0) * a
    dvp = v_err + h1 * a
    if with_jerk:
        dxp, dvp = dxp + (h2 * h1 / 6.0) * j, dvp + (h2 / 2.0) * j
    if snap is not None:
        dxp, dvp = dxp + x45, dvp + v34
    return x + dxp, v + dvp


def _end_derivatives(a0, j0, a1, j1, h1, snap, crackle, full):
    """Snap and crackle at the end of a Hermite step of size h1 (B,1,1), from the cubic through
    (a0, j0) and (a1, j1); where ``full`` (B,1,1) is False (a step clipped to an end time so short
    that the differences lose their digits) the old ones are carried forward by Taylor instead."""
    s, c = end_snap_crackle(a0, j0, a1, j1, torch.where(full, h1, torch.ones_like(h1)))
    return torch.where(full, s, snap + h1 * crackle), torch.where(full, c, crackle)


def _step(s: dict, c: dict, rule: StepRule, G: float) -> dict:
    """One step of every system of the working set ``s`` (a dict of tensors), with no host sync.

    ``c`` holds the constants (m, t_end, p, sqrt_p, max_steps). Systems that are finished, capped or
    collapsed take a step of size 0 and keep their bits (every update is masked by ``active``).
    Returns the new working set, including ``running``: which systems still have work to do.
    """
    x, v, a, j, t, m = s["x"], s["v"], s["a"], s["j"], s["t"], c["m"]
    x_err, v_err = s.get("x_err"), s.get("v_err")
    snap, crackle = s.get("snap"), s.get("crackle")
    remaining = c["t_end"] - t  # (B,)
    active = (remaining > 0) & ~s["collapsed"]
    if c["max_steps"] is not None:
        active = active & (s["taken"] < c["max_steps"])
    if rule.method == "aarseth":
        dt = c["sqrt_p"] * s["tau"]
    else:
        tc = collision_timescale(x, v, m, G)  # (B,)
        dt = c["p"] * tc
        for _ in range(rule.symmetric):  # time-symmetrized: average t_coll over the step's two ends
            xp, vp = _predict(x, v, a, j, dt[:, None, None], x_err, v_err, rule.method != "leapfrog", snap, crackle)
            dt = c["p"] * ((tc + collision_timescale(xp, vp, m, G)) / 2.0)
    last = dt >= remaining
    # a collision of point masses drives dt to 0 (or NaN): stop that system instead of looping forever
    stuck = active & ~last & ~(t + dt > t)
    collapsed = s["collapsed"] | stuck
    active = active & ~stuck
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    h = torch.where(active, torch.where(last, remaining, dt), zero)  # (B,)
    h1 = h[:, None, None]  # (B, 1, 1)
    h2 = h1 * h1
    x1e = v1e = None
    if rule.method == "leapfrog":
        if x_err is None:
            x1, v1, a1 = leapfrog_step(x, v, a, m, h, G)
        else:
            vh = (v + v_err) + (h1 / 2.0) * a
            x1, x1e = two_sum(x, x_err, h1 * vh)
            a1 = accelerations(x1 + x1e, m, G)
            v1, v1e = two_sum(v, v_err, (h1 / 2.0) * a + (h1 / 2.0) * a1)
        j1 = j
    else:
        xc, vc = _predict(x, v, a, j, h1, x_err, v_err, True, snap, crackle)
        for _ in range(rule.corrector):  # P(EC)^n: evaluate at the latest estimate, correct from the start
            a1, j1 = accelerations_and_jerks(xc, vc, m, G)
            if x_err is None:
                v1 = v + (h1 / 2.0) * (a + a1) + (h2 / 12.0) * (j - j1)
                x1 = x + (h1 / 2.0) * (v + v1) + (h2 / 12.0) * (a - a1)
                xc, vc = x1, v1
            else:
                v1, v1e = two_sum(v, v_err, (h1 / 2.0) * (a + a1) + (h2 / 12.0) * (j - j1))
                dx = (h1 / 2.0) * ((v + v_err) + (v1 + v1e)) + (h2 / 12.0) * (a - a1)
                x1, x1e = two_sum(x, x_err, dx)
                xc, vc = x1 + x1e, v1 + v1e
    act3 = active[:, None, None]
    out = dict(s)
    if rule.method == "aarseth":
        out["tau"] = torch.where(active, aarseth_timescale(a, j, a1, j1, h), s["tau"])
    out["x"] = torch.where(act3, x1, x)
    out["v"] = torch.where(act3, v1, v)
    out["a"] = torch.where(act3, a1, a)
    out["j"] = torch.where(act3, j1, j)
    if x_err is not None:
        out["x_err"] = torch.where(act3, x1e, x_err)
        out["v_err"] = torch.where(act3, v1e, v_err)
    if snap is not None:
        # differences over a step below 1e-3 of the system's timescale lose the digits of crackle
        # (relative round-off ~ 1e-16 (timescale/h)^3): such a step carries the old derivatives on
        scale = s["tau"] if rule.method == "aarseth" else dt / c["p"]
        full = (act3 & (h1 >= 1e-3 * scale[:, None, None])) & (h1 > 0)
        s1, c1 = _end_derivatives(a, j, a1, j1, h1, snap, crackle, full)
        out["snap"] = torch.where(act3, s1, snap)
        out["crackle"] = torch.where(act3, c1, crackle)
    out["t"] = t1 = torch.where(active, torch.where(last, c["t_end"], t + h), t)
    inc = active.long()
    out["n_force"] = s["n_force"] + inc * rule.corrector if rule.corrector > 1 else s["n_force"] + inc
    out["n_steps"] = s["n_steps"] + inc
    out["taken"] = taken = s["taken"] + inc
    out["collapsed"] = collapsed
    running = (c["t_end"] - t1 > 0) & ~collapsed
    if c["max_steps"] is not None:
        running = running & (taken < c["max_steps"])
    out["running"] = running
    return out


class _GraphStepper:
    """``k`` steps of `_step` captured as one CUDA graph over static buffers (fixed batch shape)."""

    def __init__(self, s: dict, c: dict, rule: StepRule, G: float, k: int):
        self.static = {key: val.clone() for key, val in s.items()}
        self.consts = {key: (val.clone() if isinstance(val, torch.Tensor) else val) for key, val in c.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the capture (lazy kernel and allocator set-up)
            _step(self.static, self.consts, rule, G)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            out = self.static
            for _ in range(k):
                out = _step(out, self.consts, rule, G)
            for key, buf in self.static.items():
                buf.copy_(out[key])

    def __call__(self) -> dict:
        self.graph.replay()
        return self.static


def evolve(
    state: NBodyState,
    t_end,
    *,
    method: str = "hermite",
    param=1e-2,
    max_steps=None,
    symmetric: int = 0,
    corrector: int = 1,
    compensated: bool = False,
    predictor_order: int = 3,
    compact: bool = True,
    cuda_graph: bool = False,
    graph_steps: int = 16,
    on_sync: Callable[[torch.Tensor], bool] | None = None,
) -> torch.Tensor:
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
    symmetric : prediction-only iterations of the time-symmetrized step (0: dt = mu t_coll(now));
        'hermite' and 'leapfrog' only
    corrector : n of P(EC)^n, force evaluations per Hermite step (1: the classic Hermite step)
    compensated : carry the rounding error of x and v (TwoSum); kept in ``state.x_err/v_err``
    predictor_order : 3 (Hermite's Taylor predictor in a, j) or 5 (plus snap and crackle from the
        last step; same force evaluations, about 10x smaller error); 'hermite' and 'aarseth' only
    compact : drop systems that are done from the working batch (same bits, less work)
    cuda_graph : replay ``graph_steps`` captured steps per launch on CUDA (same bits; eager elsewhere)
    on_sync : called every few hundred steps with the times (W,) of the systems still in the working
        set; returning True stops every system where it is (they come back as stalled)

    Returns
    -------
    stalled : (B,) bool, True where a system stopped before ``t_end``: it hit ``max_steps``, or it
        collapsed (a collision of point masses shrank its step until time no longer advanced, or
        made it non-finite), or ``on_sync`` stopped it; such a system keeps its last finite state.
    """
    rule = StepRule(method, symmetric, corrector, bool(compensated), predictor_order).check()
    t_end = _as_batch(t_end, state, "t_end")
    p = check_step_parameter(_as_batch(param, state, "param"), "evolve: param")
    if (t_end < state.t).any():
        raise ValueError("evolve: t_end is before the current time of some system")
    if isinstance(graph_steps, bool) or not isinstance(graph_steps, int) or graph_steps < 1:
        raise ValueError(f"evolve: graph_steps must be a positive integer, got {graph_steps!r}")
    B, dev = state.batch, state.x.device
    if max_steps is not None and not isinstance(max_steps, int):
        max_steps = torch.as_tensor(max_steps, device=dev).expand(B)
    if rule.compensated and state.x_err is None:
        state.x_err, state.v_err = torch.zeros_like(state.x), torch.zeros_like(state.v)
    if rule.predictor_order == 5 and state.snap is None:
        state.snap, state.crackle = torch.zeros_like(state.a), torch.zeros_like(state.a)
    elif rule.predictor_order == 3:  # steps without them would leave them stale for a later fifth-order call
        state.snap = state.crackle = None
    keys = ["x", "v", "a", "j", "t", "tau", "n_force", "n_steps"] + (["x_err", "v_err"] if rule.compensated else [])
    keys += ["snap", "crackle"] if rule.predictor_order == 5 else []
    collapsed = torch.zeros(B, dtype=torch.bool, device=dev)
    idx = torch.arange(B, device=dev)  # working set -> batch index

    def constants(rows):
        ms = max_steps if max_steps is None or isinstance(max_steps, int) else max_steps[rows]
        return {"m": state.m[rows], "t_end": t_end[rows], "p": p[rows], "sqrt_p": torch.sqrt(p[rows]), "max_steps": ms}

    def working(rows):
        s = {k: getattr(state, k)[rows] for k in keys}
        s["taken"] = torch.zeros(len(rows), dtype=torch.long, device=dev)
        s["collapsed"] = collapsed[rows]
        s["running"] = torch.ones(len(rows), dtype=torch.bool, device=dev)
        return s

    def write_back(s, rows):
        for k in keys:
            getattr(state, k)[rows] = s[k]
        collapsed[rows] = s["collapsed"]

    use_graph = cuda_graph and dev.type == "cuda"
    if cuda_graph and not use_graph:
        warnings.warn(
            f"evolve: cuda_graph needs a CUDA state (this one is on {dev}); stepping eagerly", RuntimeWarning, stacklevel=2
        )
    per_sync = graph_steps if cuda_graph else 1
    s, c = working(idx), constants(idx)
    stepper, n_iter = None, 0
    while True:
        if use_graph and stepper is None:
            try:
                stepper = _GraphStepper(s, c, rule, state.G, graph_steps)
                s = stepper.static
            except Exception as e:  # capture is an optimisation: never fail the run for it
                warnings.warn(
                    f"evolve: CUDA graph capture failed ({type(e).__name__}: {e}); stepping eagerly", RuntimeWarning, stacklevel=2
                )
                use_graph = False
        if stepper is not None:
            s = stepper()
        else:
            for _ in range(per_sync):
                s = _step(s, c, rule, state.G)
        n_iter += per_sync
        running = s["running"]
        n_run = int(running.sum())
        if n_run and on_sync is not None and n_iter % 256 < per_sync and on_sync(s["t"][running]):
            break
        if n_run == 0:
            break
        if compact and 2 * n_run <= len(idx) and len(idx) - n_run >= 8:
            write_back(s, idx)
            keep = torch.nonzero(running).flatten()
            taken_now = s["taken"][keep]
            idx = idx[keep]
            s, c = working(idx), constants(idx)
            s["taken"] = taken_now
            stepper = None
    write_back(s, idx)
    return (state.t < t_end) | collapsed
