"""Poisson on an unstructured 2-D domain given as a triangle `Mesh`: -lap u = f in the domain,
u = g on every boundary edge (outer boundary and holes). Collocation points are drawn uniformly
by area inside the triangles, boundary points uniformly by length on the boundary edges, and the
reference is scikit-fem's P2 solution on the mesh refined twice (``reference.poisson_p2``)."""

from __future__ import annotations

from functools import cached_property

import torch

from geomsci.core.geometry import boundary_edges
from geomsci.core.mesh import Mesh
from geomsci.pig.problems.base import Constraint, Problem, generator_device, on_device
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
            raise TypeError(
                f"PoissonMesh: mesh must be a geomsci Mesh (load a file with geomsci.load(path)), got {type(mesh).__name__}"
            )
        if mesh.cell_type != "triangle" or mesh.dim != 2:
            raise ValueError(f"PoissonMesh: mesh must be a 2-D triangle mesh, got {mesh!r}")
        self.mesh = mesh.to(dtype=torch.float64)
        self.f = f if f is not None else (lambda x: torch.ones(x.shape[0], dtype=x.dtype, device=x.device))
        self.g = g if g is not None else (lambda x: torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
        self.refine, self.boundary_weight = refine, float(boundary_weight)
        p = self.mesh.points
        self.bounds = torch.stack([p.min(0).values, p.max(0).values])
        self.edges = boundary_edges(self.mesh.cells)  # (B, 2)
        cells = self.mesh.cells
        a, b, c = p[cells[:, 0]], p[cells[:, 1]], p[cells[:, 2]]  # (F, 2)
        area = ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]).abs()  # (F,) twice the area
        length = (p[self.edges[:, 1]] - p[self.edges[:, 0]]).norm(dim=1)  # (B,)
        if not (float(area.sum()) > 0 and float(length.sum()) > 0):
            raise ValueError(
                f"PoissonMesh: the mesh has zero area or no boundary (area {float(area.sum())}, "
                f"boundary length {float(length.sum())})"
            )
        # cumulative distributions for inverse-CDF sampling (fixed shapes, no host sync: capturable)
        self._face_cdf = torch.cumsum(area, 0) / area.sum()  # (F,)
        self._edge_cdf = torch.cumsum(length, 0) / length.sum()  # (B,)

    @cached_property
    def _reference(self):
        as_np = lambda fn: lambda xs: fn(torch.as_tensor(xs)).numpy()
        return poisson_p2(self.mesh, as_np(self.f), as_np(self.g), refine=self.refine)

    def residual(self, jet, x):
        return jet.dd(0) + jet.dd(1) + self.f(x)

    def sample_interior(self, n, generator=None):
        """(n, 2) points uniform by area: a triangle by inverse CDF, then uniform barycentrics
        (square-root warp), on the generator's device."""
        device = generator_device(generator)
        pts, cells, cdf = (on_device(t, device) for t in (self.mesh.points, self.mesh.cells, self._face_cdf))
        u = torch.rand(n, 3, generator=generator, dtype=pts.dtype, device=device)
        f = torch.searchsorted(cdf, u[:, 0].contiguous()).clamp(max=cdf.shape[0] - 1)  # (n,)
        s = u[:, 1:2].sqrt()
        w1, w2 = s * (1 - u[:, 2:3]), s * u[:, 2:3]  # (n, 1) weights of the 2nd and 3rd vertex
        a, b, c = pts[cells[f, 0]], pts[cells[f, 1]], pts[cells[f, 2]]
        return a + w1 * (b - a) + w2 * (c - a)

    def sample_boundary(self, n, generator=None):
        """(n, 2) points uniform by length on the boundary edges, on the generator's device."""
        device = generator_device(generator)
        pts, edges, cdf = (on_device(t, device) for t in (self.mesh.points, self.edges, self._edge_cdf))
        u = torch.rand(n, 2, generator=generator, dtype=pts.dtype, device=device)
        e = torch.searchsorted(cdf, u[:, 0].contiguous()).clamp(max=cdf.shape[0] - 1)  # (n,)
        a, b = pts[edges[e, 0]], pts[edges[e, 1]]
        return a + u[:, 1:2] * (b - a)

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
