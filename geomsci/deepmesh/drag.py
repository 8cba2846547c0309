r"""Application 3: minimize the drag of a body at fixed volume, drag computed on the explicit mesh.

Modified Newtonian impact theory (hypersonic flow; Lees 1955): a face whose outward normal n
meets the free stream u (unit vector) at an inclination theta, ``sin(theta) = -n . u > 0``, feels
the pressure coefficient ``Cp = Cp_max sin^2(theta)`` (Cp_max = 2 in the Newtonian limit); faces
in the shadow (n . u >= 0) feel Cp = 0.  The pressure force on a face is ``-q Cp A n``, so with the
dynamic pressure q = 1 the drag (force along u) is::

         .--> u          D = sum_f  Cp_f A_f (-n_f . u) = Cp_max sum_f A_f max(0, -n_f . u)^3
     ___/  n
    |   \_____           A sphere of radius R has D = Cp_max pi R^2 / 2 (C_D = 1 on its frontal area).

The shape is an SDF network, its surface extracted by ``extract_surface``; the loss
``D + w (V / V0 - 1)^2`` is minimized through the DeepMesh backward.  Drag at exactly equal volume
is reported by rescaling the final body by ``s = (V0 / V)^(1/3)`` (D scales as s^2).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from geomsci.core.geometry import face_areas, face_normals, signed_volume

from ._surface_loop import extract_nonempty, loop_setup, uniform_in_box
from .extract import extract_surface
from .sdf_net import eikonal_loss


def newtonian_drag(points: torch.Tensor, faces: torch.Tensor, flow=(1.0, 0.0, 0.0), cp_max: float = 2.0) -> torch.Tensor:
    """Modified-Newtonian drag ``Cp_max * sum_f A_f max(0, -n_f . u)^3`` (q = 1, area units).

    Parameters
    ----------
    points : (N, 3) float tensor; faces : (F, 3) long, oriented outward
    flow : free-stream direction (normalized here)
    cp_max : stagnation pressure coefficient (2 for the Newtonian limit)

    Returns
    -------
    0-d tensor, differentiable in ``points``.
    """
    if not isinstance(flow, torch.Tensor):  # a tuple: checked here, without touching the device
        f = torch.as_tensor(flow, dtype=torch.float64)
        if f.shape != (3,) or not bool(torch.isfinite(f).all()) or float(f.norm()) == 0.0:
            raise ValueError(f"newtonian_drag: flow must be a nonzero finite 3-vector, got {flow!r}")
    elif flow.shape != (3,):
        raise ValueError(f"newtonian_drag: flow must be a 3-vector, got shape {tuple(flow.shape)}")
    u = torch.as_tensor(flow, dtype=points.dtype, device=points.device)
    u = u / u.norm()
    n = face_normals(points, faces)  # (F, 3) unit
    sin_theta = (-(n @ u)).clamp_min(0.0)  # (F,) windward faces only
    return cp_max * (face_areas(points, faces) * sin_theta**3).sum()


def optimize_drag(
    net: torch.nn.Module,
    *,
    bounds=1.0,
    resolution: int = 39,
    steps: int = 150,
    lr: float = 1e-3,
    volume_weight: float = 20.0,
    eikonal_weight: float = 0.02,
    flow=(1.0, 0.0, 0.0),
    seed: int = 0,
    progress: bool = False,
    callback=None,
) -> dict:
    """Minimize ``newtonian_drag`` of ``net``'s surface while holding its initial volume.

    Returns
    -------
    dict with ``drag0``, ``volume0`` (initial), ``drag``, ``volume`` (final), ``drag_equal_volume``
    (final drag rescaled to volume0), ``reduction`` (1 - drag_equal_volume / drag0) and ``history``.
    """
    p0, g, lo, hi = loop_setup(net, bounds, seed)
    with torch.no_grad():
        m0 = extract_surface(net, bounds, resolution)
        drag0 = float(newtonian_drag(m0.points, m0.cells, flow))
        vol0 = float(signed_volume(m0.points, m0.cells))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for step in tqdm(range(steps), desc="optimize_drag", disable=not progress, leave=False):
        mesh = extract_nonempty(net, bounds, resolution, "optimize_drag", step, hint="; lower the learning rate")
        drag = newtonian_drag(mesh.points, mesh.cells, flow)
        vol = signed_volume(mesh.points, mesh.cells)
        uni = uniform_in_box(lo, hi, 2000, g)
        loss = drag / drag0 + volume_weight * (vol / vol0 - 1) ** 2 + eikonal_weight * eikonal_loss(net, uni)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({"step": step, "drag": float(drag.detach()), "volume": float(vol.detach())})
        if callback is not None:
            callback(step, mesh)
    with torch.no_grad():
        m1 = extract_surface(net, bounds, resolution)
        drag1 = float(newtonian_drag(m1.points, m1.cells, flow))
        vol1 = float(signed_volume(m1.points, m1.cells))
    d_eq = drag1 * (vol0 / vol1) ** (2.0 / 3.0)
    return {
        "drag0": drag0,
        "volume0": vol0,
        "drag": drag1,
        "volume": vol1,
        "drag_equal_volume": d_eq,
        "reduction": 1.0 - d_eq / drag0,
        "mesh0": m0,
        "mesh": m1,
        "history": history,
    }
