"""geomsci.pig.problems: named PDE problems with exact or reference solutions."""

from geomsci.pig.problems.allen_cahn import AllenCahn
from geomsci.pig.problems.base import Constraint, Problem
from geomsci.pig.problems.diffusion import NonlinearDiffusion
from geomsci.pig.problems.flow_mixing import FlowMixing
from geomsci.pig.problems.helmholtz import Helmholtz2D
from geomsci.pig.problems.klein_gordon import KleinGordon
from geomsci.pig.problems.poisson_mesh import PoissonMesh
from geomsci.pig.problems.registry import PROBLEMS, get_problem

__all__ = [
    "AllenCahn",
    "Constraint",
    "FlowMixing",
    "Helmholtz2D",
    "KleinGordon",
    "NonlinearDiffusion",
    "PoissonMesh",
    "PROBLEMS",
    "Problem",
    "get_problem",
]
