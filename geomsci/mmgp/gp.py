"""Exact Gaussian processes for MMGP's outputs (gpytorch, double precision, ARD Matern 5/2 by default).

    y_j(x) ~ GP(c_j, s_j^2 k(x, x'; l_j)) + N(0, sigma_j^2),  r^2 = sum_d (x_d - x'_d)^2 / l_{j,d}^2  (ARD),
    k(r) = (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)   ('matern52', default)
           (1 + sqrt(3) r) exp(-sqrt(3) r)               ('matern32')
           exp(-r^2 / 2)                                 ('rbf')

``BatchedGP``: b independent GPs (one per output: a scalar, or a POD mode) trained as one gpytorch
batch of ``ExactGP`` models, each with its own hyperparameters.
``SharedGP``: one multi-output GP whose b outputs share kernel and noise (one Cholesky for all),
the original MMGP choice for the POD coefficients of a field.

Hyperparameters maximise the exact marginal likelihood: Adam on the logs of the length scales,
output scale and noise (above its floor), then an L-BFGS polish (``n_polish`` iterations; a batch
member whose polish fails or ends worse keeps its Adam values). Optimising the logs matters: the
fitted length scales of smooth MMGP targets reach 10-100 standardised units, and with gpytorch's
default softplus parametrisation Adam moves a length scale by about ``lr`` per step, so 300 steps
stopped far short of the optimum (this cost MMGP a factor 2 in u1 RRMSE on the plate benchmark).
Several restarts run side by side as extra batch members (random initial length scales); each
output keeps the best restart.
"""

from __future__ import annotations

import math
import warnings

import gpytorch
import torch
from linear_operator.utils.warnings import NumericalWarning

KERNELS = ("matern52", "matern32", "rbf")


def _positive():
    """Positive hyperparameter stored as its log (the optimiser works on log values)."""
    return gpytorch.constraints.Positive(transform=torch.exp, inv_transform=torch.log)


def _kernel(kind: str, d: int, batch: int):
    """ScaleKernel(ARD base kernel) with log-parametrised length scales and output scale."""
    bs = torch.Size([batch])
    if kind == "rbf":
        base = gpytorch.kernels.RBFKernel(ard_num_dims=d, batch_shape=bs, lengthscale_constraint=_positive())
    elif kind in ("matern52", "matern32"):
        nu = 2.5 if kind == "matern52" else 1.5
        base = gpytorch.kernels.MaternKernel(nu=nu, ard_num_dims=d, batch_shape=bs, lengthscale_constraint=_positive())
    else:
        raise ValueError(f"GP kernel must be one of {KERNELS}, got {kind!r}")
    return gpytorch.kernels.ScaleKernel(base, batch_shape=bs, outputscale_constraint=_positive())


def _likelihood(batch: int, noise_floor: float):
    con = gpytorch.constraints.GreaterThan(noise_floor, transform=torch.exp, inv_transform=torch.log)
    return gpytorch.likelihoods.GaussianLikelihood(batch_shape=torch.Size([batch]), noise_constraint=con)


