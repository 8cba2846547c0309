"""geomsci.pig: Physics-Informed Gaussians (PIG), a PINN baseline, a PDE problem library and a trainer."""
from geomsci.pig.jet import Jet
from geomsci.pig.model import PIG
from geomsci.pig.pinn import PINN

__all__ = ["Jet", "PIG", "PINN"]
