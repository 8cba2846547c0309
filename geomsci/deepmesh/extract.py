"""Surface extraction from a neural (or any callable) implicit field, with the DeepMesh backward.

Marching cubes on a sampled field is differentiable in the *grid values*, but for a field
``s_theta(x)`` (a network, an analytic shape with parameters, a latent-conditioned decoder) we want
gradients with respect to ``theta``.  DeepMesh / MeshSDF (Remelli et al. 2020, Guillard et al.)
get them without differentiating through the grid: a surface vertex ``v`` satisfies
``s_theta(v) = level``.  Perturbing the field by ``ds`` moves ``v`` to first order along the
gradient, ``s(v + dv) + ds = level``, whose smallest solution is::

    dv/ds = - grad s(v) / |grad s(v)|^2            (= -n for a true SDF, |grad s| = 1)

so for a loss L on the vertices::

    dL/dtheta = sum_v  (dL/dv . dv/ds)  ds(v)/dtheta.

Here ``v`` comes from marching cubes on values computed without a graph (in chunks, so memory is
bounded), then ``s(v)`` is evaluated once *with* a graph and a small autograd function routes
``w_v = dL/dv . dv/ds`` into ``s(v)``'s backward, reaching every parameter and latent code the
field closes over.  The general form matters for fields that are not distances (occupancy,
``sigmoid(sdf / eps)`` with level 0.5): there ``-n`` alone would have the wrong length.

Vertices where ``|grad s|`` vanishes or is not finite are *degenerate*: their ``dv/ds`` is set to
zero, and non-finite upstream gradients ``dL/dv`` are zeroed too; both are counted in ``info``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from geomsci.core.grid import Grid
from geomsci.core.isosurface import marching_cubes, parse_bounds, sample_field
from geomsci.core.mesh import Mesh


class _ImplicitVertices(torch.autograd.Function):
    """Identity on the (detached) vertices whose backward routes ``dL/dv . dv/ds`` into ``s(v)``."""

    @staticmethod
    def forward(ctx, v, s, dv_ds, info):  # v (V, 3) detached, s (V,) with graph, dv_ds (V, 3)
        ctx.save_for_backward(dv_ds)
        ctx.info = info
        return v.clone()

    @staticmethod
    def backward(ctx, grad_v):  # grad_v (V, 3) = dL/dv
        (dv_ds,) = ctx.saved_tensors
        bad = ~torch.isfinite(grad_v).all(dim=1)  # (V,)
        ctx.info["n_nonfinite_grad"] = int(bad.sum())
        grad_v = torch.where(bad.unsqueeze(1), torch.zeros_like(grad_v), grad_v)
        grad_s = (grad_v * dv_ds).sum(dim=1)  # (V,) = dL/dv . dv/ds
        return None, grad_s, None, None


def _bounds(bounds, dtype, device, who: str = "extract_surface") -> torch.Tensor:
    """(2, 3) bounds: ``geomsci.core.isosurface.parse_bounds`` (kept under this name for old imports)."""
    return parse_bounds(bounds, dtype, device, who)


def _field_dtype_device(field, dtype, device):
    if not callable(field):
        raise TypeError(
            f"extract_surface: field must be a callable (e.g. an nn.Module) mapping points (P, 3) to values (P,), "
            f"got {type(field).__name__}"
        )
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"extract_surface: dtype must be a floating torch.dtype (e.g. torch.float32), got {dtype!r}")
    if isinstance(field, torch.nn.Module):
        p = next(iter(field.parameters()), None)
        if p is None:
            p = next(iter(field.buffers()), None)
        if p is not None:
            dtype = dtype or (p.dtype if p.is_floating_point() else None)
            device = device or p.device
    return dtype or torch.get_default_dtype(), torch.device(device or "cpu")


def _sample_lattice(field, bounds, resolution, chunk_size, narrow_band, level, dtype, device, progress) -> Grid:
    """``sample_field`` on a resolved dtype/device (see ``_field_dtype_device``), errors named for extract_surface."""
    return sample_field(
        field,
        bounds,
        resolution,
        chunk_size=chunk_size,
        narrow_band=narrow_band,
        level=level,
        dtype=dtype,
        device=device,
        progress=progress,
        who="extract_surface",
    )


def sample_grid(
    field: Callable,
    bounds,
    resolution,
    *,
    chunk_size: int = 2**16,
    narrow_band: int | None = None,
    level: float = 0.0,
    dtype=None,
    device=None,
    progress: bool = False,
) -> torch.Tensor:
    """Values of ``field`` on the lattice of ``resolution`` **cells** per axis spanning ``bounds``, no graph.

    The values of ``geomsci.core.isosurface.sample_field`` (which returns a ``Grid`` with its origin
    and spacing; prefer it in new code): a tensor (nx + 1, ny + 1, nz + 1).  Arguments as there;
    dtype and device default to the field's parameters.  ``resolution`` counted lattice *nodes*
    before geomsci 0.2: pass ``nodes - 1`` for the lattice of an older call.
    """
    dtype, device = _field_dtype_device(field, dtype, device)
    return _sample_lattice(field, bounds, resolution, chunk_size, narrow_band, level, dtype, device, progress).values


def extract_surface(
    field: Callable,
    bounds,
    resolution,
    level: float = 0.0,
    *,
    chunk_size: int = 2**16,
    narrow_band: int | None = None,
    dtype=None,
    device=None,
    return_info: bool = False,
    progress: bool = False,
):
    """Iso-surface of a callable field, differentiable in the field's parameters (DeepMesh).

    Parameters
    ----------
    field : callable or nn.Module, points (P, 3) -> values (P,)
        Negative inside for outward faces (see ``marching_cubes``).  Parameters and any tensors it
        closes over (e.g. a latent code) receive gradients.
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)) or a half-width b for [-b, b]^3
    resolution : int or 3 ints, **cells** per axis: the lattice has resolution + 1 nodes per axis
        (the convention of ``geomsci.core.isosurface``, ``tet_grid`` and ``gshell``).  Until geomsci
        0.2 it counted nodes: pass ``nodes - 1`` to reproduce an older call exactly.
    level : float, iso-value
    chunk_size : int, points per field evaluation on the grid
    narrow_band : int, optional, coarse-to-fine factor (see ``sample_grid``)
    dtype, device : default to the field's parameters, else float32 / CPU
    return_info : bool, also return a diagnostics dict
    progress : bool, show a tqdm bar over the grid chunks

    Returns
    -------
    mesh : Mesh
        ``points`` (V, 3) equal to marching-cubes vertices; when grad is enabled, gradients of any
        loss on them flow to the field via ``dv/ds = -grad s / |grad s|^2``.
    info : dict (only with ``return_info``)
        ``values`` (X, Y, Z) grid values, ``grid`` the same as a ``Grid``; ``n_degenerate``: vertices with vanishing or non-finite
        ``grad s`` (their ``dv/ds`` set to 0); ``n_nonfinite_grad``: vertices whose upstream
        gradient was NaN/inf and was zeroed (filled in during ``backward``); ``dv_ds`` (V, 3).
    """
    dtype, device = _field_dtype_device(field, dtype, device)
    grid = _sample_lattice(field, bounds, resolution, chunk_size, narrow_band, level, dtype, device, progress)
    mesh = marching_cubes(grid, level)
    v = mesh.points.detach()  # (V, 3)
    info = {"values": grid.values, "grid": grid, "n_degenerate": 0, "n_nonfinite_grad": 0, "dv_ds": None}
    if torch.is_grad_enabled() and v.shape[0] > 0:
        with torch.enable_grad():
            x = v.clone().requires_grad_(True)
            s = field(x).reshape(-1)  # (V,) with a graph to the field's parameters
            if not s.requires_grad:  # nothing to differentiate (no parameters, no latent)
                return (mesh, info) if return_info else mesh
            (g,) = torch.autograd.grad(s.sum(), x, retain_graph=True)  # (V, 3) grad s at v
        g2 = (g * g).sum(dim=1, keepdim=True)  # (V, 1)
        tiny = torch.finfo(dtype).eps ** 2
        degenerate = ~(torch.isfinite(g).all(dim=1, keepdim=True) & (g2 > tiny))  # (V, 1)
        dv_ds = torch.where(degenerate, torch.zeros_like(g), -g / torch.where(degenerate, torch.ones_like(g2), g2))
        info["n_degenerate"] = int(degenerate.sum())
        info["dv_ds"] = dv_ds
        points = _ImplicitVertices.apply(v, s, dv_ds.detach(), info)
        mesh = Mesh(points, mesh.cells, "triangle")
    return (mesh, info) if return_info else mesh
