"""geomsci.core: shared datatypes (Mesh, Grid) and device-agnostic, autograd-aware ops."""
from .grid import Grid
from .mesh import Mesh

__all__ = ["Mesh", "Grid"]
