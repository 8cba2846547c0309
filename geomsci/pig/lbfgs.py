"""The L-BFGS phase of training: strong-Wolfe L-BFGS on a fixed point set (or one redrawn every
``resample_every`` steps, with a fresh memory).

Each optimiser call runs ``LBFGS_INNER`` iterations and counts as that many steps. L-BFGS reads
the loss and the directional derivative back to the host inside every line search, so it cannot
be captured and runs eagerly on every device; its guard therefore checks on the host after each
call (one sync per call is already there).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

LBFGS_INNER = 10  # L-BFGS iterations per optimiser call; each counts as one step


def make_lbfgs(params: list) -> torch.optim.LBFGS:
    """The training's L-BFGS: ``LBFGS_INNER`` iterations per call, history 50, strong-Wolfe line search,
    no tolerance stop (the step count or the time budget ends the phase)."""
    return torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=LBFGS_INNER,
        history_size=50,
        line_search_fn="strong_wolfe",
        tolerance_grad=0.0,
        tolerance_change=0.0,
    )


def run_lbfgs(
    model,
    params: list,
    loss_fn: Callable,
    draw: Callable,
    monitor,
    *,
    step: int,
    train_time: float,
    stop: Callable[[int, float], bool],
    position: Callable[[int, float], float],
    now: Callable[[], float],
    eval_every: int,
    resample_every: int | None,
) -> tuple[int, float, int]:
    """Run L-BFGS until ``stop(step, train_time)``; returns (step, train_time, NaN restores).

    loss_fn(xi, cons) -> scalar loss; draw() -> a fresh (xi, cons) batch; monitor: a ``Monitor``
    (history, evaluation every ``eval_every`` steps); position(step, time): the progress-bar value.
    """
    batch = draw()
    lbfgs = make_lbfgs(params)

    def closure():
        lbfgs.zero_grad(set_to_none=True)
        loss = loss_fn(*batch)
        loss.backward()
        return loss

    good_state = copy.deepcopy(model.state_dict())
    restores, phase_start = 0, step
    next_eval = (step // eval_every + 1) * eval_every
    while not stop(step, train_time):
        t0 = now()
        if resample_every and step - phase_start >= resample_every:
            batch = draw()
            lbfgs, phase_start = make_lbfgs(params), step
        loss_value = float(lbfgs.step(closure).detach())
        ok = math.isfinite(loss_value) and all(bool(torch.isfinite(p).all()) for p in params)
        if not ok:  # restore the last good state and restart the quasi-Newton memory from it
            model.load_state_dict(good_state)
            restores += 1
            lbfgs = make_lbfgs(params)
        train_time += now() - t0
        step += LBFGS_INNER
        monitor.log_steps([step], [train_time], [loss_value])
        if step >= next_eval:
            next_eval += eval_every
            monitor.evaluate(step, train_time, position(step, train_time))
            if ok:
                good_state = copy.deepcopy(model.state_dict())
    return step, train_time, restores
