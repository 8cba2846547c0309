"""Plane-strain linear elasticity on a labelled 2-D plate, solved with scikit-fem (P1 triangles).

    find u in V = {v in H^1(Omega)^2 : v = 0 on Gamma_bottom} such that for all v in V
        int_Omega  sigma(u) : eps(v) dx  =  int_Gamma_top  p n . v ds,
    sigma = lambda tr(eps) I + 2 mu eps,  lambda = E nu / ((1 + nu)(1 - 2 nu)),  mu = E / (2 (1 + nu)).

The top edge is pulled by a traction of magnitude ``p`` along its outward normal (a tensile test);
the bottom edge is clamped. In plane strain sigma_zz = nu (sigma_xx + sigma_yy), which enters the
von Mises stress
    vm = sqrt( ((sxx - syy)^2 + (syy - szz)^2 + (szz - sxx)^2) / 2 + 3 sxy^2 ).
Stresses are constant per triangle (P1) and averaged onto nodes with area weights.
"""

from __future__ import annotations

import numpy as np


def solve_plate(
    points: np.ndarray, faces: np.ndarray, labels: np.ndarray, pressure: float, young: float, poisson: float
) -> dict[str, np.ndarray]:
    """Displacement and von Mises stress of a clamped plate pulled on top.

    Parameters
    ----------
    points : (N, 2) node coordinates (length unit L)
    faces : (F, 3) counter-clockwise triangles
    labels : (N,) 1 = clamped node, 2 = loaded-edge node (an edge is loaded when both ends are 2)
    pressure : traction magnitude p (stress unit S), positive pulls outward
    young : Young's modulus E (stress unit S); poisson : Poisson ratio nu in (0, 0.5)

    Returns
    -------
    dict with ``u1``, ``u2`` (N,) displacements (unit L) and ``von_mises`` (N,) (unit S).
    """
    from skfem import Basis, ElementTriP1, ElementVector, FacetBasis, LinearForm, MeshTri, asm, condense, solve
    from skfem.helpers import dot
    from skfem.models.elasticity import lame_parameters, linear_elasticity

    if not 0.0 < poisson < 0.5:
        raise ValueError(f"solve_plate: poisson must lie in (0, 0.5), got {poisson}")
    if not young > 0:
        raise ValueError(f"solve_plate: young must be positive, got {young}")
    mesh = MeshTri(np.ascontiguousarray(points.T, dtype=float), np.ascontiguousarray(faces.T))
    element = ElementVector(ElementTriP1())
    basis = Basis(mesh, element)
    lam, mu = lame_parameters(young, poisson)
    K = asm(linear_elasticity(lam, mu), basis)
    f2n = mesh.facets  # (2, n_facets)
    top = np.nonzero((labels[f2n[0]] == 2) & (labels[f2n[1]] == 2) & (mesh.f2t[1] == -1))[0]

    @LinearForm
    def traction(v, w):
        return pressure * dot(w.n, v)

    f = asm(traction, FacetBasis(mesh, element, facets=top))
    clamped = np.nonzero(labels == 1)[0]
    dofs = basis.nodal_dofs[:, clamped].ravel()  # both components of every clamped node
    u = solve(*condense(K, f, D=dofs))
    u1, u2 = u[basis.nodal_dofs[0]], u[basis.nodal_dofs[1]]

    # Constant strain per triangle from the P1 shape-function gradients.
    p = points[faces]  # (F, 3, 2)
    d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]  # (F,) twice the signed area
    # gradients of the barycentric coordinates lambda_1, lambda_2 (lambda_0 = 1 - l1 - l2)
    g1 = np.stack([d2[:, 1], -d2[:, 0]], 1) / det[:, None]
    g2 = np.stack([-d1[:, 1], d1[:, 0]], 1) / det[:, None]
    g0 = -g1 - g2
    grads = np.stack([g0, g1, g2], 1)  # (F, 3, 2)
    du1 = (u1[faces][..., None] * grads).sum(1)  # (F, 2): d u1/dx, d u1/dy
    du2 = (u2[faces][..., None] * grads).sum(1)
    exx, eyy, exy = du1[:, 0], du2[:, 1], 0.5 * (du1[:, 1] + du2[:, 0])
    sxx = lam * (exx + eyy) + 2 * mu * exx
    syy = lam * (exx + eyy) + 2 * mu * eyy
    sxy = 2 * mu * exy
    szz = poisson * (sxx + syy)
    vm_cell = np.sqrt(0.5 * ((sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2) + 3 * sxy**2)
    area = 0.5 * np.abs(det)
    num = np.zeros(len(points))
    den = np.zeros(len(points))
    for i in range(3):
        np.add.at(num, faces[:, i], area * vm_cell)
        np.add.at(den, faces[:, i], area)
    return {"u1": u1, "u2": u2, "von_mises": num / den}
