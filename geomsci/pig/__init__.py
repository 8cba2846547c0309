"""geomsci.pig: Physics-Informed Gaussians (PIG), a PINN baseline, a PDE problem library and a trainer."""

from geomsci.pig import problems
from geomsci.pig.jet import Jet
from geomsci.pig.model import PIG
from geomsci.pig.pinn import PINN
from geomsci.pig.results import plot_history, plot_solution, solution_field
from geomsci.pig.train import TrainResult, relative_l2, train

__all__ = [
    "Jet",
    "PIG",
    "PINN",
    "TrainResult",
    "plot_history",
    "plot_solution",
    "problems",
    "relative_l2",
    "solution_field",
    "train",
]
