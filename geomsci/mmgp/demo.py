"""The mmgp step of ``geomsci demo``: fit 40 coarse plates, predict 4 unseen ones with 95% bounds."""

from __future__ import annotations

from pathlib import Path


def _panels(mesh, panels, path: Path, title: str) -> None:
    """One row of fields on a 2-D mesh; panels are (title, values, colour-scale group); panels in the
    same group share one colour scale (truth and prediction must, or a 20% error looks like none)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    p = mesh.points.detach().cpu().numpy()
    tris = mesh.cells.cpu().numpy()
    groups = {}
    for _, v, g in panels:
        v = v.detach().cpu().numpy()
        lo, hi = groups.get(g, (np.inf, -np.inf))
        groups[g] = (min(lo, float(v.min())), max(hi, float(v.max())))
    fig = Figure(figsize=(3.2 * len(panels), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels))
    for ax, (name, v, g) in zip(axes, panels):
        norm = Normalize(*groups[g])
        art = ax.tripcolor(p[:, 0], p[:, 1], tris, v.detach().cpu().numpy(), shading="gouraud", norm=norm)
        fig.colorbar(art, ax=ax, shrink=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def demo(out_dir: Path) -> str:
    """Fit MMGP on 40 small generated plates, predict u2 and max_top_u2 on 4 new ones with 95% bounds."""
    import torch

    from geomsci.core.io import save
    from geomsci.core.mesh import Mesh
    from geomsci.core.threads import limit_threads
    from geomsci.mmgp.datasets import make_split
    from geomsci.mmgp.metrics import coverage, rrmse_field
    from geomsci.mmgp.regressor import Z95, MMGPRegressor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with limit_threads():
        h = (0.08, 0.1)
        mtr, xtr, ytr = make_split(40, "train", seed=1, h_range=h)
        mte, xte, yte = make_split(4, "test", seed=1, h_range=h)
        model = MMGPRegressor(n_shape_modes=6, field_energy=0.9999, n_restarts=1, n_iter=60, n_polish=40)
        model.fit(mtr, xtr, {"u2": [m.point_data["u2"] for m in mtr], "max_top_u2": ytr[:, 1]})
        mean, std = model.predict(mte, xte, return_std=True)
    truth = [m.point_data["u2"] for m in mte]
    err = rrmse_field(truth, mean["u2"])
    cov = coverage(truth, mean["u2"], std["u2"])
    m0 = mte[0]
    save(
        Mesh(
            m0.points,
            m0.cells,
            "triangle",
            {
                "u2_true": truth[0],
                "u2_mean": mean["u2"][0],
                "u2_std": std["u2"][0],
                "u2_lo95": mean["u2"][0] - Z95 * std["u2"][0],
            },
        ),
        out_dir / "prediction.vtu",
    )
    e0 = (truth[0] - mean["u2"][0]).abs()
    _panels(
        m0,
        [
            ("u2 (FE)", truth[0], "u2"),
            ("u2 (MMGP mean), same scale", mean["u2"][0], "u2"),
            ("|error|, same scale as std", e0, "err"),
            ("std", std["u2"][0], "err"),
        ],
        out_dir / "prediction.png",
        f"MMGP on an unseen plate (corners pinned: {model.n_corners_})",
    )
    rel = float(torch.mean(torch.abs(mean["max_top_u2"] - torch.as_tensor(yte[:, 1])) / torch.as_tensor(yte[:, 1])))
    return (
        f"{len(mtr)} plates ({min(m.n_points for m in mtr)}-{max(m.n_points for m in mtr)} nodes): u2 RRMSE {err:.1e}, "
        f"95% coverage {cov:.0%}, max_top_u2 rel. err {rel:.1%} on 4 unseen plates"
    )
