"""Snapshot POD (proper orthogonal decomposition) weighted by the finite-element mass matrix.

Given n snapshots x_i (M,) on one common mesh and the lumped mass weights w (M,) (a vector field
with C components repeats each node's weight C times), POD finds the M-orthonormal basis Phi (M, k)
that best reconstructs the centred snapshots in the mass-weighted norm ||x||_W^2 = sum_a w_a x_a^2,
a discrete L2(Omega) norm that does not depend on how densely the mesh samples a region.

Snapshot method (n << M):  C = X W X^T (n, n) = V diag(lambda) V^T,   Phi = X^T V diag(lambda)^-1/2,
so Phi^T W Phi = I, coefficients a_i = Phi^T W (x_i - mean), and the relative reconstruction error
of the training snapshots with k modes is exactly

    sum_i ||x_i - mean - Phi a_i||_W^2 / sum_i ||x_i - mean||_W^2 = 1 - sum_{j<=k} lambda_j / sum_j lambda_j.

``energy`` picks the smallest k whose captured fraction reaches it.
"""

from __future__ import annotations

import torch


class WeightedPOD:
    """Mass-weighted snapshot POD. Learned: ``mean_`` (M,), ``modes_`` (M, k), ``eigenvalues_`` (k,),
    ``captured_`` (fraction of the centred energy the k modes keep), ``weights_`` (M,)."""

    def __init__(self, n_modes: int | None = None, energy: float = 0.99999):
        if n_modes is not None and n_modes < 1:
            raise ValueError(f"WeightedPOD: n_modes must be >= 1 or None, got {n_modes}")
        if not 0.0 < energy <= 1.0:
            raise ValueError(f"WeightedPOD: energy must lie in (0, 1], got {energy}")
        self.n_modes = n_modes
        self.energy = energy

    def fit(self, snapshots: torch.Tensor, weights: torch.Tensor) -> WeightedPOD:
        """snapshots (n, M), weights (M,) positive. Returns self."""
        if snapshots.dim() != 2:
            raise ValueError(f"WeightedPOD.fit: snapshots must be (n, M), got {tuple(snapshots.shape)}")
        if weights.shape != snapshots.shape[1:]:
            raise ValueError(f"WeightedPOD.fit: weights must be ({snapshots.shape[1]},), got {tuple(weights.shape)}")
        if not bool(torch.isfinite(snapshots).all()):
            row = int((~torch.isfinite(snapshots)).any(1).nonzero()[0])
            raise ValueError(f"WeightedPOD.fit: snapshot {row} has NaN or inf values")
        self.weights_ = weights
        self.mean_ = snapshots.mean(0)  # (M,)
        X = snapshots - self.mean_  # (n, M)
        C = (X * weights) @ X.T  # (n, n)
        lam, V = torch.linalg.eigh(C)
        lam, V = lam.flip(0), V.flip(1)  # descending
        total = lam.clamp_min(0).sum()
        keep = lam > lam[0] * 1e-13 if lam[0] > 0 else torch.zeros_like(lam, dtype=torch.bool)
        n_max = max(int(keep.sum()), 1)
        if self.n_modes is not None:
            k = min(self.n_modes, n_max)
        else:
            frac = torch.cumsum(lam.clamp_min(0), 0) / total.clamp_min(1e-300)
            k = min(int((frac < self.energy).sum()) + 1, n_max)
        lam_k = lam[:k].clamp_min(1e-300)
        self.modes_ = X.T @ V[:, :k] / lam_k.sqrt()  # (M, k), W-orthonormal
        self.eigenvalues_ = lam[:k]
        self.captured_ = float(lam[:k].clamp_min(0).sum() / total) if total > 0 else 1.0
        return self

    @property
    def n_components_(self) -> int:
        return int(self.modes_.shape[1])

    def transform(self, snapshots: torch.Tensor) -> torch.Tensor:
        """Coefficients a = (x - mean) W Phi, (n, M) -> (n, k)."""
        if snapshots.shape[-1:] != self.mean_.shape:
            raise ValueError(f"WeightedPOD.transform: snapshots must be (n, {self.mean_.shape[0]}), got {tuple(snapshots.shape)}")
        return ((snapshots - self.mean_) * self.weights_) @ self.modes_

    def inverse_transform(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Snapshots mean + Phi a, (n, k) -> (n, M)."""
        if coeffs.shape[-1:] != (self.n_components_,):
            raise ValueError(
                f"WeightedPOD.inverse_transform: coeffs must be (n, {self.n_components_}), got {tuple(coeffs.shape)}"
            )
        return self.mean_ + coeffs @ self.modes_.T

    def state(self) -> dict:
        return {
            "mean": self.mean_,
            "modes": self.modes_,
            "eigenvalues": self.eigenvalues_,
            "weights": self.weights_,
            "captured": self.captured_,
            "n_modes": self.n_modes,
            "energy": self.energy,
        }

    @classmethod
    def from_state(cls, s: dict) -> WeightedPOD:
        pod = cls(s["n_modes"], s["energy"])
        pod.mean_, pod.modes_, pod.eigenvalues_ = s["mean"], s["modes"], s["eigenvalues"]
        pod.weights_, pod.captured_ = s["weights"], s["captured"]
        return pod


def cv_residual_variance(snapshots: torch.Tensor, weights: torch.Tensor, n_modes: int, folds: int = 5) -> torch.Tensor:
    """Per-entry variance (M,) of the POD truncation error on snapshots the basis has not seen.

    The snapshots are split into ``folds`` interleaved folds; each fold is projected onto the
    ``n_modes`` POD modes of the other folds, and the squared residuals x - mean - Phi Phi^T W (x - mean)
    are averaged over all n snapshots. On its own training snapshots POD leaves only 1 - energy of
    the variance; a new sample also has the part outside the span of the training set, which is what
    this estimates (the part of a prediction's error that no GP over POD coefficients can see).
    """
    n = snapshots.shape[0]
    folds = max(2, min(folds, n))
    idx = torch.arange(n, device=snapshots.device)
    acc = torch.zeros(snapshots.shape[1], dtype=snapshots.dtype, device=snapshots.device)
    for k in range(folds):
        held, kept = idx[idx % folds == k], idx[idx % folds != k]
        pod = WeightedPOD(n_modes=n_modes).fit(snapshots[kept], weights)
        r = snapshots[held] - pod.inverse_transform(pod.transform(snapshots[held]))
        acc += (r**2).sum(0)
    return acc / n
