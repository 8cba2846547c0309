"""Poisson on an unstructured 2-D domain given as a triangle `Mesh`: -lap u = f in the domain,
u = g on every boundary edge (outer boundary and holes). Collocation points are drawn uniformly
by area inside the triangles, boundary points uniformly by length on the boundary edges, and the
reference is scikit-fem's P2 solution on the mesh refined twice (``reference.poisson_p2``)."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import torch

from geomsci.core.geometry import boundary_edges
from geomsci.core.mesh import Mesh
from geomsci.core.sampling import sample_points
from geomsci.pig.problems.base import Constraint, Problem
from geomsci.pig.reference.poisson import plate_with_holes, poisson_p2


class PoissonMesh(Problem):
    """Poisson on ``mesh`` (default: a plate with two holes, ``plate_with_holes(h=0.05)``).

    The holes of the plate are inscribed polygons, so the default load case has corner
    singularities at their vertices (u ~ r^(pi/alpha), interior angle alpha = 180 + 360/m degrees
    for an m-gon). With h = 0.1 (19- and 16-gons, alpha ~ 199 and 203 degrees) the zero level set
    of u has visible kinks that smooth Gaussians cannot follow and PIG stalls near rel. L2 3e-3;
    with h = 0.05 (38- and 32-gons, alpha ~ 190 degrees) the kinks are four times shallower.

    f, g : callables on (P, 2) float64 tensors -> (P,); default f = 1, g = 0.
    boundary_weight : weight of the boundary term. The boundary error bounds the interior error
        (maximum principle), so it is weighted well above the PDE term.
    """

    name = "poisson_mesh"
    order = 2
    second_dims = (0, 1)
    residual_scale = 10.0  # |lap u| / |u| ~ 10 on the default plate: balances the PDE and boundary terms

    def __init__(self, mesh: Mesh | None = None, f=None, g=None, refine: int = 2, boundary_weight: float = 100.0):
        mesh = plate_with_holes(0.05) if mesh is None else mesh
        if not isinstance(mesh, Mesh):
            raise TypeError(f"PoissonMesh: mesh must be a geomsci Mesh (load a file with geomsci.load(path)), "
                            f"got {type(mesh).__name__}")
        if mesh.cell_type != "triangle" or mesh.dim != 2:
            raise ValueError(f"PoissonMesh: mesh must be a 2-D triangle mesh, got {mesh!r}")
        self.mesh = mesh.to(dtype=torch.float64)
        self.f = f if f is not None else (lambda x: torch.ones(x.shape[0], dtype=x.dtype, device=x.device))
        self.g = g if g is not None else (lambda x: torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
        self.refine, self.boundary_weight = refine, float(boundary_weight)
        p = self.mesh.points
        self.bounds = torch.stack([p.min(0).values, p.max(0).values])
        self.edges = boundary_edges(self.mesh.cells)  # (B, 2)

    @cached_property
    def _reference(self):
        as_np = lambda fn: (lambda xs: fn(torch.as_tensor(xs)).numpy())
        return poisson_p2(self.mesh, as_np(self.f), as_np(self.g), refine=self.refine)

    def residual(self, jet, x):
        return jet.dd(0) + jet.dd(1) + self.f(x)

    def sample_interior(self, n, generator=None):
        return sample_points(self.mesh.points, self.mesh.cells, n, generator=generator)

    def sample_boundary(self, n, generator=None):
        a, b = self.mesh.points[self.edges[:, 0]], self.mesh.points[self.edges[:, 1]]  # (B, 2)
        length = (b - a).norm(dim=1)
        e = torch.multinomial(length, n, replacement=True, generator=generator)
        s = torch.rand(n, 1, generator=generator, dtype=a.dtype)
        return a[e] + s * (b[e] - a[e])

    def constraints(self, n, generator=None):
        xb = self.sample_boundary(n, generator)
        return [Constraint(xb, self.g(xb), weight=self.boundary_weight, name="boundary")]

    def test_points(self):
        _, _, verts, u = self._reference
        return torch.as_tensor(verts), torch.as_tensor(u)

    def solution(self, x):
        basis, u, _, _ = self._reference
        return torch.as_tensor(basis.probes(x.detach().cpu().numpy().T) @ u, dtype=x.dtype, device=x.device)

    def reference_mesh(self) -> Mesh:
        """The refined mesh the reference lives on (its vertices are the test points)."""
        basis = self._reference[0]
        return Mesh(torch.as_tensor(basis.mesh.p.T.copy()), torch.as_tensor(basis.mesh.t.T.copy()), "triangle")
