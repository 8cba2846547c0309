"""One Adam training step with static shapes, captured as a CUDA graph on a GPU.

A PIG step at the package's sizes is a few MFLOP: on a GPU its time is kernel launches and host
synchronisations, not arithmetic. ``AdamStep`` therefore keeps everything a step touches in
tensors that never move (collocation and data points, learning rates, the loss log, the NaN
guard's copy) and splits the work into three functions without a single host read:

- ``resample``: fresh collocation/data points from a device ``torch.Generator`` (fixed counts),
  copied into the static batch;
- ``step``: learning rates from the schedule position, jets, loss (causal weighting included),
  backward, fused Adam (``capturable=True`` on CUDA, tensor learning rates), loss into a log;
- ``guard``: if any logged loss or parameter is non-finite, restore parameters and Adam moments
  from the last good device copy and halve the learning rates; otherwise refresh that copy.

``mode="graph"`` (CUDA) captures each function as a CUDA graph after a warm-up on a side stream
(the torch recipe) and replays it; ``mode="compile"`` compiles the loss with ``torch.compile``;
``mode="eager"`` calls the functions as they are. All modes start from the same state (one
priming step allocates the Adam moments, then parameters, moments and the generator are reset),
so for the same seed they give the same losses up to round-off. If capture fails the step falls
back to eager with a warning naming the reason.
"""

from __future__ import annotations

import warnings
from functools import partial

import torch

from geomsci.pig.loss import copy_batch_, draw_batch, physics_loss
from geomsci.pig.problems.base import Problem

MODES = ("eager", "graph", "compile")


def resolve_mode(compile: bool | None, device: torch.device, model=None) -> tuple[str, str | None]:
    """The step mode for ``compile`` (None: auto) on ``device``, and why it was lowered (or None).

    Auto: a CUDA graph on CUDA, eager on the CPU (compiling measured no faster there: docs/pig.md).
    Truncated PIG models select Gaussians per chunk with data-dependent sizes: eager only."""
    if compile is not None and not isinstance(compile, bool):
        raise ValueError(f"train: compile must be True, False or None (auto), got {compile!r}")
    if compile is False:
        return "eager", None
    want = "graph" if device.type == "cuda" else "compile"
    if compile is None and device.type != "cuda":
        return "eager", None
    if getattr(model, "truncate_tol", None) is not None:
        return "eager", f"{want} step skipped: a truncated PIG (truncate_tol) keeps a data-dependent number of Gaussians"
    return want, None


