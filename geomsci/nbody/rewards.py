"""Rewards for choosing the step parameter of an N-body integrator every check interval.

Notation for check interval i: dE_i = (E_i - E_0) / E_0 is the relative energy error accumulated
so far, mu_i the chosen parameter, n_i the force evaluations spent in the interval.

`paper_reward` follows the form of Saz Ulibarrena & Portegies Zwart (2025) and their code:

    r_i = -W1 log10(|dE_i| / E_lim) - W2 (log10|dE_i| - log10|dE_{i-1}|) + W3 / |log10 mu_i|

(penalize the log error above E_lim = 1e-10 and its growth, reward larger mu.)

`cost_reward` is the cost-aware variant used for the benchmarked policy. It charges the error
made *in this interval*, |E_i - E_{i-1}| / |E_0|, in dex above E_lim, and the force evaluations:

    r_i = -log10( max(|E_i - E_{i-1}| / |E_0|, E_lim) / E_lim ) - lam * n_i / 1000

which makes the per-step signal local (easy credit assignment) while the return still ranks
whole runs by error and cost.

`final_reward` charges the growth of the accumulated error instead, so that the undiscounted
return telescopes to the benchmark's objective, -(log10 of the final error above E_lim) - lam *
(total force evaluations) / 1000:

    r_i = -( max(log10|dE_i|, log10 E_lim) - max(log10|dE_{i-1}|, log10 E_lim) ) - lam * n_i / 1000

`steady_reward` is `final_reward` minus a charge for every notch (1/3 dex) that mu moves between
intervals (the first decision is free):

    r_i = final_i - c_switch * 3 |log10 mu_i - log10 mu_{i-1}|

Mixing step parameters within a three-body run costs accuracy: the final error is the small net
of large, mostly cancelling excursions, and a run that alternates two mu values errs like the
coarser one while paying for the finer one (docs/nbody.md: 1.1 dex below the fixed-mu front at
equal cost), a delayed and noisy effect the charge makes visible at once.
"""

from __future__ import annotations

import numpy as np

E_LIM = 1e-10
FINAL_E_LIM = 1e-12  # the default floor of `final_reward` and `steady_reward`
PAPER_WEIGHTS = (1.0, 10.0, 4.0)


def _log10_abs(x, floor=1e-16):
    return np.log10(np.maximum(np.abs(x), floor))


def paper_reward(dE, dE_prev, mu, weights=PAPER_WEIGHTS, e_lim: float = E_LIM):
    """Paper-style reward. dE, dE_prev, mu: arrays (B,) -> (B,)."""
    w1, w2, w3 = weights
    le, lp = _log10_abs(dE), _log10_abs(dE_prev)
    return -w1 * (le - np.log10(e_lim)) - w2 * (le - lp) + w3 / np.abs(np.log10(mu))


def cost_reward(E, E_prev, E0, n_force, lam: float = 1.0, e_lim: float = E_LIM):
    """Cost-aware reward. E, E_prev, E0, n_force: arrays (B,) -> (B,)."""
    local = np.abs((np.asarray(E) - np.asarray(E_prev)) / np.asarray(E0))
    return -np.log10(np.maximum(local, e_lim) / e_lim) - lam * np.asarray(n_force) / 1000.0


def final_reward(dE, dE_prev, n_force, lam: float = 0.3, e_lim: float = FINAL_E_LIM):
    """Telescoping reward on the accumulated error. dE, dE_prev, n_force: arrays (B,) -> (B,)."""
    le = np.maximum(_log10_abs(dE), np.log10(e_lim))
    lp = np.maximum(_log10_abs(dE_prev), np.log10(e_lim))
    return -(le - lp) - lam * np.asarray(n_force) / 1000.0


def steady_reward(dE, dE_prev, n_force, mu, mu_prev, lam: float = 0.3, c_switch: float = 0.5, e_lim: float = FINAL_E_LIM):
    """`final_reward` minus ``c_switch`` per notch that mu moved. All arrays (B,); mu_prev >= 1 means 'no previous'."""
    mu, mu_prev = np.asarray(mu, dtype=np.float64), np.asarray(mu_prev, dtype=np.float64)
    notches = np.where(mu_prev < 1.0, 3.0 * np.abs(np.log10(mu) - np.log10(np.minimum(mu_prev, 1.0))), 0.0)
    return final_reward(dE, dE_prev, n_force, lam, e_lim) - c_switch * notches


REWARDS = ("paper", "cost", "final", "steady")
