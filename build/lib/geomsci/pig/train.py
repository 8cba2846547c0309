"""Training physics-informed models (PIG or PINN) on a `Problem`.

Loss (``c`` runs over the problem's constraints, ``b`` over time bins when causal weighting is on)::

    L = lambda_r sum_b w_b mean_{x in bin b}( (R(u; x) / residual_scale)^2 )  +  sum_c weight_c mean( (D_c u - target_c)^2 )
    lambda_r = residual_weight (default 1),  w_b = exp(-eps * sum_{b' < b} L_b')   (detached; Wang, Sankaran & Perdikaris 2022), w = 1 when off

Schedule (documented default): Adam on fresh collocation points every ``resample_every`` steps
for the first ``adam_fraction`` of the iterations (or of the time budget), learning rate decaying
exponentially to ``lr_final_factor`` times its start; then L-BFGS (strong Wolfe line search,
history 50, 10 iterations per call, each counted as a step) on one fixed set of points
for the rest (or a fresh set every ``lbfgs_resample_every`` steps). Means, scales and weights
have their own learning rates. The budget clock counts training only, not the periodic evaluation.

NaN guard: every ``eval_every`` steps the parameters are copied when the loss is finite; a
non-finite loss or parameter restores that copy, halves the learning rates and goes on.
"""
from __future__ import annotations

import copy
import math
import numbers
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from geomsci.pig.problems.base import Problem

LBFGS_INNER = 10  # L-BFGS iterations per optimiser call; each counts as one step


@dataclass
class TrainResult:
    """What ``train`` returns.

    final_rel_l2 : relative L2 error at the end (on the evaluation points)
    best_rel_l2 : lowest relative L2 error seen at any evaluation (the paper's figure of merit)
    history : dict of lists: ``step``, ``time`` (s), ``loss`` (every step) and ``eval_step``,
        ``eval_time``, ``rel_l2`` (every evaluation)
    """

    final_rel_l2: float
    best_rel_l2: float
    best_step: int
    steps: int
    seconds: float
    nan_restores: int
    history: dict = field(default_factory=dict)
    best_state: dict | None = None


def relative_l2(model, x: torch.Tensor, u: torch.Tensor, chunk_size: int = 8192) -> float:
    """||u_model - u|| / ||u|| over the points ``x`` (M, d) with reference values ``u`` (M,)."""
    if not isinstance(u, torch.Tensor) or u.shape != (x.shape[0],):
        shape = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(f"relative_l2: u must be a tensor of shape (M,) = ({x.shape[0]},), one value per point of x, got {shape}")
    if chunk_size < 1:
        raise ValueError(f"relative_l2: chunk_size must be >= 1, got {chunk_size}")
    with torch.no_grad():
        pred = torch.cat([model(xc)[:, 0] for xc in torch.split(x, chunk_size)])
        err, ref = torch.stack([torch.linalg.vector_norm(pred - u), torch.linalg.vector_norm(u)]).tolist()
        if not 0 < ref < math.inf:
            raise ValueError(f"relative_l2: the reference u has norm {ref} (it must be finite and nonzero: check the "
                             "problem's solution and test points for NaN, inf or an all-zero solution)")
        return err / ref


