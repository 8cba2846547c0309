"""Reference solvers for the PIG problem library (NumPy/SciPy/scikit-fem; no autograd)."""

from geomsci.pig.reference.allen_cahn import allen_cahn_etdrk4
from geomsci.pig.reference.diffusion import nonlinear_diffusion_fd
from geomsci.pig.reference.poisson import plate_with_holes, poisson_p2

__all__ = ["allen_cahn_etdrk4", "nonlinear_diffusion_fd", "plate_with_holes", "poisson_p2"]
