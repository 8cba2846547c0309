"""Hand-written step-parameter controllers: the bars a learned policy has to beat, and the base of a residual one.

A controller maps observations (B, obs_dim) of `SystemBatch.observe` to action indices (B,) into its own
``actions`` (increasing step parameters); its ``observation`` attribute names the observation kind it reads.
`geomsci.nbody.evaluate.run_controller` runs either kind of controller, rules and trained `Policy` alike.

`ThresholdRule` is the issue's rule on the accumulated error: a coarse mu until |dE/E0| passes a threshold, then a
fine one. `DepthRule` reads the nearby pericentre passage of the 'encounter' observation and lowers mu for the
intervals around a passage by as much as the passage's depth requires: on the symmetrized step the |dE/E0| that
one passage of pericentre distance q adds at constant mu was measured (docs/nbody.md, ``benchmarks/nbody.py
--passage-law``) to follow

    |d(dE/E0)| ~ PASSAGE_C mu^PASSAGE_P / (q / AU)

so the mu at which a passage adds ``budget`` is (budget q / PASSAGE_C)^(1 / PASSAGE_P).
"""

from __future__ import annotations

import numpy as np

from .env import ENCOUNTER_WINDOW, NO_ENCOUNTER_LOG_Q

# fit over the 0.1-yr intervals with a passage q < 1e-2 AU due, at mu = 3.2e-2 ... 0.1 on the validation seeds
# 1000-1199 (symmetrized step): log10 |d(dE/E0)| = -0.20 - 1.00 log10(q / AU) + 4.88 log10 mu
PASSAGE_C, PASSAGE_P = 0.63, 4.9
HALF_NOTCHES = (4.6e-3, 6.8e-3, 1e-2, 1.5e-2, 2.2e-2, 3.2e-2, 4.6e-2, 6.8e-2, 0.1, 0.15)  # half a notch = 1/6 dex
LOG_Q, T_TO, NEG_LOG_ERR = 16, 17, 12  # columns of the encounter observation that the rules read


class ThresholdRule:
    """mu = ``hi`` while |dE/E0| <= ``threshold``, then ``lo`` (reads column 12, -log10 |dE/E0|, of any observation)."""

    observation = "paper"

    def __init__(self, hi: float, lo: float, threshold: float):
        if not (0 < lo < hi and 0 < threshold < 1):
            raise ValueError(
                f"ThresholdRule: need 0 < lo < hi and 0 < threshold < 1, got lo={lo}, hi={hi}, threshold={threshold}"
            )
        self.actions = np.array([lo, hi])
        self.name = f"rule {hi:.2g} -> {lo:.2g} at {threshold:.0e}"
        self.neg_log_threshold = -np.log10(threshold)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(obs)[:, NEG_LOG_ERR] < self.neg_log_threshold, 0, 1)


def near_passage(obs: np.ndarray, horizon: float, hold: float) -> np.ndarray:
    """(B,) bool: the deepest passage of the encounter observation (columns 16, 17) is due within ``horizon`` decision
    intervals or was passed at most ``hold`` intervals ago (so that its outbound leg gets the inbound leg's mu)."""
    if not (0 < horizon <= ENCOUNTER_WINDOW and 0 <= hold <= ENCOUNTER_WINDOW):
        raise ValueError(
            f"horizon must be in (0, {ENCOUNTER_WINDOW}] and hold in [0, {ENCOUNTER_WINDOW}] intervals, got {horizon}, {hold}"
        )
    obs = np.asarray(obs)
    return (obs[:, T_TO] <= horizon) & (obs[:, T_TO] >= -hold) & (obs[:, LOG_Q] < NO_ENCOUNTER_LOG_Q)


class DepthRule:
    """mu from the depth of the nearby pericentre passage ('encounter' observation, 18 columns).

    For an interval near a passage of pericentre distance q (due within ``horizon`` intervals or passed at most
    ``hold`` ago, `near_passage`): the largest mu in ``actions`` at or below (``budget`` q / PASSAGE_C)^(1/PASSAGE_P),
    the mu at which the passage should add about ``budget`` to |dE/E0|; otherwise the largest mu <= ``hi``.
    Deeper passages get a smaller mu, as the error they add grows as 1/q.

    Parameters
    ----------
    hi : the step parameter away from passages (its largest)
    budget : the |dE/E0| one passage may add
    horizon, hold : decision intervals ahead / behind in which a passage counts
    actions : the step parameters to choose from; those above ``hi`` are left out (``self.actions``)
    mass_aware : measure a passage's depth against the energy at stake, q |E0| / (m_i m_j 5.38), instead of q in AU
        (reads the 'encounter_mass' observation): level with the default on the paper's triples, better on triples
        of other masses (docs/nbody.md, "On triples the paper's generator does not make")

    Notes
    -----
    ``DepthRule(0.1, 3e-4)`` was chosen on the validation seeds 1000-1199 among 32 rules (docs/nbody.md): on the
    test seeds it runs with 0 early ends at 0.62x the force evaluations of the cheapest safe constant mu.
    ``geomsci nbody evaluate --rule 0.1,3e-4`` runs it from the command line.
    """

    def __init__(
        self, hi: float, budget: float, horizon: float = 1.5, hold: float = 1.0, actions=HALF_NOTCHES, mass_aware: bool = False
    ):
        near_passage(np.zeros((0, 18)), horizon, hold)  # checks the arguments
        self.mass_aware = bool(mass_aware)
        self.observation = "encounter_mass" if self.mass_aware else "encounter"
        if not 0 < budget < 1:
            raise ValueError(f"DepthRule: budget is a |dE/E0| in (0, 1), got {budget}")
        self.actions = np.array([a for a in actions if a <= hi], dtype=np.float64)
        if self.actions.size == 0:
            raise ValueError(f"DepthRule: no action at or below hi = {hi} in {list(actions)}")
        self.hi, self.budget, self.horizon, self.hold = float(hi), float(budget), float(horizon), float(hold)
        self.log_budget = np.log10(budget)
        floor = "" if self.actions[0] == min(HALF_NOTCHES) else f", mu >= {self.actions[0]:.2g}"
        depth = "mu(q m_i m_j / |E0|)" if self.mass_aware else "mu(q)"
        self.name = f"rule {depth} <= {hi:.2g}{floor} for |dE/E0| {budget:.0e} a passage in -{hold:g}..{horizon:g} dt"

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs)
        log_mu = (self.log_budget + obs[:, LOG_Q] - np.log10(PASSAGE_C)) / PASSAGE_P
        log_mu = np.where(near_passage(obs, self.horizon, self.hold), log_mu, np.inf)
        idx = np.searchsorted(np.log10(self.actions), log_mu + 1e-9, side="right") - 1
        return np.clip(idx, 0, len(self.actions) - 1)

    def params(self) -> dict:
        """The constructor's arguments (a policy file stores them to rebuild its base rule)."""
        return {
            "hi": self.hi,
            "budget": self.budget,
            "horizon": self.horizon,
            "hold": self.hold,
            "actions": self.actions.tolist(),
            **({"mass_aware": True} if self.mass_aware else {}),
        }
