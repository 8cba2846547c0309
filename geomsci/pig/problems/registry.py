"""Problems by name, for the CLI and the benchmark."""

from __future__ import annotations

from geomsci.pig.problems.allen_cahn import AllenCahn
from geomsci.pig.problems.diffusion import NonlinearDiffusion
from geomsci.pig.problems.flow_mixing import FlowMixing
from geomsci.pig.problems.helmholtz import Helmholtz2D
from geomsci.pig.problems.klein_gordon import KleinGordon
from geomsci.pig.problems.poisson_mesh import PoissonMesh

PROBLEMS = {
    "helmholtz": lambda: Helmholtz2D(1, 4),
    "helmholtz_high": lambda: Helmholtz2D(10, 10),
    "klein_gordon": KleinGordon,
    "flow_mixing": FlowMixing,
    "diffusion": NonlinearDiffusion,
    "allen_cahn": AllenCahn,
    "poisson_mesh": PoissonMesh,
}


def get_problem(name: str):
    """A fresh problem instance by name (see ``PROBLEMS``)."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {sorted(PROBLEMS)}")
    return PROBLEMS[name]()
