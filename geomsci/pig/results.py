"""Results of a physics-informed solve as geomsci fields and PNG plots.

- ``solution_field``: the model, the reference and the pointwise error on the problem's test
  points, as a triangle `Mesh` with point fields (2-D problems: space, or space-time for 1+1-D)
  or as a `Grid` with 3 channels (u, reference, error) for (2+1)-D problems.
- ``plot_solution``: PNG of prediction, reference and |error| (the last time slice for (2+1)-D),
  with the Gaussian centres of a PIG drawn over the prediction.
- ``plot_history``: PNG of relative L2 error against training time for several runs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from geomsci.core.grid import Grid
from geomsci.core.mesh import Mesh


def _predict(model, x: torch.Tensor, chunk_size: int = 8192) -> torch.Tensor:
    p0 = next(model.parameters())
    with torch.no_grad():
        return torch.cat([model(xc.to(p0))[:, 0] for xc in torch.split(x, chunk_size)]).to(x)


def _lattice_triangles(nx: int, ny: int) -> torch.Tensor:
    """(2 (nx-1)(ny-1), 3) triangles of an nx x ny node lattice numbered i * ny + j."""
    i, j = torch.meshgrid(torch.arange(nx - 1), torch.arange(ny - 1), indexing="ij")
    a = (i * ny + j).reshape(-1)
    b, c, d = a + ny, a + ny + 1, a + 1
    return torch.cat([torch.stack([a, b, c], 1), torch.stack([a, c, d], 1)])


def solution_field(problem, model):
    """Prediction, reference and error on ``problem.test_points()`` as a `Mesh` (2-D) or `Grid` (3-D).

    Mesh: point fields ``u``, ``reference``, ``error`` (u - reference). Grid: values
    (X, Y, T, 3) with channels (u, reference, error) on the test lattice.
    """
    x, ref = problem.test_points()
    u = _predict(model, x)
    err = u - ref
    if problem.dim == 2:
        if problem.test_shape is not None:
            cells = _lattice_triangles(*problem.test_shape)
        elif hasattr(problem, "reference_mesh"):
            cells = problem.reference_mesh().cells
        else:
            raise ValueError(f"solution_field: problem {problem.name!r} has neither a test lattice nor a reference mesh")
        return Mesh(x, cells, "triangle", point_data={"u": u, "reference": ref, "error": err})
    if problem.dim == 3 and problem.test_shape is not None:
        shape = tuple(problem.test_shape)
        values = torch.stack([u, ref, err], -1).reshape(*shape, 3)
        lo = x.min(0).values
        spacing = (x.max(0).values - lo) / (torch.as_tensor(shape, dtype=x.dtype) - 1)
        return Grid(values, lo.tolist(), spacing.tolist())
    raise ValueError(f"solution_field: unsupported problem dimension {problem.dim} without a test lattice")


def plot_solution(problem, model, path, title: str | None = None) -> Path:
    """PNG with three panels: prediction (+ Gaussian centres for a PIG), reference and |error|."""
    from matplotlib.figure import Figure  # object-oriented: no pyplot state, no global backend

    x, ref = problem.test_points()
    if problem.dim == 3:  # last time slice
        t_last = x[:, 2].max()
        keep = x[:, 2] == t_last
        x, ref = x[keep], ref[keep]
        x = torch.cat([x[:, :2], torch.full_like(x[:, :1], float(t_last))], 1)
    if x.shape[0] > 12000:  # plotting does not need every test point
        keep = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[:12000]
        x, ref = x[keep], ref[keep]
    u = _predict(model, x)
    err = (u - ref).abs()
    xy = x[:, :2].cpu().numpy()
    from matplotlib.tri import Triangulation

    if hasattr(problem, "reference_mesh") and x.shape[0] == problem.reference_mesh().n_points:
        tri = Triangulation(xy[:, 0], xy[:, 1], problem.reference_mesh().cells.cpu().numpy())  # keeps the holes
    else:
        tri = Triangulation(xy[:, 0], xy[:, 1])
    fig = Figure(figsize=(13, 4))
    axes = fig.subplots(1, 3)
    names = ["prediction", "reference", "|error|"]
    for ax, vals, name in zip(axes, [u, ref, err], names):
        sc = ax.tricontourf(tri, vals.cpu().numpy(), levels=40, cmap="viridis" if name != "|error|" else "magma")
        fig.colorbar(sc, ax=ax, shrink=0.85)
        ax.set_title(name + (f" (t = {float(x[0, 2]):.2f})" if problem.dim == 3 else ""))
        ax.set_aspect("equal" if problem.dim != 2 or problem.time_dim is None else "auto")
    if hasattr(model, "means"):
        mu = model.means.detach().cpu().numpy()
        axes[0].scatter(mu[:, 0], mu[:, 1], s=2, c="w", alpha=0.6, label="Gaussian centres")
        axes[0].legend(loc="upper right", fontsize=7)
        lo, hi = problem.bounds[0].numpy(), problem.bounds[1].numpy()
        axes[0].set_xlim(lo[0], hi[0]), axes[0].set_ylim(lo[1], hi[1])
    rel = float(torch.linalg.vector_norm(u - ref) / torch.linalg.vector_norm(ref))
    fig.suptitle(title or f"{problem.name}: {type(model).__name__}, rel. L2 on this view {rel:.2e}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path


def plot_history(runs: dict, path, title: str = "") -> Path:
    """PNG of relative L2 error vs training time; ``runs`` maps a label to a `TrainResult`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for label, r in runs.items():
        ax.semilogy(r.history["eval_time"], r.history["rel_l2"], label=label)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("relative L2 error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path
