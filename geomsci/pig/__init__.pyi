# The names `geomsci.pig` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from . import problems
from .jet import Jet
from .model import PIG
from .pinn import PINN
from .results import plot_history, plot_solution, solution_field
from .train import TrainResult, relative_l2, train

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