def _check_train_args(**kw) -> None:
    """Hyper-parameters of ``train``: positive rates and sizes, once before training."""
    positive = ("lr", "lr_means", "lr_scales", "lr_final_factor")
    non_negative = ("residual_weight", "causal_eps")
    optional = ("lr_means", "lr_scales", "causal_eps", "lbfgs_points", "lbfgs_resample_every")
    for name, v in kw.items():
        if v is None and name in optional:
            continue
        if name in positive or name in non_negative:
            ok = isinstance(v, numbers.Real) and math.isfinite(v) and (v > 0 if name in positive else v >= 0)
            if not ok:
                raise ValueError(f"train: {name} must be a finite number {'> 0' if name in positive else '>= 0'}, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"train: {name} must be an integer >= 1, got {v!r}")


def _loss(problem: Problem, model, xi, cons, causal_eps, causal_bins, method, chunk_size, residual_weight=1.0):
    jet = model.jet(xi, order=problem.order, dims=problem.second_dims, method=method, chunk_size=chunk_size)
    r = problem.residual(jet, xi) / problem.residual_scale  # (P,)
    r2 = r * r
    if causal_eps and problem.time_dim is not None:
        lo, hi = problem.bounds[0, problem.time_dim], problem.bounds[1, problem.time_dim]
        t = xi[:, problem.time_dim]
        b = ((t - lo) / (hi - lo) * causal_bins).long().clamp(0, causal_bins - 1)  # (P,)
        sums = r2.new_zeros(causal_bins).index_add(0, b, r2)
        cnt = r2.new_zeros(causal_bins).index_add(0, b, torch.ones_like(r2)).clamp(min=1)
        per_bin = sums / cnt  # (B,)
        w = torch.exp(-causal_eps * (torch.cumsum(per_bin, 0) - per_bin)).detach()
        res_loss = (w * per_bin).mean()
    else:
        res_loss = r2.mean()
    total = residual_weight * res_loss
    for c in cons:
        order = 0 if c.deriv is None else 1
        j = model.jet(c.x, order=order, method=method, chunk_size=chunk_size)
        val = j.u if c.deriv is None else j.d(c.deriv)
        if c.x_pair is not None:
            jp = model.jet(c.x_pair, order=order, method=method, chunk_size=chunk_size)
            val = val - (jp.u if c.deriv is None else jp.d(c.deriv))
        total = total + c.weight * ((val - c.target) ** 2).mean()
    return total


def train(problem: Problem, model, *, iters: int = 2000, budget: float | None = None, adam_fraction: float = 0.8,
          lr: float = 1e-2, lr_means: float | None = None, lr_scales: float | None = None,
          lr_final_factor: float = 0.1, n_collocation: int = 2000, n_data: int = 500, resample_every: int = 1,
          lbfgs_points: int | None = None, lbfgs_resample_every: int | None = None, causal_eps: float | None = None, causal_bins: int = 16,
          residual_weight: float = 1.0, eval_every: int = 50, n_eval: int = 20000, seed: int = 0, method: str = "closed",
          chunk_size: int = 8192, progress: bool = True, clock: str = "wall") -> TrainResult:
    """Train ``model`` (a `PIG` or `PINN`) on ``problem``; see the module docstring for the loss and schedule.

    Parameters
    ----------
    iters : total optimiser steps (Adam steps + L-BFGS steps; one L-BFGS step = one line search)
        used when ``budget`` is None
    budget : wall-clock seconds of training (overrides ``iters``): equal-time comparisons
    adam_fraction : share of iterations/time for Adam (1.0: Adam only; 0.0: L-BFGS only)
    lr, lr_means, lr_scales : Adam learning rates of weights, Gaussian means and scales
        (means/scales default to ``lr``)
    n_collocation, n_data : residual points and points per data term per step
    lbfgs_points : collocation points of the fixed L-BFGS set (default ``2 * n_collocation``)
    lbfgs_resample_every : draw a fresh L-BFGS set (and restart its memory) every this many
        steps (None: one set for the whole phase); keeps L-BFGS from overfitting a small set
    residual_weight : multiplies the PDE term (after division by ``problem.residual_scale``)
    causal_eps : causal weighting strength for time-dependent problems (None: off)
    eval_every, n_eval : evaluation period (steps) and size of the fixed evaluation subset of
        ``problem.test_points()`` (the whole set when smaller)
    seed : seeds the collocation sampler and the evaluation subset
    method : ``"closed"`` (forward-mode closed forms) or ``"autograd"`` (double backward)
    clock : ``"wall"`` (wall-clock seconds) or ``"cpu"`` (this process's CPU seconds, which
        equals wall-clock time for one thread on an idle machine and keeps budgets comparable on
        a shared one)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"train: problem must be a geomsci.pig.problems.Problem (e.g. get_problem('helmholtz')), "
                        f"got {type(problem).__name__}")
    if not (isinstance(model, torch.nn.Module) and hasattr(model, "jet") and hasattr(model, "param_groups")):
        raise TypeError(f"train: model must be a PIG or PINN (a module with jet() and param_groups()), got {type(model).__name__}")
    if budget is None and iters < 1:
        raise ValueError(f"train: iters must be >= 1, got {iters}")
    if budget is not None and not 0 < budget < math.inf:
        raise ValueError(f"train: budget must be a positive, finite number of seconds, got {budget}")
    _check_train_args(lr=lr, lr_means=lr_means, lr_scales=lr_scales, lr_final_factor=lr_final_factor,
                      residual_weight=residual_weight, causal_eps=causal_eps, n_collocation=n_collocation, n_data=n_data,
                      resample_every=resample_every, lbfgs_points=lbfgs_points, lbfgs_resample_every=lbfgs_resample_every,
                      causal_bins=causal_bins, eval_every=eval_every, n_eval=n_eval)
    if clock not in ("wall", "cpu"):
        raise ValueError(f"train: clock must be 'wall' or 'cpu', got {clock!r}")
    now = time.perf_counter if clock == "wall" else time.process_time
    if not 0.0 <= adam_fraction <= 1.0:
        raise ValueError(f"train: adam_fraction must be in [0, 1], got {adam_fraction}")
    if model.dim != problem.dim:
        raise ValueError(f"train: model has input dim {model.dim}, problem {problem.name!r} needs {problem.dim}")
    p0 = next(model.parameters())
    dtype, device = p0.dtype, p0.device
    cast = lambda t: t.to(dtype=dtype, device=device)
    gen = torch.Generator().manual_seed(seed)

    x_test, u_test = problem.test_points()
    if x_test.shape[0] > n_eval:
        sel = torch.randperm(x_test.shape[0], generator=torch.Generator().manual_seed(seed + 1))[:n_eval]
        x_test, u_test = x_test[sel], u_test[sel]
    x_test, u_test = cast(x_test), cast(u_test)

    def sample(n_col):
        xi = cast(problem.sample_interior(n_col, gen))
        cons = problem.constraints(n_data, gen)
        for c in cons:
            c.x, c.target = cast(c.x), cast(c.target)
            if c.x_pair is not None:
                c.x_pair = cast(c.x_pair)
        return xi, cons

    groups = model.param_groups()
    rates = {"weights": lr, "means": lr if lr_means is None else lr_means, "scales": lr if lr_scales is None else lr_scales}
    adam = torch.optim.Adam([{"params": ps, "lr": rates[k], "name": k} for k, ps in groups.items()])
    base_lrs = [g["lr"] for g in adam.param_groups]
    params = [p for ps in groups.values() for p in ps]

    hist = {"step": [], "time": [], "loss": [], "eval_step": [], "eval_time": [], "rel_l2": []}
    best = (math.inf, 0, None)
    good_state = copy.deepcopy(model.state_dict())
    restores = 0
    train_time, step = 0.0, 0
    total = budget if budget is not None else iters
    bar = tqdm(total=total, disable=not progress, desc=f"{type(model).__name__} {problem.name}",
               unit="s" if budget is not None else "it", leave=False, mininterval=2.0,
               bar_format="{l_bar}{bar}| {n:.1f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
               if budget is not None else None)

    def advance(n):
        # the last step (or L-BFGS round) overshoots the budget or iteration count: clamp to the total
        bar.update(min(n, max(total - bar.n, 0)))

    def evaluate():
        nonlocal best
        err = relative_l2(model, x_test, u_test)
        hist["eval_step"].append(step)
        hist["eval_time"].append(train_time)
        hist["rel_l2"].append(err)
        if err < best[0]:
            best = (err, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        bar.set_postfix(loss=f"{hist['loss'][-1]:.2e}" if hist["loss"] else "-", rel_l2=f"{err:.2e}")
        return err

    def progress_done():
        return train_time >= budget if budget is not None else step >= iters

    def guard(loss_value: float) -> bool:
        """True if the state is good; otherwise restore the last good copy."""
        nonlocal restores
        if math.isfinite(loss_value) and all(bool(torch.isfinite(p).all()) for p in params):
            return True
        model.load_state_dict(good_state)
        restores += 1
        for g in adam.param_groups:
            g["lr"] *= 0.5
        return False

    adam_end = adam_fraction * total
    next_eval = eval_every
    xi, cons = sample(n_collocation)
    evaluate()
    # ---- Adam phase -----------------------------------------------------------------------------
    while (train_time if budget is not None else step) < adam_end and not progress_done():
        t0 = now()
        if step % resample_every == 0 and step > 0:
            xi, cons = sample(n_collocation)
        frac = min(1.0, (train_time if budget is not None else step) / max(adam_end, 1e-12))
        for g, b0 in zip(adam.param_groups, base_lrs):
            g["lr"] = b0 * (lr_final_factor**frac) * (0.5**restores)
        adam.zero_grad(set_to_none=True)
        loss = _loss(problem, model, xi, cons, causal_eps, causal_bins, method, chunk_size, residual_weight)
        loss.backward()
        lv = float(loss.detach())
        if math.isfinite(lv):
            adam.step()
        ok = guard(lv)
        dt = now() - t0
        train_time += dt
        step += 1
        hist["step"].append(step), hist["time"].append(train_time), hist["loss"].append(lv)
        advance(dt if budget is not None else 1)
        if step >= next_eval:
            next_eval += eval_every
            evaluate()
            if ok and math.isfinite(lv):
                good_state = copy.deepcopy(model.state_dict())
    # ---- L-BFGS phase ---------------------------------------------------------------------------
    if not progress_done():
        xi, cons = sample(lbfgs_points or 2 * n_collocation)
        make = lambda: torch.optim.LBFGS(params, lr=1.0, max_iter=LBFGS_INNER, history_size=50, line_search_fn="strong_wolfe",
                                         tolerance_grad=0.0, tolerance_change=0.0)
        lbfgs = make()

        def closure():
            lbfgs.zero_grad(set_to_none=True)
            loss = _loss(problem, model, xi, cons, causal_eps, causal_bins, method, chunk_size, residual_weight)
            loss.backward()
            return loss

        good_state = copy.deepcopy(model.state_dict())
        lbfgs_start = step
        while not progress_done():
            t0 = now()
            if lbfgs_resample_every and step - lbfgs_start >= lbfgs_resample_every:
                xi, cons = sample(lbfgs_points or 2 * n_collocation)
                lbfgs, lbfgs_start = make(), step
            lv = float(lbfgs.step(closure).detach())
            ok = guard(lv)
            if not ok:  # restart the quasi-Newton memory from the restored state
                lbfgs = make()
            dt = now() - t0
            train_time += dt
            step += LBFGS_INNER
            hist["step"].append(step), hist["time"].append(train_time), hist["loss"].append(lv)
            advance(dt if budget is not None else LBFGS_INNER)
            if step >= next_eval:
                next_eval += eval_every
                evaluate()
                if ok:
                    good_state = copy.deepcopy(model.state_dict())
    if hist["eval_step"][-1] != step:
        evaluate()
    bar.close()
    return TrainResult(final_rel_l2=hist["rel_l2"][-1], best_rel_l2=best[0], best_step=best[1], steps=step,
                       seconds=train_time, nan_restores=restores, history=hist, best_state=best[2])
