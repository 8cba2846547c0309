"""`integrate`: the friendly front over the exact batched core in `integrators`.

    from geomsci.nbody import integrate, pythagorean
    traj = integrate(pythagorean(), times=[0, 1, 2], mu=1e-3, G=1.0)
    traj.x.shape, traj.energy.shape   # (T, B, N, D), (T, B)

Accepts a point-set `Mesh` (positions; 'velocities' and 'masses' point fields), a list of them
(one batch, all with the same number of bodies) or an `NBodyState`. Output times are hit exactly.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from geomsci.core.mesh import Mesh

from .diagnostics import angular_momentum, center_of_mass, energy, kinetic_energy, potential_energy
from .integrators import METHODS, NBodyState, StepRule, check_step_parameter, evolve, make_state
from .units import G_AU


@dataclass
class Trajectory:
    """Snapshots of B systems at T output times.

    t (T,);  x, v (T, B, N, D);  m (B, N);  energy (T, B);  energy0 (B,) energy at the start;
    angular_momentum (T, B, 3);
    n_force (T, B) cumulative force evaluations;  stalled (B,) systems stopped by ``max_steps`` or a collision;
    state: the final `NBodyState` (continue integrating from it).
    """

    t: torch.Tensor
    x: torch.Tensor
    v: torch.Tensor
    m: torch.Tensor
    energy: torch.Tensor
    energy0: torch.Tensor
    angular_momentum: torch.Tensor
    n_force: torch.Tensor
    stalled: torch.Tensor
    state: NBodyState

    @property
    def relative_energy_error(self) -> torch.Tensor:
        """|E(t) - E(0)| / |E(0)|, shape (T, B), E(0) the energy before the first step."""
        return ((self.energy - self.energy0) / self.energy0).abs()

    def to_mesh(self, k: int = -1, b: int = 0) -> Mesh:
        """Snapshot k of system b as a point set with 'velocities' and 'masses' fields."""
        return Mesh(self.x[k, b], point_data={"velocities": self.v[k, b], "masses": self.m[b]})


def state_from(system, G: float = G_AU) -> NBodyState:
    """`NBodyState` from a `Mesh`, a list of `Mesh` (a batch) or a state (returned as is)."""
    if isinstance(system, NBodyState):
        return system
    meshes = [system] if isinstance(system, Mesh) else list(system)
    if not meshes or not all(isinstance(s, Mesh) for s in meshes):
        raise ValueError(f"integrate: system must be a Mesh, a list of Mesh or an NBodyState, got {type(system).__name__}")
    for s in meshes:
        missing = {"velocities", "masses"} - set(s.point_data)
        if missing:
            raise ValueError(f"integrate: the Mesh needs point fields 'velocities' and 'masses'; missing {sorted(missing)}")
    n = {s.n_points for s in meshes}
    if len(n) > 1:
        raise ValueError(f"integrate: all systems of a batch need the same number of bodies, got {sorted(n)}")
    x = torch.stack([s.points for s in meshes]).to(torch.float64)
    v = torch.stack([s.point_data["velocities"] for s in meshes]).to(x)
    m = torch.stack([s.point_data["masses"].reshape(-1) for s in meshes]).to(x)
    return make_state(x, v, m, G)


def integrate(
    system,
    times,
    *,
    method: str = "hermite",
    mu=1e-2,
    eta=0.02,
    G: float = G_AU,
    max_steps: int | None = None,
    symmetric: int = 0,
    corrector: int = 1,
    compensated: bool = False,
    predictor_order: int = 3,
    cuda_graph: bool = False,
    max_wall_time: float | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Integrate one system or a batch and record it at ``times``.

    Parameters
    ----------
    system : Mesh | list[Mesh] | NBodyState
    times : increasing output times (T,), the first >= the current time (often 0)
    method : 'hermite' (dt = mu * collision time), 'aarseth' (dt from Aarseth's criterion with
        ``eta``), 'leapfrog' (KDK, dt = mu * collision time)
    mu, eta : step parameters (float or per-system (B,) tensors)
    G : gravitational constant; default 4 pi^2 (AU, yr, Msun). Use G=1 for N-body-unit problems.
    max_steps : cap on steps per output interval per system (stalled systems stop)
    symmetric, corrector, compensated, predictor_order, cuda_graph : step options of `evolve` (all
        off by default). ``symmetric=1, predictor_order=5`` is the most accurate per force evaluation
        on the paper's triples (docs/nbody.md); add ``compensated=True`` for deep close approaches.
        'aarseth' takes ``corrector``, ``compensated`` and ``predictor_order``.
    max_wall_time : seconds; past it every system stops where it is (marked stalled, with a warning)
    progress : a bar over simulated time; None (default) shows it only when the run takes over 5 s

    Warns (RuntimeWarning) when the bodies' speeds do not fit ``G`` (kinetic energy far from what
    the potential allows in either G = 1 or G = 4 pi^2 units): the usual sign of N-body units given
    to the AU/yr default, which turns a bound orbit into a collapse that takes many tiny steps.

    Returns
    -------
    Trajectory
    """
    if method not in METHODS:
        raise ValueError(f"integrate: method must be one of {METHODS}, got {method!r}")
    state = state_from(system, G)
    times = torch.as_tensor(times, dtype=state.x.dtype, device=state.x.device).reshape(-1)
    if times.numel() == 0 or not torch.isfinite(times).all() or (times[1:] < times[:-1]).any():
        raise ValueError(f"integrate: times must be a non-empty, finite, increasing sequence, got {times.tolist()[:5]}...")
    param = eta if method == "aarseth" else mu
    # say so before the progress bar starts (evolve checks again, per call)
    check_step_parameter(
        torch.as_tensor(param, dtype=state.x.dtype).reshape(-1), f"integrate: {'eta' if method == 'aarseth' else 'mu'}"
    )
    step_options = {
        "symmetric": symmetric,
        "corrector": corrector,
        "compensated": compensated,
        "predictor_order": predictor_order,
    }
    StepRule(method, **step_options).check()
    _warn_if_units_look_wrong(state)
    e0 = energy(state.x, state.v, state.m, state.G)
    xs, vs, es, ls, nf = [], [], [], [], []
    stalled = torch.zeros(state.batch, dtype=torch.bool, device=state.x.device)
    t_start, t_span = state.t.min().item(), max(times[-1].item() - state.t.min().item(), 1e-300)
    bar = tqdm(
        total=100.0,
        disable=progress is False,
        delay=0 if progress else 5.0,
        desc=f"nbody {method}",
        unit="%",
        bar_format="{l_bar}{bar}| {n:.0f}/100% [{elapsed}<{remaining}]",
    )
    wall0, out_of_time = time.perf_counter(), False

    def on_sync(t_running: torch.Tensor) -> bool:
        nonlocal out_of_time
        _advance(bar, (t_running.min().item() - t_start) / t_span)
        out_of_time = max_wall_time is not None and time.perf_counter() - wall0 > max_wall_time
        return out_of_time

    for t in times:
        if not out_of_time:
            stalled |= evolve(
                state, t, method=method, param=param, max_steps=max_steps, cuda_graph=cuda_graph, on_sync=on_sync, **step_options
            )
        else:
            stalled |= state.t < t
        xs.append(state.x.clone())
        vs.append(state.v.clone())
        es.append(energy(state.x, state.v, state.m, state.G))
        ls.append(angular_momentum(_pad3(state.x), _pad3(state.v), state.m))
        nf.append(state.n_force.clone())
        _advance(bar, (state.t.min().item() - t_start) / t_span)
    bar.close()
    if out_of_time:
        idx = torch.nonzero(stalled).flatten().tolist()
        warnings.warn(
            f"integrate: max_wall_time = {max_wall_time:g} s reached; system(s) {idx[:10]} stopped at "
            f"t = {state.t[idx[0]].item():.6g} (Trajectory.stalled marks them; their later outputs repeat "
            "the last state). Continue from Trajectory.state, or raise max_wall_time.",
            RuntimeWarning,
            stacklevel=2,
        )
    elif max_steps is None and bool(stalled.any()):
        idx = torch.nonzero(stalled).flatten().tolist()
        warnings.warn(
            f"integrate: system(s) {idx[:10]} collapsed: point masses collided, the step fell to zero "
            f"and time stopped at t = {state.t[idx[0]].item():.6g}; their outputs from there repeat the "
            "last state (Trajectory.stalled marks them). Point masses have no collision handling here: "
            "change the initial conditions or use a regularized code.",
            RuntimeWarning,
            stacklevel=2,
        )
    return Trajectory(
        t=times,
        x=torch.stack(xs),
        v=torch.stack(vs),
        m=state.m,
        energy=torch.stack(es),
        energy0=e0,
        angular_momentum=torch.stack(ls),
        n_force=torch.stack(nf),
        stalled=stalled,
        state=state,
    )


