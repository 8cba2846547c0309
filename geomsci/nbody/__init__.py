"""geomsci.nbody: batched N-body integrators and learned time-step control for three-body systems.

`TimeStepEnv` (a ``gymnasium.Env``) is imported on first use, since gymnasium is an optional extra;
when gymnasium is installed, importing this package registers it as ``geomsci/TimeStep-v0``.
"""

from importlib.util import find_spec as _find_spec

from .diagnostics import angular_momentum, center_of_mass, energy, pair_orbit
from .ensemble import integrate_ensemble, load_ensemble
from .initial_conditions import figure_eight, kepler_orbit, paper_triple, plummer, pythagorean
from .integrate import Trajectory, integrate, state_from
from .integrators import NBodyState, evolve, make_state
from .units import G_AU, KM_S_IN_AU_YR

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
    "paper_triple",
    "pythagorean",
    "figure_eight",
    "plummer",
    "kepler_orbit",
    "G_AU",
    "KM_S_IN_AU_YR",
    "TimeStepEnv",
]

ENV_ID = "geomsci/TimeStep-v0"


def __getattr__(name):
    if name == "TimeStepEnv":
        try:
            from .env import TimeStepEnv
        except ModuleNotFoundError as e:
            if e.name != "gymnasium":
                raise
            raise ImportError("geomsci.nbody.TimeStepEnv needs gymnasium: pip install 'geomsci[rl]'") from None
        return TimeStepEnv
    raise AttributeError(f"module 'geomsci.nbody' has no attribute {name!r}")


if _find_spec("gymnasium") is not None:  # register the id without importing the environment module
    import gymnasium as _gym

    if ENV_ID not in _gym.registry:
        _gym.register(id=ENV_ID, entry_point="geomsci.nbody.env:TimeStepEnv")
