"""Error metrics of the PLAID benchmarks (as in the MMGP paper) and interval coverage.

For n test samples, sample i with N_i nodes, true field U_i and prediction V_i:

    RRMSE_field = sqrt( (1/n) sum_i ||U_i - V_i||_2^2 / (N_i ||U_i||_inf^2) )
    RRMSE_scalar = sqrt( (1/n) sum_i ((u_i - v_i) / u_i)^2 )
    Q2 = 1 - sum (u - v)^2 / sum (u - mean(u))^2      (fields: over all nodes of all samples)

Source, checked on 2026-11-27: the PLAID benchmark documentation
(https://plaid-lib.readthedocs.io/en/stable/source/plaid_benchmarks.html, "The relative RMSE is the
considered metric") defines RRMSE_f = ((1/n) sum_i (1/N^i) ||U^i_ref - U^i_pred||_2^2 / ||U^i_ref||_inf^2)^(1/2)
and RRMSE_s = ((1/n) sum_i |w^i_ref - w^i_pred|^2 / |w^i_ref|^2)^(1/2); the plaid library's
``plaid.post.metrics`` (github.com/PLAID-lib/plaid, src/plaid/post/metrics.py) computes the scalar
one as sqrt(mean(((pred - ref) / ref)^2)). ||U||_inf is the largest |entry| of the true field.

Coverage of a central 95% interval: the fraction of true values within mean +- 1.96 std.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _cat(xs) -> torch.Tensor:
    if isinstance(xs, (list, tuple)) and len(xs) > 0:
        return torch.cat([torch.as_tensor(x).reshape(-1).double() for x in xs])
    return torch.as_tensor(xs).double().reshape(-1)


def _pair(fn: str, true, *others) -> list[torch.Tensor]:
    """``true`` and ``others`` flattened to float64 on ``true``'s device; ValueError unless all have
    the same (nonzero) number of values."""
    out = [_cat(true)] + [_cat(o) for o in others]
    sizes = [t.numel() for t in out]
    if sizes[0] == 0 or len(set(sizes)) > 1:
        raise ValueError(f"{fn}: need the same nonzero number of values in each argument, got {sizes}")
    return [out[0]] + [t.to(out[0].device) for t in out[1:]]


def rrmse_field(true: Sequence[torch.Tensor], pred: Sequence[torch.Tensor]) -> float:
    """PLAID field RRMSE over samples of (possibly) different node counts (formula in the module docstring)."""
    if len(true) != len(pred) or len(true) == 0:
        raise ValueError(f"rrmse_field: need as many predictions as truths (>0), got {len(pred)} and {len(true)}")
    terms = []
    for i, (u, v) in enumerate(zip(true, pred)):
        u, v = torch.as_tensor(u).double(), torch.as_tensor(v).double().to(torch.as_tensor(u).device)
        if u.numel() != v.numel():
            raise ValueError(f"rrmse_field: sample {i} has {u.numel()} true values but {v.numel()} predicted")
        u, v = u.reshape(-1), v.reshape(-1)
        terms.append(((u - v) ** 2).sum() / (u.numel() * u.abs().max() ** 2))
    return float(torch.stack(terms).mean().sqrt())


def rrmse_scalar(true, pred) -> float:
    """PLAID scalar RRMSE (relative to each true value)."""
    u, v = _pair("rrmse_scalar", true, pred)
    return float((((u - v) / u) ** 2).mean().sqrt())


def q2(true, pred) -> float:
    """Coefficient of determination over all values (nodes of all samples, or scalars)."""
    u, v = _pair("q2", true, pred)
    return float(1 - ((u - v) ** 2).sum() / ((u - u.mean()) ** 2).sum())


def coverage(true, mean, std, z: float = 1.959963984540054) -> float:
    """Fraction of true values inside mean +- z std (z = 1.96: central 95% interval)."""
    u, m, s = _pair("coverage", true, mean, std)
    if bool((s < 0).any()):
        raise ValueError(f"coverage: std must be >= 0, got a minimum of {float(s.min())}")
    return float(((u - m).abs() <= z * s.to(u.device)).double().mean())
