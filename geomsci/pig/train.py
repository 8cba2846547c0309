"""Training physics-informed models (PIG or PINN) on a `Problem`: the schedule.

Loss: ``geomsci.pig.loss``. Schedule (documented default): Adam on fresh collocation points every
``resample_every`` steps for the first ``adam_fraction`` of the iterations (or of the time
budget), learning rate decaying exponentially to ``lr_final_factor`` times its start; then
L-BFGS (``geomsci.pig.lbfgs``: strong Wolfe line search, history 50, 10 iterations per call,
each counted as a step) on one fixed set of points for the rest (or a fresh set every
``lbfgs_resample_every`` steps). Means, scales and weights have their own learning rates. The
budget clock counts training only, not the periodic evaluation nor the one-off set-up (compiling
or capturing the step, reported as ``setup_seconds``).

The Adam phase runs in blocks of ``eval_every`` steps (``geomsci.pig.step.AdamStep``: captured as
a CUDA graph on a GPU): inside a block nothing is read back to the host; at its end the block's
losses are read, the NaN guard runs on the device (a non-finite loss or parameter restores the
last good copy of parameters and Adam moments and halves the learning rates) and the test error
is evaluated (``geomsci.pig.evaluation.Monitor``).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import torch

from geomsci.pig.evaluation import Monitor, relative_l2
from geomsci.pig.lbfgs import LBFGS_INNER, run_lbfgs
from geomsci.pig.loss import draw_batch, physics_loss
from geomsci.pig.problems.base import Problem
from geomsci.pig.step import AdamStep, resolve_mode

__all__ = ["LBFGS_INNER", "TrainResult", "relative_l2", "train"]


@dataclass
class TrainResult:
    """What ``train`` returns.

    final_rel_l2 : relative L2 error at the end (on the evaluation points)
    best_rel_l2 : lowest relative L2 error seen at any evaluation (the paper's figure of merit)
    history : dict of lists: ``step``, ``time`` (s), ``loss`` (every Adam step, every L-BFGS call)
        and ``eval_step``, ``eval_time``, ``rel_l2`` (every evaluation)
    best_state : the model's state dict at the best evaluation
    mode : how the Adam step ran: ``"graph"`` (CUDA graph), ``"compile"`` or ``"eager"``
    setup_seconds : time spent compiling or capturing the step (not in ``seconds``)
    """

    final_rel_l2: float
    best_rel_l2: float
    best_step: int
    steps: int
    seconds: float
    nan_restores: int
    history: dict = field(default_factory=dict)
    best_state: dict | None = None
    mode: str = "eager"
    setup_seconds: float = 0.0


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


def train(
    problem: Problem,
    model,
    *,
    iters: int = 2000,
    budget: float | None = None,
    adam_fraction: float = 0.8,
    lr: float = 1e-2,
    lr_means: float | None = None,
    lr_scales: float | None = None,
    lr_final_factor: float = 0.1,
    n_collocation: int = 2000,
    n_data: int = 500,
    resample_every: int = 1,
    lbfgs_points: int | None = None,
    lbfgs_resample_every: int | None = None,
    causal_eps: float | None = None,
    causal_bins: int = 16,
    residual_weight: float = 1.0,
    eval_every: int = 50,
    n_eval: int = 20000,
    seed: int = 0,
    method: str = "closed",
    chunk_size: int = 8192,
    progress: bool = True,
    clock: str = "wall",
    compile: bool | None = None,
    max_seconds: float | None = None,
) -> TrainResult:
    """Train ``model`` (a `PIG` or `PINN`) on ``problem``; see the module docstring for the schedule.

    Parameters
    ----------
    iters : total optimiser steps (Adam steps + L-BFGS steps; one L-BFGS step = one line search)
        used when ``budget`` is None
    budget : seconds of training on ``clock`` (overrides ``iters``): equal-time comparisons
    adam_fraction : share of iterations/time for Adam (1.0: Adam only; 0.0: L-BFGS only)
    lr, lr_means, lr_scales : Adam learning rates of weights, Gaussian means and scales
        (means/scales default to ``lr``)
    n_collocation, n_data : residual points and points per data term per step
    lbfgs_points : collocation points of the fixed L-BFGS set (default ``2 * n_collocation``)
    lbfgs_resample_every : draw a fresh L-BFGS set (and restart its memory) every this many
        steps (None: one set for the whole phase); keeps L-BFGS from overfitting a small set
    residual_weight : multiplies the PDE term (after division by ``problem.residual_scale``)
    causal_eps : causal weighting strength for time-dependent problems (None: off)
    eval_every, n_eval : evaluation (and NaN-guard) period in steps, and size of the fixed
        evaluation subset of ``problem.test_points()`` (the whole set when smaller)
    seed : seeds the collocation sampler (a generator on the model's device) and the evaluation subset
    method : ``"closed"`` (forward-mode closed forms) or ``"autograd"`` (double backward)
    clock : ``"wall"`` (wall-clock seconds) or ``"cpu"`` (this process's CPU seconds, which
        equals wall-clock time for one thread on an idle machine and keeps budgets comparable on
        a shared one)
    compile : the Adam step as a CUDA graph (CUDA) or ``torch.compile`` (CPU) when True, eager
        when False; None (default): a CUDA graph on CUDA, eager on the CPU. All give the same
        losses up to round-off; a failed capture falls back to eager with a warning.
    max_seconds : with ``iters``, also stop after this many seconds on ``clock``; the schedule
        (Adam share, learning-rate decay) then follows whichever of the two ends first, so a
        capped run still finishes its schedule (the paper's iteration counts "as far as time allows")
    """
    if not isinstance(problem, Problem):
        raise TypeError(
            f"train: problem must be a geomsci.pig.problems.Problem (e.g. get_problem('helmholtz')), got {type(problem).__name__}"
        )
    if not (isinstance(model, torch.nn.Module) and hasattr(model, "jet") and hasattr(model, "param_groups")):
        raise TypeError(
            f"train: model must be a PIG or PINN (a module with jet() and param_groups()), got {type(model).__name__}"
        )
    if budget is None and iters < 1:
        raise ValueError(f"train: iters must be >= 1, got {iters}")
    if budget is not None and not 0 < budget < math.inf:
        raise ValueError(f"train: budget must be a positive, finite number of seconds, got {budget}")
    if max_seconds is not None and not 0 < max_seconds < math.inf:
        raise ValueError(f"train: max_seconds must be a positive, finite number of seconds, got {max_seconds}")
    _check_train_args(
        lr=lr,
        lr_means=lr_means,
        lr_scales=lr_scales,
        lr_final_factor=lr_final_factor,
        residual_weight=residual_weight,
        causal_eps=causal_eps,
        n_collocation=n_collocation,
        n_data=n_data,
        resample_every=resample_every,
        lbfgs_points=lbfgs_points,
        lbfgs_resample_every=lbfgs_resample_every,
        causal_bins=causal_bins,
        eval_every=eval_every,
        n_eval=n_eval,
    )
    if clock not in ("wall", "cpu"):
        raise ValueError(f"train: clock must be 'wall' or 'cpu', got {clock!r}")
    now = time.perf_counter if clock == "wall" else time.process_time
    if not 0.0 <= adam_fraction <= 1.0:
        raise ValueError(f"train: adam_fraction must be in [0, 1], got {adam_fraction}")
    if model.dim != problem.dim:
        raise ValueError(f"train: model has input dim {model.dim}, problem {problem.name!r} needs {problem.dim}")
    p0 = next(model.parameters())
    mode, reason = resolve_mode(compile, p0.device, model)
    if reason:
        warnings.warn(f"geomsci.pig.train: {reason}; training with the eager step", RuntimeWarning, stacklevel=2)

    total = budget if budget is not None else iters
    monitor = Monitor(
        problem, model, n_eval=n_eval, seed=seed, total=total, unit="s" if budget is not None else "it", progress=progress
    )
    loss_kwargs = dict(
        residual_weight=residual_weight, causal_eps=causal_eps, causal_bins=causal_bins, method=method, chunk_size=chunk_size
    )
    rates = {"weights": lr, "means": lr if lr_means is None else lr_means, "scales": lr if lr_scales is None else lr_scales}
    # how far the run is, as a fraction of it: steps, seconds, or the larger of the two with max_seconds
    if budget is not None:
        done = lambda step, seconds: seconds / budget
    elif max_seconds is not None:
        done = lambda step, seconds: max(step / iters, seconds / max_seconds)
    else:
        done = lambda step, seconds: step / iters
    position = lambda step, seconds: done(step, seconds) * total  # in the progress bar's unit
    stop = lambda step, seconds: done(step, seconds) >= 1.0
    step, train_time, restores = 0, 0.0, 0

    t_setup = time.perf_counter()
    stepper = None
    if adam_fraction > 0:
        stepper = AdamStep(
            problem,
            model,
            n_collocation=n_collocation,
            n_data=n_data,
            rates=rates,
            lr_final_factor=lr_final_factor,
            loss_kwargs=loss_kwargs,
            seed=seed,
            log_size=eval_every,
            mode=mode,
        )
    setup_seconds = time.perf_counter() - t_setup
    monitor.evaluate(0, 0.0, 0.0)
    # ---- Adam phase: blocks of eval_every steps without a host read --------------------------------
    while stepper is not None and done(step, train_time) < adam_fraction and not stop(step, train_time):
        t0, time0 = now(), train_time
        steps, times = [], []
        while len(steps) < eval_every and done(step, train_time) < adam_fraction and not stop(step, train_time):
            frac = min(1.0, done(step, train_time) / max(adam_fraction, 1e-12))
            stepper.step(frac, resample=step % resample_every == 0)
            step += 1
            train_time = time0 + (now() - t0)  # on a GPU the host runs ahead; the block's end catches up
            steps.append(step), times.append(train_time)
        losses = stepper.losses()  # the block's one host sync
        stepper.guard()
        train_time = times[-1] = time0 + (now() - t0)
        monitor.log_steps(steps, times, losses)
        monitor.evaluate(step, train_time, position(step, train_time))
    if stepper is not None:
        restores = stepper.n_restores
    # ---- L-BFGS phase (eager: its line search reads the loss on the host) ----------------------------
    if not stop(step, train_time):
        gen = stepper.gen if stepper is not None else torch.Generator(device=p0.device).manual_seed(seed)
        n_lbfgs = lbfgs_points or 2 * n_collocation
        step, train_time, lbfgs_restores = run_lbfgs(
            model,
            [p for ps in model.param_groups().values() for p in ps],
            lambda xi, cons: physics_loss(problem, model, xi, cons, **loss_kwargs),
            lambda: draw_batch(problem, n_lbfgs, n_data, gen, p0.dtype),
            monitor,
            step=step,
            train_time=train_time,
            stop=stop,
            position=position,
            now=now,
            eval_every=eval_every,
            resample_every=lbfgs_resample_every,
        )
        restores += lbfgs_restores
    h = monitor.history
    if h["eval_step"][-1] != step:
        monitor.evaluate(step, train_time, position(step, train_time))
    monitor.close()
    return TrainResult(
        final_rel_l2=h["rel_l2"][-1],
        best_rel_l2=monitor.best_rel_l2,
        best_step=monitor.best_step,
        steps=step,
        seconds=train_time,
        nan_restores=restores,
        history=h,
        best_state=monitor.best_state,
        mode=stepper.mode if stepper is not None else "eager",
        setup_seconds=setup_seconds,
    )
