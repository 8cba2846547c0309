"""Riemannian geometric features (metric, Christoffel symbols, curvatures) at every surface point.

Three ways to get the derivatives of a parametrization x(u, v), one formula for the rest
(:func:`geomsci.wing.fundamental_forms.fundamental_forms`):

- a parametric surface given as a torch function: exact derivatives by autograd;
- a structured grid X[i, j] (u along the chord, v along the span): fourth-order finite differences;
- an unstructured triangle mesh: a local least-squares quadratic fit over each vertex's 2-ring,
  in the vertex's tangent frame (curvatures) and, when the mesh carries a ``"uv"`` point field, in
  parameter space (metric and Christoffel symbols, which depend on the chart).

All return a :class:`~geomsci.core.mesh.Mesh` whose ``point_data`` holds the named fields of
:data:`~geomsci.wing.fundamental_forms.FEATURE_GROUPS` (each (N,)) and ``"normal"`` (N, 3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from geomsci.core.geometry import vertex_normals
from geomsci.core.mesh import Mesh
from geomsci.wing.finite_diff import grid_derivatives
from geomsci.wing.fundamental_forms import FEATURE_GROUPS, fundamental_forms


def parametric_features(fn: Callable[[torch.Tensor], torch.Tensor], uv: torch.Tensor, create_graph: bool = False) -> Mesh:
    """Features of x = fn(uv) at parameter points ``uv`` (N, 2), by autograd.

    ``fn`` must act point-wise: row k of fn(uv) (N, 3) depends on row k of uv only (the derivative
    of the sum over rows is then the per-row derivative). Returns a point-set Mesh at fn(uv).
    ``create_graph=True`` keeps the graph so the features can be differentiated further.
    """
    if not isinstance(uv, torch.Tensor) or not uv.is_floating_point():
        what = uv.dtype if isinstance(uv, torch.Tensor) else type(uv).__name__
        raise TypeError(
            f"parametric_features: uv must be a floating-point torch tensor (N, 2), got {what}; "
            "use torch.as_tensor(uv, dtype=torch.float64)"
        )
    if uv.dim() != 2 or uv.shape[1] != 2:
        raise ValueError(f"parametric_features: uv must have shape (N, 2), got {tuple(uv.shape)}")
    uv = uv.detach().requires_grad_(True)

    def d(y: torch.Tensor, keep: bool) -> torch.Tensor:  # (N,) -> (N, 2); zero where y is constant
        if not y.requires_grad:
            return torch.zeros_like(uv)
        return torch.autograd.grad(y.sum(), uv, create_graph=keep, retain_graph=True, materialize_grads=True)[0]

    with torch.enable_grad():
        x = fn(uv)  # (N, 3)
        if x.shape != (uv.shape[0], 3):
            raise ValueError(f"parametric_features: fn(uv) must return shape ({uv.shape[0]}, 3), got {tuple(x.shape)}")
        J = torch.stack([d(x[:, c], True) for c in range(3)], 1)  # (N, 3, 2): J[:, c, :] = d x_c / d(u, v)
        xu, xv = J[..., 0], J[..., 1]
        Hu = torch.stack([d(xu[:, c], create_graph) for c in range(3)], 1)  # (N, 3, 2) = d x_u / d(u, v)
        xvv = torch.stack([d(xv[:, c], create_graph)[:, 1] for c in range(3)], 1)  # (N, 3)
    xuu, xuv = Hu[..., 0], Hu[..., 1]
    if not create_graph:
        x, xu, xv = x.detach(), xu.detach(), xv.detach()
    feats = fundamental_forms(xu, xv, xuu, xuv, xvv)
    return Mesh(x, point_data=feats)


def grid_to_mesh(X: torch.Tensor, periodic_u: bool = False, periodic_v: bool = False) -> Mesh:
    """Triangulate a structured grid X (nu, nv, 3) into a Mesh (points in row-major (i, j) order).

    Adds the point fields ``"ij"`` (N, 2) long (grid indices) and ``"uv"`` (N, 2) (i / (nu - 1),
    j / (nv - 1), or i / nu on a periodic axis).
    """
    if X.dim() != 3 or X.shape[-1] != 3:
        raise ValueError(f"grid_to_mesh: X must have shape (nu, nv, 3), got {tuple(X.shape)}")
    nu, nv = X.shape[:2]
    idx = torch.arange(nu * nv, device=X.device).reshape(nu, nv)
    if periodic_u:
        idx = torch.cat([idx, idx[:1]], 0)
    if periodic_v:
        idx = torch.cat([idx, idx[:, :1]], 1)
    a, b = idx[:-1, :-1], idx[1:, :-1]  # quad corners (i,j), (i+1,j), (i+1,j+1), (i,j+1)
    c, d = idx[1:, 1:], idx[:-1, 1:]
    faces = torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([a, c, d], -1).reshape(-1, 3)], 0)
    ii, jj = torch.meshgrid(torch.arange(nu, device=X.device), torch.arange(nv, device=X.device), indexing="ij")
    ij = torch.stack([ii, jj], -1).reshape(-1, 2)
    uv = torch.stack([ii / (nu if periodic_u else nu - 1), jj / (nv if periodic_v else nv - 1)], -1).reshape(-1, 2)
    return Mesh(X.reshape(-1, 3), faces, "triangle", point_data={"ij": ij, "uv": uv.to(X.dtype)})


def grid_features(
    X: torch.Tensor, periodic_u: bool = False, periodic_v: bool = False, du: float | None = None, dv: float | None = None
) -> Mesh:
    """Features of a structured surface grid X (nu, nv, 3) by fourth-order finite differences.

    The parameter spacings default to the ``"uv"`` convention of :func:`grid_to_mesh` (u, v in
    [0, 1]). Returns the triangulated grid (:func:`grid_to_mesh`) with the feature fields.
    Differentiable in X.
    """
    if X.dim() != 3 or X.shape[-1] != 3:
        raise ValueError(f"grid_features: X must have shape (nu, nv, 3), got {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"grid_features: X must be a floating-point tensor, got {X.dtype}; use X.double()")
    nu, nv = X.shape[:2]
    du = du if du is not None else 1.0 / (nu if periodic_u else nu - 1)
    dv = dv if dv is not None else 1.0 / (nv if periodic_v else nv - 1)
    derivs = [d.reshape(-1, 3) for d in grid_derivatives(X, du, dv, periodic_u, periodic_v)]
    mesh = grid_to_mesh(X, periodic_u, periodic_v)
    for k, v in fundamental_forms(*derivs).items():
        mesh.set_point_field(k, v)
    return mesh


# -- unstructured meshes -------------------------------------------------------------------------


def _neighbourhoods(faces: torch.Tensor, n_points: int, rings: int, min_count: int) -> torch.Tensor:
    """(N, Kmax) long indices of each vertex's k-ring (vertex excluded), padded with -1.

    A vertex whose ``rings``-ring has fewer than ``min_count`` vertices (a corner of an open patch)
    gets the smallest larger ring that has enough, up to ``rings + 3``.
    """
    import scipy.sparse as sp

    f = faces.detach().cpu().numpy()
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_points, n_points))
    A.data[:] = 1.0
    eye = sp.identity(n_points, format="csr")
    R = A.copy()
    for _ in range(rings - 1):
        R = R + R @ A
    chosen = None
    for _ in range(4):
        Rk = (R - R.multiply(eye)).tocsr()
        Rk.data[:] = 1.0
        Rk.eliminate_zeros()
        counts = np.diff(Rk.indptr)
        if chosen is None:
            chosen = Rk
        else:  # replace the rows that are still too small
            small = np.diff(chosen.indptr) < min_count
            keep = sp.diags((~small).astype(float))
            chosen = (keep @ chosen + sp.diags(small.astype(float)) @ Rk).tocsr()
            chosen.eliminate_zeros()
        if np.diff(chosen.indptr).min() >= min_count:
            break
        R = R + R @ A
    counts = np.diff(chosen.indptr)
    kmax = int(counts.max()) if n_points else 0
    out = np.full((n_points, kmax), -1, dtype=np.int64)
    pos = np.arange(chosen.nnz) - np.repeat(chosen.indptr[:-1], counts)
    out[np.repeat(np.arange(n_points), counts), pos] = chosen.indices
    return torch.as_tensor(out, device=faces.device)


def _poly_basis(a: torch.Tensor, b: torch.Tensor, degree: int) -> torch.Tensor:
    """Monomials 1, a, b, a^2, ab, b^2 [, cubic [, quartic]] stacked on a new last axis."""
    cols = [torch.ones_like(a), a, b, a * a, a * b, b * b]
    if degree >= 3:
        cols += [a * a * a, a * a * b, a * b * b, b * b * b]
    if degree >= 4:
        cols += [a**4, a**3 * b, a * a * b * b, a * b**3, b**4]
    return torch.stack(cols, -1)


def mesh_features(mesh: Mesh, rings: int = 2, degree: int = 3) -> Mesh:
    """Features of a triangle mesh by local polynomial fits over each vertex's ``rings``-ring.

    Curvatures: in the tangent frame (t1, t2, n) of vertex p (n the area-weighted vertex normal), the
    neighbours q give heights h = (q - p).n over tangent coordinates (a, b) = ((q - p).t1, (q - p).t2);
    the weighted least-squares fit h = c0 + c1 a + c2 b + c3 a^2 + c4 a b + c5 b^2 (+ cubic terms
    for ``degree=3``, the default, error O(h^2) instead of O(h); + quartic terms for ``degree=4``,
    which needs 15 neighbours and is O(h^4) on near-isotropic meshes such as icospheres, but less
    robust on stretched ones) is the Monge patch
    x(a, b) = p + a t1 + b t2 + h(a, b) n, whose derivatives at (0, 0) feed
    :func:`fundamental_forms` (K and H are chart-independent). The normal orientation follows
    the mesh's face winding.

    Metric and Christoffel symbols depend on the chart, so they are returned only when the mesh has
    a ``"uv"`` point field (N, 2): then each coordinate of x is fitted as a polynomial of the same
    degree in (u - u_p, v - v_p) over the same neighbourhood (unweighted), and all fields come from that fit.
    Vertices whose ring is too small for the fit (corners of open patches) use a wider ring.
    """
    if mesh.cell_type != "triangle" or mesh.dim != 3:
        raise ValueError(f"mesh_features: needs a 3-D triangle mesh, got cell_type={mesh.cell_type!r}, dim={mesh.dim}")
    if degree not in (2, 3, 4):
        raise ValueError(f"mesh_features: degree must be 2, 3 or 4, got {degree}")
    if rings < 1:
        raise ValueError(f"mesh_features: rings must be >= 1, got {rings}")
    P, faces = mesh.points, mesh.faces
    need = {2: 6, 3: 10, 4: 15}[degree]
    with torch.no_grad():
        nbr = _neighbourhoods(faces, mesh.n_points, rings, need + 2)  # (N, K)
    mask = (nbr >= 0).to(P.dtype)  # (N, K)
    if int(mask.sum(1).min()) < need:
        raise ValueError(
            f"mesh_features: some vertex has fewer than {need} neighbours for a degree-{degree} fit; "
            "increase rings or use degree=2"
        )
    Q = P[nbr.clamp_min(0)] - P.unsqueeze(1)  # (N, K, 3)
    scale = ((Q.norm(dim=-1) * mask).sum(1) / mask.sum(1)).clamp_min(1e-300)  # (N,) mean distance
    Q = Q / scale[:, None, None]
    n = vertex_normals(P, faces)  # (N, 3) area-weighted
    helper = torch.where(
        (n[:, :1].abs() < 0.9),
        torch.tensor([1.0, 0, 0], dtype=P.dtype, device=P.device),
        torch.tensor([0, 1.0, 0], dtype=P.dtype, device=P.device),
    )
    t1 = torch.linalg.cross(n, helper, dim=-1)
    t1 = t1 / t1.norm(dim=-1, keepdim=True)
    t2 = torch.linalg.cross(n, t1, dim=-1)  # (t1, t2, n) right-handed
    a, b, h = (Q * t1[:, None]).sum(-1), (Q * t2[:, None]).sum(-1), (Q * n[:, None]).sum(-1)
    # Gaussian weights w = exp(-4 d^2 / s^2) (s: mean neighbour distance) favour the nearer ring;
    # sw = sqrt(w) scales the rows of the least-squares system.
    sw = mask * torch.exp(-2.0 * (a * a + b * b))  # (N, K)
    A = _poly_basis(a, b, degree) * sw.unsqueeze(-1)  # (N, K, 6 or 10)
    c = torch.linalg.solve(A.transpose(1, 2) @ A, A.transpose(1, 2) @ (h * sw).unsqueeze(-1))[..., 0]  # (N, 6|10)
    zero, one = torch.zeros_like(c[:, 0]), torch.ones_like(c[:, 0])
    # Monge patch derivatives at the vertex, in units of `scale`; curvatures scale as 1/scale.
    ff = fundamental_forms(
        torch.stack([one, zero, c[:, 1]], -1),
        torch.stack([zero, one, c[:, 2]], -1),
        torch.stack([zero, zero, 2 * c[:, 3]], -1),
        torch.stack([zero, zero, c[:, 4]], -1),
        torch.stack([zero, zero, 2 * c[:, 5]], -1),
    )
    out = Mesh(P, faces, "triangle", dict(mesh.point_data), dict(mesh.cell_data))
    out.set_point_field("K", ff["K"] / scale**2)
    out.set_point_field("H", ff["H"] / scale)
    out.set_point_field("k1", ff["k1"] / scale)
    out.set_point_field("k2", ff["k2"] / scale)
    out.set_point_field("normal", n)
    if "uv" in mesh.point_data:
        uv = mesh.point_data["uv"].to(P.dtype)
        duv = uv[nbr.clamp_min(0)] - uv.unsqueeze(1)  # (N, K, 2)
        s = ((duv.norm(dim=-1) * mask).sum(1) / mask.sum(1)).clamp_min(1e-300)  # (N,)
        du, dv = duv[..., 0] / s[:, None], duv[..., 1] / s[:, None]
        B = _poly_basis(du, dv, degree) * mask.unsqueeze(-1)  # (N, K, 6 or 10)
        X = (P[nbr.clamp_min(0)] - P.unsqueeze(1)) * mask.unsqueeze(-1)  # (N, K, 3)
        cx = torch.linalg.solve(B.transpose(1, 2) @ B, B.transpose(1, 2) @ X)  # (N, 6, 3)
        s1, s2 = s[:, None], (s * s)[:, None]
        uvf = fundamental_forms(cx[:, 1] / s1, cx[:, 2] / s1, 2 * cx[:, 3] / s2, cx[:, 4] / s2, 2 * cx[:, 5] / s2)
        for name in FEATURE_GROUPS["metric"] + FEATURE_GROUPS["christoffel"]:
            out.set_point_field(name, uvf[name])
    return out


def riemannian_features(
    surface, uv: torch.Tensor | None = None, *, periodic_u: bool = False, periodic_v: bool = False, rings: int = 2
) -> Mesh:
    """Metric, Christoffel symbols and curvatures at every point of a surface, as Mesh point fields.

    Parameters
    ----------
    surface : callable, tensor (nu, nv, 3) or Mesh
        - callable ``fn(uv (N, 2)) -> (N, 3)`` with ``uv`` given: autograd (exact);
        - structured grid (u along the chord, v along the span): fourth-order finite differences,
          ``periodic_u`` / ``periodic_v`` wrap an axis;
        - triangle Mesh: if it has an ``"ij"`` point field (a grid from :func:`grid_to_mesh` or
          :func:`geomsci.wing.wing_mesh`) it is reshaped to its grid and differenced; otherwise
          local quadratic fits over ``rings``-rings (:func:`mesh_features`).

    Returns
    -------
    Mesh with point fields E, F, G, det_g, g11_inv, g12_inv, g22_inv (metric), Gamma1_11, Gamma1_12,
    Gamma1_22, Gamma2_11, Gamma2_12, Gamma2_22 (Christoffel symbols of the second kind), K, H, k1, k2
    (curvatures) and normal (N, 3); see :mod:`geomsci.wing.fundamental_forms` for the formulas.
    """
    if callable(surface) and not isinstance(surface, (Mesh, torch.Tensor)):
        if uv is None:
            raise ValueError("riemannian_features: a parametric surface needs uv (N, 2) parameter points")
        return parametric_features(surface, uv)
    if isinstance(surface, torch.Tensor):
        return grid_features(surface, periodic_u, periodic_v)
    if isinstance(surface, Mesh):
        if "ij" in surface.point_data:
            ij = surface.point_data["ij"]
            nu, nv = int(ij[:, 0].max()) + 1, int(ij[:, 1].max()) + 1
            flat = ij[:, 0] * nv + ij[:, 1]
            if surface.n_points != nu * nv or not torch.equal(flat, torch.arange(nu * nv, device=flat.device)):
                raise ValueError("riemannian_features: the mesh's 'ij' field is not a full row-major grid")
            feats = grid_features(surface.points.reshape(nu, nv, 3), periodic_u, periodic_v)
            out = Mesh(surface.points, surface.cells, surface.cell_type, dict(surface.point_data), dict(surface.cell_data))
            for k in sum(FEATURE_GROUPS.values(), []) + ["normal"]:
                out.set_point_field(k, feats.point_data[k])
            return out
        return mesh_features(surface, rings)
    raise ValueError(
        f"riemannian_features: surface must be a callable, a (nu, nv, 3) tensor or a Mesh, got {type(surface).__name__}"
    )
