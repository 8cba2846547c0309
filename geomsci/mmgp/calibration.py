"""Calibrated intervals and out-of-distribution scores for ``MMGPRegressor``.

Interval scale per output (``interval_calibration='cv'``)
--------------------------------------------------------
The analytic predictive std of MMGP rests on the GP's Gaussian model with hyperparameters fit to the
same data; on shapes or inputs it was not built for, its 95% intervals covered 37-88% of held-out
values. Each output therefore gets one factor c, measured by cross-validation on the training set
with the fitted hyperparameters held fixed, so that mean +- 1.96 c std covers 95% of held-out values:

    z = |y_held - mean_cv| / std_cv,     c = quantile_0.95(z) / 1.96.

* Fields (shared GP): 5 interleaved folds; in each, the POD is refit on the kept samples, the GP
  (fixed kernel) is conditioned on their coefficients, and the held-out samples' fields are predicted
  on their own nodes, exactly as ``predict`` does: mean Q_i (mean + Phi a), variance
  v(x) diag(B C B^T) + Q_i sigma^2 with B = Q_i Phi (C from the fold's leave-one-out residuals,
  sigma^2 the truncation plus transfer variance below); z pools every node of every held-out
  sample among up to 200 calibration samples (2M values at most, a seeded subsample beyond that).
* Transfer variance: the round trip sample -> common mesh -> sample loses what the common mesh
  does not resolve (and, on the unit disk, the sliver between one boundary polygon and another);
  its mean square per common-mesh node, from the calibration samples, is added to sigma^2.
* Scalars (batched GPs): 5-fold CV that refits, on each fold's kept samples, everything fitted to
  data before the GP: the shape POD, the standardisation of the GP inputs and the hyperparameters
  (up to 500 training samples); mapped for a log-output to the log-normal mean and std that
  ``predict`` returns. Above 500 samples, the exact leave-one-out of the fitted GP (POD and
  hyperparameters fixed: cheap, and their optimism fades as n grows). The quantile of the n
  scalar values z is the split-conformal one, the ceil(0.95 (n + 1))-th smallest, which covers at
  least 95% of exchangeable new values (a fixed-rank rule, not tuned).

Out-of-distribution score per sample
------------------------------------
``distance``: the nearest-training-sample distance of the sample's GP input in each GP's metric
(standardised inputs divided by that GP's ARD length scales), over the 95% quantile of the training
samples' leave-one-out nearest distances; the largest over the GPs. ``shape``: the mass-weighted norm
of the sample's coordinates outside the span of the shape modes, over the 95% quantile of the same
quantity for training samples under 5-fold cross-validation of the shape POD. The score is the
larger of the two: about 1 or below inside the training distribution.
"""

from __future__ import annotations

import math

import torch

from geomsci.mmgp.pod import WeightedPOD

Z95 = 1.959963984540054
MAX_POOLED = 2_000_000


def _q95(z: torch.Tensor, seed: int = 0) -> float:
    z = z.reshape(-1)
    if z.numel() > MAX_POOLED:
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = z[torch.randperm(z.numel(), generator=g)[:MAX_POOLED].to(z.device)]
    return float(torch.quantile(z.double(), 0.95))


def _conformal_q95(z: torch.Tensor) -> float:
    """The ceil(0.95 (n + 1))-th smallest of n values (the largest when n < 19): split-conformal rank."""
    z = z.reshape(-1).sort().values
    return float(z[min(z.numel(), math.ceil(0.95 * (z.numel() + 1))) - 1])