def _warn_if_units_look_wrong(state: NBodyState) -> None:
    """Warn when the kinetic energy K does not fit the potential W of ``G``, while it would fit the other unit system.

    A bound or mildly unbound system has a virial ratio 2K/|W| between ~0.1 and ~10. Positions and
    velocities in N-body units integrated with G = 4 pi^2 give 1/(4 pi^2) ~ 0.025 of the G = 1 ratio:
    the bodies fall together. Systems at rest (K = 0, e.g. Burrau's problem) say nothing and are skipped.
    """
    e_kin = kinetic_energy(state.v, state.m)  # (B,)
    w_per_g = potential_energy(state.x, state.m, 1.0).abs()  # |W| / G, (B,)
    ok = (e_kin > 0) & (w_per_g > 0)
    if not bool(ok.any()):
        return
    q = (2 * e_kin[ok] / w_per_g[ok]).median().item()  # 2K/|W| at G = 1
    ratio = q / state.G
    if 0.05 <= ratio <= 20:
        return
    fits = [
        name
        for name, g in (("G = 1 (N-body units)", 1.0), ("G = 4 pi^2 (AU, yr, Msun)", G_AU))
        if 0.1 <= q / g <= 10 and not math.isclose(g, state.G)
    ]
    hint = f"; the speeds fit {fits[0]}: pass G accordingly" if fits else ""
    warnings.warn(
        f"integrate: the kinetic energy does not fit G = {state.G:g}: virial ratio 2K/|W| = {ratio:.3g} "
        f"(a bound or mildly unbound system has ~0.1-10){hint}. With the wrong G a bound orbit collapses "
        "into close encounters that take many tiny steps.",
        RuntimeWarning,
        stacklevel=3,
    )


def _advance(bar, fraction: float) -> None:
    """Move a 0-100 % bar forward (update(), unlike refresh(), honours tqdm's start-up delay)."""
    new = min(100.0, max(0.0, 100.0 * fraction))
    if new > bar.n:
        bar.update(new - bar.n)


def _pad3(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] == 3:
        return x
    return torch.cat([x, x.new_zeros(x.shape[:-1] + (3 - x.shape[-1],))], dim=-1)


__all__ = ["integrate", "Trajectory", "state_from", "center_of_mass"]
