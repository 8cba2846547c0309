"""Application 1: fit a mesh to a target through a neural SDF, changing topology on the way
(formerly ``deepmesh.topology``; the metrics are in ``deepmesh.evaluation``).

A mesh optimized directly keeps its genus; an SDF network whose surface is extracted at each step
(``extract_surface``) does not: the DeepMesh backward moves the surface, and the network is free
to open a hole or split a component.  Each step::

    M = marching_cubes(s_theta)                       # explicit mesh, differentiable via dv/ds
    X, N = area-uniform samples of M with normals
    L = Chamfer(X, Y) + w_n * normal_loss(N, N_Y) + w_eik * eikonal(s_theta)

against samples Y (normals N_Y) of the target surface.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from geomsci.core.mesh import Mesh
from geomsci.core.metrics import chamfer_distance
from geomsci.core.sampling import sample_points

from ._surface_loop import extract_nonempty, loop_setup, uniform_in_box
from .sdf_net import eikonal_loss


def fit_to_target(
    net: torch.nn.Module,
    target: Mesh,
    *,
    bounds=1.0,
    resolution: int = 39,
    steps: int = 200,
    n_points: int = 4000,
    lr: float = 1e-3,
    normal_weight: float = 0.01,
    eikonal_weight: float = 0.02,
    seed: int = 0,
    progress: bool = False,
    callback=None,
) -> list[dict]:
    """Optimize ``net`` (an SDF network) so that its extracted surface matches ``target``.

    Parameters
    ----------
    net : module (P, 3) -> (P,), negative inside; trained in place
    target : Mesh, closed triangle surface
    bounds, resolution : extraction lattice (see ``extract_surface``)
    steps : Adam steps; n_points : samples per surface per step
    normal_weight, eikonal_weight : weights of the normal term and of mean (|grad s| - 1)^2

    Returns
    -------
    history : list of dicts (step, loss, chamfer, n_faces) per step
    """
    p0, g, lo, hi = loop_setup(net, bounds, seed)
    tgt_pts = target.points.detach().to(p0)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for step in tqdm(range(steps), desc="fit_to_target", disable=not progress, leave=False):
        mesh = extract_nonempty(net, bounds, resolution, "fit_to_target", step, hint="; lower the learning rate")
        x, nx = sample_points(mesh.points, mesh.cells, n_points, generator=g, return_normals=True)
        y, ny = sample_points(tgt_pts, target.cells, n_points, generator=g, return_normals=True)
        cd, nl = chamfer_distance(x, y, x_normals=nx, y_normals=ny)
        uni = uniform_in_box(lo, hi, n_points // 2, g)
        loss = cd + normal_weight * nl + eikonal_weight * eikonal_loss(net, uni)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({"step": step, "loss": float(loss.detach()), "chamfer": float(cd.detach()), "n_faces": mesh.n_cells})
        if callback is not None:
            callback(step, mesh)
    return history