def _ratio(residual: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """|r| / std with 0/0 -> 0 (nodes pinned by a boundary condition) and r/0 -> inf."""
    tiny = 1e-12 * float(std.max().clamp_min(1e-300))
    z = residual.abs() / std.clamp_min(tiny)
    return torch.where((std <= tiny) & (residual.abs() <= 1e-9 * float(residual.abs().max().clamp_min(1e-300))), 0.0, z)


def shared_gp_condition(gp, x_train: torch.Tensor, Y: torch.Tensor, x_query: torch.Tensor):
    """A fitted ``SharedGP``'s kernel (hyperparameters fixed) conditioned on other data.

    Returns mean (m, b) in Y's units, the shared variance v (m,) (kernel units, noise included) and
    the LOO output covariance C (b, b) of this conditioning, so that Cov[y(x_i)] = v_i C.
    """
    with torch.no_grad():
        n = x_train.shape[0]
        noise = gp._lik.noise[0].detach()
        K = gp._kern(x_train).to_dense()[0] + noise * torch.eye(n, dtype=x_train.dtype, device=x_train.device)
        L = torch.linalg.cholesky(K)
        mu = Y.mean(0)
        alpha = torch.cholesky_solve(Y - mu, L)  # (n, b)
        z = alpha / torch.diagonal(torch.cholesky_inverse(L)).sqrt()[:, None]
        C = z.T @ z / n
        Ks = gp._kern(x_query, x_train).to_dense()[0]  # (m, n)
        v = torch.linalg.solve_triangular(L, Ks.T, upper=False)
        var = (gp._kern(x_query, diag=True)[0] - (v * v).sum(0)).clamp_min(0) + noise
        return Ks @ alpha + mu, var, C


def transfer_variance(own, snaps: torch.Tensor, n_comp: int) -> torch.Tensor:
    """Per-entry variance (N_c C,) of the round-trip transfer error sample -> common mesh -> sample.

    ``own``: (i, Q_i (N_i, N_c), u_i (N_i, C) or (N_i,)) for some training samples, ``snaps[i]`` their
    fields on the common mesh (N_c C,). The squared error e = u_i - Q_i snaps_i at each node of sample i
    is spread back onto the common mesh with the weights of Q_i (its adjoint, normalised per node).
    It is the part of a prediction's error that comes from the common mesh resolving the sample's
    field less well (coarser there, or a boundary polygon inscribed in another's).
    """
    n_c = snaps.shape[1] // n_comp
    acc = snaps.new_zeros(n_c, n_comp)
    weight = snaps.new_zeros(n_c, 1)
    for i, Q, u in own:
        e2 = (u.reshape(Q.shape[0], n_comp) - torch.sparse.mm(Q, snaps[i].reshape(n_c, n_comp))) ** 2  # (N_i, C)
        acc += torch.sparse.mm(Q.t(), e2)
        weight += torch.sparse.mm(Q.t(), torch.ones_like(e2[:, :1]))
    return (acc / weight.clamp_min(1e-12)).reshape(-1)


def field_interval_scale(
    gp,
    xs: torch.Tensor,
    snaps: torch.Tensor,
    weights: torch.Tensor,
    n_modes: int,
    resvar: torch.Tensor,
    own,
    n_comp: int,
    folds: int = 5,
) -> float:
    """CV interval factor c of one field (module docstring), measured on the own nodes of the samples
    in ``own`` ((i, Q_i, u_i / s_i) as in ``transfer_variance``); ``snaps`` (n, N_c C) as the GP saw them."""
    n = snaps.shape[0]
    folds = max(2, min(folds, n))
    idx = torch.arange(n, device=snaps.device)
    by_index = {i: (Q, u) for i, Q, u in own}
    zs = []
    n_c = snaps.shape[1] // n_comp
    for k in range(folds):
        held = [i for i in range(k, n, folds) if i in by_index]
        kept = idx[idx % folds != k]
        if len(kept) < 2 or not held:
            continue
        pod = WeightedPOD(n_modes=n_modes).fit(snaps[kept], weights)
        mean, v, C = shared_gp_condition(gp, xs[kept], pod.transform(snaps[kept]), xs[held])
        common = pod.inverse_transform(mean).reshape(len(held), n_c, n_comp)  # (h, N_c, C)
        Phi = pod.modes_.reshape(n_c, n_comp, -1)  # (N_c, C, k)
        res = resvar.reshape(n_c, n_comp)
        for h, i in enumerate(held):
            Q, u = by_index[i]
            u = u.reshape(Q.shape[0], n_comp)
            for c in range(n_comp):
                B = torch.sparse.mm(Q, Phi[:, c, :])  # (N_i, k)
                var = ((B @ C) * B).sum(1) * v[h] + torch.sparse.mm(Q, res[:, c : c + 1])[:, 0]
                pred = torch.sparse.mm(Q, common[h, :, c : c + 1])[:, 0]
                zs.append(_ratio(u[:, c] - pred, var.clamp_min(0).sqrt()))
    if not zs:
        return 1.0
    return max(_q95(torch.cat(zs)) / Z95, 1e-3)


def scalar_interval_scales(gp, log_outputs: torch.Tensor) -> torch.Tensor:
    """CV (exact leave-one-out) interval factor of every output of a fitted ``BatchedGP``, (b,)."""
    with torch.no_grad():
        model, x, yt = gp._model, gp.x_train_, gp.y_train_  # yt (b, n) standardised
        b, n = yt.shape
        K = model.covar_module(x.expand(b, *x.shape)).to_dense()
        K = K + model.likelihood.noise.reshape(b, 1, 1) * torch.eye(n, dtype=x.dtype, device=x.device)
        L = torch.linalg.cholesky(K)
        Kinv = torch.cholesky_inverse(L)  # (b, n, n)
        mu0 = model.mean_module.constant.reshape(b, 1)
        alpha = (Kinv @ (yt - mu0).unsqueeze(-1)).squeeze(-1)  # (b, n)
        d = torch.diagonal(Kinv, dim1=-2, dim2=-1)
        m = (yt - alpha / d) * gp.y_std_[:, None] + gp.y_mean_[:, None]  # LOO mean, GP space
        var = (1 / d) * gp.y_std_[:, None] ** 2
        y = yt * gp.y_std_[:, None] + gp.y_mean_[:, None]
        scales = []
        for c in range(b):
            if bool(log_outputs[c]):
                mean = torch.exp(m[c] + var[c] / 2)
                std, truth = mean * torch.expm1(var[c]).sqrt(), y[c].exp()
            else:
                mean, std, truth = m[c], var[c].sqrt(), y[c]
            scales.append(max(_conformal_q95(_ratio(truth - mean, std)) / Z95, 1e-3))
        return torch.tensor(scales, dtype=x.dtype, device=x.device)


def scalar_interval_scales_cv(make_gp, features, y: torch.Tensor, log_outputs: torch.Tensor, folds: int = 5) -> torch.Tensor:
    """Interval factor (b,) of scalar outputs by K-fold CV that refits the whole pipeline on each fold.

    ``make_gp()`` builds an unfitted GP like the model's; ``features(kept)`` returns the GP inputs
    (n, d) of all n samples from a shape POD and standardisation fitted on the samples ``kept`` only;
    ``y`` (n, b) in the GP's space (logs for log-outputs). Measured on the foreign families: with the
    hyperparameters held fixed, leave-one-out made the scalars' intervals look calibrated (rms z 0.97)
    while held-out samples had rms z 1.2-1.4; refitting the GP alone but keeping the shape POD of all
    samples still leaked (held-out samples' shapes lie in the span of modes fitted to them): on the
    holed squares' u_mean the factor came out 1.08 instead of 1.38, coverage 83% on a test draw.
    The folds have 20% fewer samples, a slightly conservative bias.
    """
    n, b = y.shape
    folds = max(2, min(folds, n // 2))
    idx = torch.arange(n, device=y.device)
    zs = [[] for _ in range(b)]
    for k in range(folds):
        held, kept = idx[idx % folds == k], idx[idx % folds != k]
        if len(kept) < 2:
            continue
        xs = features(kept)
        mu, var = make_gp().fit(xs[kept], y[kept]).predict(xs[held])
        for c in range(b):
            if bool(log_outputs[c]):
                mean = torch.exp(mu[:, c] + var[:, c] / 2)
                std, truth = mean * torch.expm1(var[:, c]).sqrt(), y[held, c].exp()
            else:
                mean, std, truth = mu[:, c], var[:, c].sqrt(), y[held, c]
            zs[c].append(_ratio(truth - mean, std))
    return torch.tensor([max(_conformal_q95(torch.cat(z)) / Z95, 1e-3) if z else 1.0 for z in zs], dtype=y.dtype, device=y.device)


def fold_gp_inputs(coords: torch.Tensor, weights: torch.Tensor, n_modes: int, x: torch.Tensor):
    """``features(kept)`` for ``scalar_interval_scales_cv``: shape POD (``n_modes``) of ``coords``
    (n, M) with mass ``weights`` (M,) fitted on the kept samples, then the scalar inputs ``x`` (n, p)
    (already log-transformed where the model does), standardised with the kept samples' mean and std."""

    def features(kept: torch.Tensor) -> torch.Tensor:
        pod = WeightedPOD(n_modes=n_modes).fit(coords[kept], weights)
        xin = torch.cat([pod.transform(coords), x], 1)
        return (xin - xin[kept].mean(0)) / xin[kept].std(0).clamp_min(1e-12)

    return features


def gp_metrics(gps) -> list[torch.Tensor]:
    """ARD length scales (d,) of every GP member: one per shared GP, one per output of a batched GP."""
    out = []
    for gp in gps:
        ls = gp.hyperparameters()["lengthscale"].reshape(-1, gp.x_train_.shape[1])
        out.extend(list(ls))
    return out


def nearest_distances(xq: torch.Tensor, x_train: torch.Tensor, lengthscale: torch.Tensor, exclude_self: bool = False):
    """Distance (m,) from each query to its nearest training point, in the metric |dx / lengthscale|."""
    d = torch.cdist(xq / lengthscale, x_train / lengthscale)
    if exclude_self:
        d = d + torch.diag(torch.full((d.shape[0],), float("inf"), dtype=d.dtype, device=d.device))
    return d.min(1).values


def shape_residual_norms(pod: WeightedPOD, coords: torch.Tensor) -> torch.Tensor:
    """Mass-weighted norm (n,) of each snapshot's part outside the POD span."""
    r = coords - pod.inverse_transform(pod.transform(coords))
    return ((r**2) * pod.weights_).sum(1).sqrt()


def cv_shape_residual_norms(coords: torch.Tensor, weights: torch.Tensor, n_modes: int, folds: int = 5) -> torch.Tensor:
    """``shape_residual_norms`` of training snapshots under K-fold cross-validation of the POD, (n,)."""
    n = coords.shape[0]
    folds = max(2, min(folds, n))
    idx = torch.arange(n, device=coords.device)
    out = torch.empty(n, dtype=coords.dtype, device=coords.device)
    for k in range(folds):
        held, kept = idx[idx % folds == k], idx[idx % folds != k]
        out[held] = shape_residual_norms(WeightedPOD(n_modes=n_modes).fit(coords[kept], weights), coords[held])
    return out