class AdamStep:
    """The Adam phase's step for ``model`` on ``problem`` (see the module docstring).

    Parameters
    ----------
    n_collocation, n_data : points per step (residual; per data term)
    rates : learning rate per parameter group of ``model.param_groups()`` (e.g. means, scales, weights)
    lr_final_factor : the rate at schedule position ``frac`` is ``rate * lr_final_factor ** frac``
    loss_kwargs : keyword arguments of ``physics_loss`` (residual_weight, causal_eps, ...)
    seed : seeds the device generator of the points
    log_size : length of the device loss log (steps between ``losses`` reads)
    mode : ``"eager"``, ``"graph"`` (CUDA only) or ``"compile"``

    After construction the state is: parameters as given, Adam moments zero, generator at ``seed``.
    """

    def __init__(
        self,
        problem: Problem,
        model,
        *,
        n_collocation: int,
        n_data: int,
        rates: dict,
        lr_final_factor: float,
        loss_kwargs: dict,
        seed: int,
        log_size: int,
        mode: str = "eager",
    ):
        if mode not in MODES:
            raise ValueError(f"AdamStep: mode must be one of {MODES}, got {mode!r}")
        p0 = next(model.parameters())
        self.device, self.dtype = p0.device, p0.dtype
        if mode == "graph" and self.device.type != "cuda":
            raise ValueError(f"AdamStep: mode 'graph' needs a CUDA model, this one is on {self.device}")
        self.problem, self.model = problem, model
        self.n_collocation, self.n_data, self.lr_final_factor = n_collocation, n_data, lr_final_factor
        self.loss_fn = partial(physics_loss, problem, model, **loss_kwargs)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self._gen_start = self.gen.get_state()

        groups = model.param_groups()
        self.params = [p for ps in groups.values() for p in ps]
        self.base_rates = [float(rates[name]) for name in groups]
        tensor = partial(torch.tensor, dtype=self.dtype, device=self.device)
        self.lrs = [tensor(r) for r in self.base_rates]  # 0-dim: rewritten in place by the step
        cuda = self.device.type == "cuda"
        self.adam = torch.optim.Adam(
            [{"params": ps, "lr": lr, "name": name} for (name, ps), lr in zip(groups.items(), self.lrs)],
            fused=True,
            capturable=cuda,
        )
        self.frac = tensor(0.0)  # schedule position in [0, 1], written by the host before each step
        self.lr_scale = tensor(1.0)  # halved by the guard at each restore
        self.log = torch.zeros(log_size, dtype=self.dtype, device=self.device)  # loss per step since the last read
        self.slot = torch.zeros((), dtype=torch.long, device=self.device)
        self.restores = torch.zeros((), dtype=torch.long, device=self.device)

        self.batch = draw_batch(problem, n_collocation, n_data, self.gen, self.dtype)  # static buffers
        self._start = [p.detach().clone() for p in self.params]
        self._loss = self.loss_fn
        self.mode, self.fallback_reason = mode, None
        if mode == "compile":
            self._loss = torch.compile(self.loss_fn, dynamic=False)
        self._prime()
        self._graphs = {}
        if mode == "graph":
            try:
                self._capture()
            except Exception as err:  # keep the run: eager gives the same numbers, only slower
                self._graphs = {}
                self.mode, self.fallback_reason = "eager", f"CUDA graph capture failed ({type(err).__name__}: {err})"
                warnings.warn(f"geomsci.pig: {self.fallback_reason}; training with the eager step", RuntimeWarning, stacklevel=3)
                torch.cuda.synchronize(self.device)
                self._reset()

    # -- the three device functions ---------------------------------------------------------------
    def _resample(self) -> None:
        copy_batch_(self.batch, draw_batch(self.problem, self.n_collocation, self.n_data, self.gen, self.dtype))

    def _step(self) -> None:
        for lr, base in zip(self.lrs, self.base_rates):
            lr.copy_(base * torch.pow(self.lr_final_factor, self.frac) * self.lr_scale)
        self.adam.zero_grad(set_to_none=True)
        loss = self._loss(*self.batch)
        loss.backward()
        self.adam.step()
        self.log.index_copy_(0, self.slot.view(1), loss.detach().view(1))
        self.slot.add_(1)

    def _guard(self) -> None:
        finite = torch.stack([torch.isfinite(self.log).all()] + [torch.isfinite(p).all() for p in self.params]).all()
        with torch.no_grad():
            for live, saved in zip(self._guarded, self._saved):
                live.copy_(torch.where(finite, live, saved))
                saved.copy_(live)
        self.restores.add_((~finite).long())
        self.lr_scale.mul_(torch.where(finite, 1.0, 0.5))
        self.log.zero_()

    # -- set-up -----------------------------------------------------------------------------------
    def _moments(self) -> list[torch.Tensor]:
        return [t for p in self.params for t in self.adam.state[p].values() if isinstance(t, torch.Tensor)]

    def _reset(self) -> None:
        """Parameters back to their start, Adam moments and step counts to zero, generator to the seed."""
        with torch.no_grad():
            for p, p_start in zip(self.params, self._start):
                p.copy_(p_start)
            for t in self._moments():
                t.zero_()
        self.gen.set_state(self._gen_start)
        self.log.zero_(), self.slot.zero_(), self.restores.zero_(), self.lr_scale.fill_(1.0), self.frac.fill_(0.0)
        with torch.no_grad():
            for live, saved in zip(self._guarded, self._saved):
                saved.copy_(live)

    def _prime(self) -> None:
        """One step to allocate the Adam state (and compile), then back to the start."""
        self._resample()
        self._step()
        self._guarded = self.params + self._moments()
        self._saved = [t.detach().clone() for t in self._guarded]
        self._reset()

    def _capture(self) -> None:
        """Warm up on a side stream, reset, and capture the three functions as CUDA graphs (one pool)."""
        torch.cuda.synchronize(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self._resample()
                self._step()
            self.slot.zero_()
            self._guard()
        torch.cuda.current_stream(self.device).wait_stream(side)
        torch.cuda.synchronize(self.device)
        self._reset()
        pool = None
        for name, fn in (("resample", self._resample), ("step", self._step), ("guard", self._guard)):
            graph = torch.cuda.CUDAGraph()
            graph.register_generator_state(self.gen)
            with torch.cuda.graph(graph, pool=pool):
                fn()
            pool = graph.pool()
            self._graphs[name] = graph
        torch.cuda.synchronize(self.device)
        self._reset()  # capture records without running, but leave no doubt about the start state

    # -- what the trainer calls -------------------------------------------------------------------
    def _run(self, name: str) -> None:
        graph = self._graphs.get(name)
        if graph is not None:
            graph.replay()
        else:
            getattr(self, "_" + name)()

    def step(self, frac: float, resample: bool) -> None:
        """One Adam step at schedule position ``frac`` in [0, 1], on fresh points if ``resample``."""
        self.frac.fill_(frac)
        if resample:
            self._run("resample")
        self._run("step")

    def losses(self) -> list[float]:
        """The losses of the steps since the last call (one host sync), and restart the log."""
        n = int(self.slot)
        values = self.log[:n].tolist()
        self.slot.zero_()
        return values

    def guard(self) -> None:
        """Check the logged losses and the parameters on the device; restore the last good copy if needed."""
        self._run("guard")

    @property
    def n_restores(self) -> int:
        return int(self.restores)
