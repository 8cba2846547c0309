# The names `geomsci.nbody` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from .diagnostics import angular_momentum, center_of_mass, energy, nearest_pericentres, pair_orbit
from .ensemble import integrate_ensemble, load_ensemble
from .env import TimeStepEnv
from .files import read_systems
from .initial_conditions import figure_eight, kepler_orbit, paper_triple, plummer, pythagorean
from .integrate import Trajectory, integrate, state_from
from .integrators import NBodyState, evolve, make_state
from .rules import DepthRule, ThresholdRule
from .units import G_AU, KM_S_IN_AU_YR

ENV_ID: str

__all__ = [
    "integrate",
    "Trajectory",
    "state_from",
    "NBodyState",
    "evolve",
    "make_state",
    "integrate_ensemble",
    "load_ensemble",
    "energy",
    "angular_momentum",
    "center_of_mass",
    "pair_orbit",
    "nearest_pericentres",
    "paper_triple",
    "pythagorean",
    "figure_eight",
    "plummer",
    "kepler_orbit",
    "read_systems",
    "G_AU",
    "KM_S_IN_AU_YR",
    "TimeStepEnv",
    "DepthRule",
    "ThresholdRule",
]