def _polish(loss_vec, params, n_iter: int) -> None:
    """L-BFGS on sum(loss_vec()) over independent batch members (leading dim of every param).

    Members whose loss gets worse or non-finite (e.g. a failed Cholesky in the line search) get their
    previous values back; if the whole run raises, every member does."""
    if n_iter <= 0:
        return
    from torch.optim import LBFGS  # imported here: keeps torch.optim off the CLI's predict path

    with torch.no_grad():
        before = torch.nan_to_num(loss_vec().detach(), nan=math.inf)
    saved = [p.detach().clone() for p in params]
    opt = LBFGS(params, lr=1.0, max_iter=n_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = loss_vec().sum()
        loss.backward()
        return loss

    try:
        opt.step(closure)
        with torch.no_grad():
            after = torch.nan_to_num(loss_vec().detach(), nan=math.inf)
        worse = ~(after <= before)
    except (RuntimeError, ValueError):  # torch.linalg.LinAlgError is a RuntimeError
        worse = torch.ones_like(before, dtype=torch.bool)
    with torch.no_grad():
        for p, old in zip(params, saved):
            m = worse.reshape(-1, *([1] * (p.dim() - 1))) if p.dim() > 0 and p.shape[0] == worse.numel() else worse.all()
            p.copy_(torch.where(m, old, p))
    for p in params:
        p.grad = None


class _BatchExactGP(gpytorch.models.ExactGP):
    def __init__(self, x, y, likelihood, batch: int, kernel: str = "matern52"):
        super().__init__(x, y, likelihood)
        bs = torch.Size([batch])
        self.mean_module = gpytorch.means.ConstantMean(batch_shape=bs)
        self.covar_module = _kernel(kernel, x.shape[-1], batch)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _build(x, y, batch, noise_floor, kernel="matern52"):
    lik = _likelihood(batch, noise_floor).to(x)
    return _BatchExactGP(x.expand(batch, *x.shape), y, lik, batch, kernel).to(x)


def _adam(loss_fn, params, n_iter: int, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
    """Plain Adam (Kingma & Ba) on ``loss_fn()``; written out to keep torch.optim's import cost off the CLI path."""
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    for t in range(1, n_iter + 1):
        for p in params:
            p.grad = None
        loss_fn().backward()
        with torch.no_grad():
            for p, mt, vt in zip(params, m, v):
                g = torch.nan_to_num(p.grad, nan=0.0) if p.grad is not None else torch.zeros_like(p)
                mt.mul_(betas[0]).add_(g, alpha=1 - betas[0])
                vt.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
                p -= lr * (mt / (1 - betas[0] ** t)) / ((vt / (1 - betas[1] ** t)).sqrt() + eps)
    for p in params:
        p.grad = None


def _fitted_state(gp) -> dict:
    """Training data, standardisation, marginal likelihood and hyperparameters of a fitted GP."""
    return {"x": gp.x_train_, "y": gp.y_train_, "y_mean": gp.y_mean_, "y_std": gp.y_std_, "mll": gp.mll_, "params": gp._state}


def _restore_fitted(gp, s: dict):
    """Inverse of ``_fitted_state``: set those attributes on a freshly constructed GP and return it."""
    gp.x_train_, gp.y_train_, gp.y_mean_, gp.y_std_, gp.mll_ = s["x"], s["y"], s["y_mean"], s["y_std"], s["mll"]
    gp._state = s["params"]
    return gp


def _check_fit(who: str, x, y) -> None:
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(
                f"{who}.fit: {name} must be a float tensor, got {type(t).__name__}"
                f"{' of dtype ' + str(t.dtype) if isinstance(t, torch.Tensor) else ''}"
            )
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{who}.fit: need x (n, d) and y (n, b), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"{who}.fit: needs at least 2 training points, got {x.shape[0]}")
    for name, t in (("x", x), ("y", y)):
        if not bool(torch.isfinite(t).all()):
            row = int((~torch.isfinite(t)).any(1).nonzero()[0])
            raise ValueError(f"{who}.fit: {name} has NaN or inf values (first in row {row})")


def _check_query(gp, x) -> None:
    who = type(gp).__name__
    if not hasattr(gp, "x_train_"):
        raise RuntimeError(f"{who}: call fit before predict")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != gp.x_train_.shape[1]:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: x must be a tensor of shape (m, {gp.x_train_.shape[1]}) like the training inputs, got {got}")


class BatchedGP:
    """b independent ARD GPs (Matern 5/2 by default) on shared inputs.

    Parameters
    ----------
    n_restarts : hyperparameter optimisations per output (different initial length scales)
    n_iter, lr : Adam iterations and step size (on log hyperparameters) on the negative marginal log-likelihood
    noise_floor : lower bound of the noise variance (in standardised output units)
    seed : seeds the restarts' initial length scales
    kernel : ``'matern52'``, ``'matern32'`` or ``'rbf'``
    n_polish : L-BFGS iterations after Adam (0: none)

    Learned: ``y_mean_``, ``y_std_`` (b,), the selected hyperparameters, ``mll_`` (b,) per-datum
    marginal log-likelihood of the kept restart.
    """

    def __init__(
        self,
        n_restarts: int = 3,
        n_iter: int = 150,
        lr: float = 0.05,
        noise_floor: float = 1e-6,
        seed: int = 0,
        kernel: str = "matern52",
        n_polish: int = 100,
    ):
        if n_restarts < 1 or n_iter < 1 or n_polish < 0:
            raise ValueError(
                f"BatchedGP: n_restarts and n_iter must be >= 1 and n_polish >= 0, got {n_restarts}, {n_iter}, {n_polish}"
            )
        if kernel not in KERNELS:
            raise ValueError(f"BatchedGP: kernel must be one of {KERNELS}, got {kernel!r}")
        self.n_restarts, self.n_iter, self.lr, self.noise_floor, self.seed = n_restarts, n_iter, lr, noise_floor, seed
        self.kernel, self.n_polish = kernel, n_polish

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> BatchedGP:
        """x (n, d) standardised inputs, y (n, b) outputs. Returns self."""
        _check_fit("BatchedGP", x, y)
        n, d = x.shape
        b = y.shape[1]
        self.y_mean_ = y.mean(0)
        self.y_std_ = y.std(0).clamp_min(1e-12 * y.abs().max().clamp_min(1e-300))
        yt = ((y - self.y_mean_) / self.y_std_).T.contiguous()  # (b, n)
        R = self.n_restarts
        gen = torch.Generator().manual_seed(self.seed)
        model = _build(x, yt.repeat(R, 1), R * b, self.noise_floor, self.kernel)
        init = torch.full((R, b, 1, d), math.sqrt(d), dtype=x.dtype)
        if R > 1:
            init[1:] *= torch.exp(
                torch.empty(R - 1, b, 1, d, dtype=x.dtype).uniform_(math.log(0.25), math.log(4.0), generator=gen)
            )
        model.covar_module.base_kernel.lengthscale = init.reshape(R * b, 1, d).to(x.device)
        model.likelihood.noise = torch.full((R * b, 1), 1e-2, dtype=x.dtype, device=x.device)
        model.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        params = [p for p in model.parameters() if p.requires_grad]
        with gpytorch.settings.max_cholesky_size(10**6), gpytorch.settings.cholesky_jitter(1e-8), warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)  # jitter during the search is expected
            _adam(lambda: -mll(model(*model.train_inputs), model.train_targets).sum(), params, self.n_iter, self.lr)
            _polish(lambda: -mll(model(*model.train_inputs), model.train_targets), params, self.n_polish)
            with torch.no_grad():
                final = mll(model(*model.train_inputs), model.train_targets).reshape(R, b)
        final = torch.nan_to_num(final, nan=-math.inf)
        best = final.argmax(0)  # (b,)
        self.mll_ = final.max(0).values
        state = {}
        for k, v in model.state_dict().items():
            if v.dim() > 0 and v.shape[0] == R * b:
                v = v.reshape(R, b, *v.shape[1:])[best, torch.arange(b, device=best.device)]
            state[k] = v
        self.x_train_, self.y_train_ = x, yt
        self._state = {k: v for k, v in state.items() if not k.startswith("train_")}
        self._model = self._make_model()
        return self

    def _make_model(self):
        b = self.y_train_.shape[0]
        model = _build(self.x_train_, self.y_train_, b, self.noise_floor, self.kernel)
        model.load_state_dict(self._state, strict=False)
        model.eval()
        return model

    @property
    def n_outputs_(self) -> int:
        return int(self.y_train_.shape[0])

    def predict(self, x: torch.Tensor, include_noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive mean and variance in original units, each (m, b), for x (m, d)."""
        mean, var = self.predict_standardized(x, include_noise)
        return mean * self.y_std_ + self.y_mean_, var * self.y_std_**2

    def predict_standardized(self, x: torch.Tensor, include_noise: bool = True):
        """Mean and variance (m, b) in standardised units."""
        _check_query(self, x)
        b = self.n_outputs_
        with torch.no_grad(), gpytorch.settings.max_cholesky_size(10**6), gpytorch.settings.fast_pred_var(False):
            post = self._model(x.expand(b, *x.shape))
            if include_noise:
                post = self._model.likelihood(post)
            return post.mean.T, post.variance.T

    def posterior(self, x: torch.Tensor, include_noise: bool = True):
        """The joint predictive distribution: a batch (b) of MultivariateNormal over the m points."""
        _check_query(self, x)
        b = self.n_outputs_
        with torch.no_grad(), gpytorch.settings.max_cholesky_size(10**6):
            post = self._model(x.expand(b, *x.shape))
            return self._model.likelihood(post) if include_noise else post

    def hyperparameters(self) -> dict[str, torch.Tensor]:
        """Length scales (b, d), output scales (b,), noise variances (b,), in standardised units."""
        m = self._model
        return {
            "lengthscale": m.covar_module.base_kernel.lengthscale.detach().squeeze(1),
            "outputscale": m.covar_module.outputscale.detach(),
            "noise": m.likelihood.noise.detach().squeeze(-1),
        }

    def state(self) -> dict:
        return {
            **_fitted_state(self),
            "config": [self.n_restarts, self.n_iter, self.lr, self.noise_floor, self.seed, self.kernel, self.n_polish],
        }

    @classmethod
    def from_state(cls, s: dict) -> BatchedGP:
        gp = _restore_fitted(cls(*s["config"]), s)
        gp._model = gp._make_model()
        return gp


class _KronNormal:
    """Joint Gaussian of b outputs at m points with covariance C (b, b) kron S (m, m): the predictive
    law of ``SharedGP``. ``sample(shape)`` -> (*shape, b, m)."""

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, out_cov: torch.Tensor):
        self.mean, self.cov, self.out_cov = mean, cov, out_cov  # (b, m), (m, m), (b, b)

    @property
    def variance(self) -> torch.Tensor:
        return torch.diagonal(self.out_cov)[:, None] * torch.diagonal(self.cov)[None, :]  # (b, m)

    def sample(self, shape=torch.Size()) -> torch.Tensor:
        def root(A):
            lam, V = torch.linalg.eigh(A)
            return V * lam.clamp_min(0).sqrt()

        b, m = self.mean.shape
        z = torch.randn(*shape, b, m, dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + root(self.out_cov) @ z @ root(self.cov).T


class SharedGP:
    """b outputs that share one ARD kernel (Matern 5/2 by default) and one noise level, as in the
    original MMGP code (a multi-output GP in the GPy sense). ``scaling='joint'`` centres each output
    and divides all by one common scale (for POD coefficients: a GP on the field itself with the
    kernel k(x, x') I in mass-weighted L2, dominated by the energetic modes); ``'each'`` standardises
    every output on its own.

    With Y (n, b) the standardised outputs and K = s^2 k(X, X) + sigma^2 I, the exact log-likelihood

        log p(Y) = -1/2 tr(Y^T K^-1 Y) - b/2 log det K - n b/2 log 2 pi

    needs one Cholesky factor of K for all b outputs (instead of b). The predictive mean K* K^-1 Y
    and the shared predictive variance v(x) = k** - k*^T K^-1 k* (+ sigma^2) follow.

    Output covariance (``calibration``). Read as an intrinsic coregionalisation model,
    Cov(Y_j(x), Y_l(x')) = C_jl K(x, x'), the mean does not depend on C, but the predictive
    covariance of the outputs at x is v(x) C. With ``'none'``, C = I: every output gets the same
    standardised variance, so with joint scaling a POD mode holding 1e-5 of the energy gets the
    variance of the first mode (intervals too wide where small modes dominate, too narrow where the
    first mode does). ``'loo'`` (default) estimates C in closed form from the leave-one-out
    residuals of the fitted GP (Rasmussen & Williams 2006, sec. 5.4.2; Bachoc 2013 for the
    robustness of CV-based variance estimates):

        r_i = [K^-1 Y]_i / [K^-1]_ii  (LOO residual),  s_i^2 = 1 / [K^-1]_ii  (LOO variance),
        C = (1/n) sum_i r_i r_i^T / s_i^2,

    so C_jj is the mean squared standardised LOO error of output j, and the off-diagonal terms carry
    the correlation of the modes' errors, which matters once they are summed back into a field.
    Kernel and noise are gpytorch modules (no priors); restarts run as a batch. Same interface as
    ``BatchedGP``, plus ``output_cov_`` and ``predict_shared``.
    """

    def __init__(
        self,
        n_restarts: int = 3,
        n_iter: int = 150,
        lr: float = 0.05,
        noise_floor: float = 1e-6,
        seed: int = 0,
        scaling: str = "joint",
        kernel: str = "matern52",
        n_polish: int = 100,
        calibration: str = "loo",
    ):
        if n_restarts < 1 or n_iter < 1 or n_polish < 0:
            raise ValueError(
                f"SharedGP: n_restarts and n_iter must be >= 1 and n_polish >= 0, got {n_restarts}, {n_iter}, {n_polish}"
            )
        if scaling not in ("joint", "each"):
            raise ValueError(f"SharedGP: scaling must be 'joint' or 'each', got {scaling!r}")
        if kernel not in KERNELS:
            raise ValueError(f"SharedGP: kernel must be one of {KERNELS}, got {kernel!r}")
        if calibration not in ("loo", "none"):
            raise ValueError(f"SharedGP: calibration must be 'loo' or 'none', got {calibration!r}")
        self.n_restarts, self.n_iter, self.lr, self.noise_floor, self.seed = n_restarts, n_iter, lr, noise_floor, seed
        self.scaling, self.kernel, self.n_polish, self.calibration = scaling, kernel, n_polish, calibration

    def _modules(self, d: int, R: int, like):
        return _kernel(self.kernel, d, R).to(like), _likelihood(R, self.noise_floor).to(like)

    def _nll(self, kern, lik, x, Y):
        """Negative log-likelihood per datum and output, one value per restart, (R,)."""
        n, b = Y.shape
        K = kern(x).to_dense() + lik.noise.unsqueeze(-1) * torch.eye(n, dtype=x.dtype, device=x.device)  # (R, n, n)
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(Y.expand(K.shape[0], n, b), L)  # (R, n, b)
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # (R,)
        return (0.5 * (Y * alpha).sum((-2, -1)) + 0.5 * b * logdet) / (n * b) + 0.5 * math.log(2 * math.pi)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> SharedGP:
        """x (n, d) standardised inputs, y (n, b) outputs. Returns self."""
        _check_fit("SharedGP", x, y)
        n, d = x.shape
        self.y_mean_ = y.mean(0)
        self.y_std_ = y.std(0).clamp_min(1e-12 * y.abs().max().clamp_min(1e-300))
        if self.scaling == "joint":  # one scale for all columns: POD modes keep their energy ratios
            self.y_std_ = self.y_std_.pow(2).mean().sqrt().expand_as(self.y_std_).clone()
        Y = (y - self.y_mean_) / self.y_std_  # (n, b)
        R = self.n_restarts
        kern, lik = self._modules(d, R, x)
        gen = torch.Generator().manual_seed(self.seed)
        init = torch.full((R, 1, d), math.sqrt(d), dtype=x.dtype)
        if R > 1:
            init[1:] *= torch.exp(torch.empty(R - 1, 1, d, dtype=x.dtype).uniform_(math.log(0.25), math.log(4.0), generator=gen))
        kern.base_kernel.lengthscale = init.to(x.device)
        lik.noise = torch.full((R, 1), 1e-2, dtype=x.dtype, device=x.device)
        params = list(kern.parameters()) + list(lik.parameters())
        _adam(lambda: self._nll(kern, lik, x, Y).sum(), params, self.n_iter, self.lr)
        _polish(lambda: self._nll(kern, lik, x, Y), params, self.n_polish)
        with torch.no_grad():
            final = -torch.nan_to_num(self._nll(kern, lik, x, Y), nan=math.inf)
        best = int(final.argmax())
        self.mll_ = final[best].expand(Y.shape[1]).clone()
        self._state = {
            "kernel": {k: v[best : best + 1] if v.dim() > 0 and v.shape[0] == R else v for k, v in kern.state_dict().items()},
            "likelihood": {k: v[best : best + 1] if v.dim() > 0 and v.shape[0] == R else v for k, v in lik.state_dict().items()},
        }
        self.x_train_, self.y_train_ = x, Y.T.contiguous()  # (b, n) as in BatchedGP
        self._setup()
        return self

    def _setup(self):
        x, Y = self.x_train_, self.y_train_.T
        self._kern, self._lik = self._modules(x.shape[1], 1, x)
        self._kern.load_state_dict(self._state["kernel"])
        self._lik.load_state_dict(self._state["likelihood"])
        with torch.no_grad():
            K = self._kern(x).to_dense()[0] + self._lik.noise[0] * torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
            self._L = torch.linalg.cholesky(K)
            self._alpha = torch.cholesky_solve(Y, self._L)  # (n, b)
            b = Y.shape[1]
            if self.calibration == "loo":
                dinv = torch.diagonal(torch.cholesky_inverse(self._L))  # [K^-1]_ii
                z = self._alpha / dinv.sqrt()[:, None]  # r_i / s_i, (n, b)
                self.C_ = z.T @ z / x.shape[0]  # (b, b), standardised units
            else:
                self.C_ = torch.eye(b, dtype=x.dtype, device=x.device)

    @property
    def n_outputs_(self) -> int:
        return int(self.y_train_.shape[0])

    @property
    def output_cov_(self) -> torch.Tensor:
        """C in original output units, diag(y_std) C diag(y_std), (b, b)."""
        return self.y_std_[:, None] * self.C_ * self.y_std_[None, :]

    def _post(self, xq: torch.Tensor, full: bool):
        _check_query(self, xq)
        with torch.no_grad():
            Ks = self._kern(xq, self.x_train_).to_dense()[0]  # (m, n)
            mean = Ks @ self._alpha  # (m, b)
            v = torch.linalg.solve_triangular(self._L, Ks.T, upper=False)  # (n, m)
            if full:
                cov = self._kern(xq).to_dense()[0] - v.T @ v  # (m, m)
                return mean, cov
            kss = self._kern(xq, diag=True)[0]  # (m,)
            return mean, (kss - (v * v).sum(0)).clamp_min(0)

    def predict_shared(self, x: torch.Tensor, include_noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (m, b) in original units and the shared standardised variance v(x) (m,): the
        predictive covariance of the b outputs at x_i is v_i * ``output_cov_``."""
        mean, var = self._post(x, full=False)
        if include_noise:
            var = var + self._lik.noise[0].detach()
        return mean * self.y_std_ + self.y_mean_, var

    def predict_standardized(self, x: torch.Tensor, include_noise: bool = True):
        """Mean and variance (m, b) in standardised units."""
        mean, var = self._post(x, full=False)
        if include_noise:
            var = var + self._lik.noise[0].detach()
        return mean, var[:, None] * torch.diagonal(self.C_)[None, :]

    def predict(self, x: torch.Tensor, include_noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive mean and (marginal) variance in original units, each (m, b), for x (m, d)."""
        mean, var = self.predict_standardized(x, include_noise)
        return mean * self.y_std_ + self.y_mean_, var * self.y_std_**2

    def posterior(self, x: torch.Tensor, include_noise: bool = True) -> _KronNormal:
        """Joint predictive distribution in standardised units over the b outputs and m points
        (covariance C kron S); ``.sample(shape)`` gives (*shape, b, m)."""
        mean, cov = self._post(x, full=True)
        if include_noise:
            cov = cov + self._lik.noise[0].detach() * torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
        return _KronNormal(mean.T.contiguous(), cov, self.C_)

    def hyperparameters(self) -> dict[str, torch.Tensor]:
        """Length scales (1, d), output scale (1,), noise variance (1,), shared by all outputs, and the
        output covariance C (b, b) (standardised units)."""
        return {
            "lengthscale": self._kern.base_kernel.lengthscale.detach().squeeze(1),
            "outputscale": self._kern.outputscale.detach(),
            "noise": self._lik.noise.detach().squeeze(-1),
            "C": self.C_,
        }

    def state(self) -> dict:
        return {
            "kind": "shared",
            **_fitted_state(self),
            "config": [
                self.n_restarts,
                self.n_iter,
                self.lr,
                self.noise_floor,
                self.seed,
                self.scaling,
                self.kernel,
                self.n_polish,
                self.calibration,
            ],
        }

    @classmethod
    def from_state(cls, s: dict) -> SharedGP:
        gp = _restore_fitted(cls(*s["config"]), s)
        gp._setup()
        return gp


def gp_from_state(s: dict):
    """Rebuild a ``SharedGP`` or ``BatchedGP`` from its ``state()``."""
    return SharedGP.from_state(s) if s.get("kind") == "shared" else BatchedGP.from_state(s)
