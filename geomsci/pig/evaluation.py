"""Watching a training run: the test error, the history, the best state and the progress bar.

``Monitor`` is the one place where a run reads numbers back to the host: the trainer hands it the
losses of a block of steps and asks it to evaluate at the block's end (every ``eval_every``
steps), so a GPU run synchronises once per block, not once per step.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm


def relative_l2(model, x: torch.Tensor, u: torch.Tensor, chunk_size: int = 8192) -> float:
    """||u_model - u|| / ||u|| over the points ``x`` (M, d) with reference values ``u`` (M,)."""
    if not isinstance(u, torch.Tensor) or u.shape != (x.shape[0],):
        shape = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(
            f"relative_l2: u must be a tensor of shape (M,) = ({x.shape[0]},), one value per point of x, got {shape}"
        )
    if chunk_size < 1:
        raise ValueError(f"relative_l2: chunk_size must be >= 1, got {chunk_size}")
    with torch.no_grad():
        pred = torch.cat([model(xc)[:, 0] for xc in torch.split(x, chunk_size)])
        err, ref = torch.stack([torch.linalg.vector_norm(pred - u), torch.linalg.vector_norm(u)]).tolist()
        if not 0 < ref < math.inf:
            raise ValueError(
                f"relative_l2: the reference u has norm {ref} (it must be finite and nonzero: check the "
                "problem's solution and test points for NaN, inf or an all-zero solution)"
            )
        return err / ref


class Monitor:
    """History, best state and progress of one run.

    Parameters
    ----------
    problem, model : what is trained (the test points come from ``problem.test_points()``)
    n_eval, seed : evaluate on a fixed random subset of at most ``n_eval`` test points (seeded)
    total : the run's length, steps or seconds; ``unit`` ``"it"`` or ``"s"``
    progress : show a tqdm bar (it ticks at evaluations only, so it costs no host sync)
    """

    def __init__(self, problem, model, *, n_eval: int, seed: int, total: float, unit: str, progress: bool):
        p0 = next(model.parameters())
        x_test, u_test = problem.test_points()
        if x_test.shape[0] > n_eval:
            sel = torch.randperm(x_test.shape[0], generator=torch.Generator().manual_seed(seed + 1))[:n_eval]
            x_test, u_test = x_test[sel], u_test[sel]
        self.model = model
        self.x_test, self.u_test = x_test.to(p0), u_test.to(p0)
        self.history = {"step": [], "time": [], "loss": [], "eval_step": [], "eval_time": [], "rel_l2": []}
        self.best_rel_l2, self.best_step, self.best_state = math.inf, 0, None
        self.total = total
        fmt = "{l_bar}{bar}| {n:.1f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]" if unit == "s" else None
        self.bar = tqdm(
            total=total,
            disable=not progress,
            desc=f"{type(model).__name__} {problem.name}",
            unit=unit,
            leave=False,
            mininterval=2.0,
            bar_format=fmt,
        )

    def log_steps(self, steps: list[int], times: list[float], losses: list[float]) -> None:
        """Record a block of steps (their step numbers, training clock and losses)."""
        self.history["step"] += steps
        self.history["time"] += times
        self.history["loss"] += losses

    def evaluate(self, step: int, train_time: float, progress_now: float) -> float:
        """Test error now; keeps the best state; moves the bar to ``progress_now`` (steps or seconds)."""
        err = relative_l2(self.model, self.x_test, self.u_test)
        h = self.history
        h["eval_step"].append(step)
        h["eval_time"].append(train_time)
        h["rel_l2"].append(err)
        if err < self.best_rel_l2:
            self.best_rel_l2, self.best_step = err, step
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        # the last step (or L-BFGS round) overshoots the budget or iteration count: clamp to the total
        self.bar.update(max(0.0, min(progress_now, self.total) - self.bar.n))
        self.bar.set_postfix(loss=f"{h['loss'][-1]:.2e}" if h["loss"] else "-", rel_l2=f"{err:.2e}")
        return err

    def close(self) -> None:
        self.bar.close()
