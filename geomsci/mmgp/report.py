"""Scoring predictions written by ``geomsci mmgp predict`` against the truth (``geomsci mmgp score``).

Per output: RRMSE (PLAID definitions, ``metrics.py``), Q2 and the coverage of mean +- 1.96 std.
Writes ``scores.csv``, ``parity.png`` (predicted against true values, one panel per output) and, for
2-D meshes, ``worst_error.png``: the error field of the sample with the largest field error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from geomsci.core.io import write_table
from geomsci.mmgp.files import load_table, mesh_files, numeric, resolve
from geomsci.mmgp.metrics import coverage, q2, rrmse_field, rrmse_scalar

Z95 = 1.959963984540054
MAX_PARITY_POINTS = 20_000


def score_predictions(pred_dir, truth_dir, outputs: str | None, fields: list[str], id_column: str, out_dir: Path):
    """Compare a prediction folder with the truth; returns ``(rows, notes)`` and writes the report into ``out_dir``."""
    from geomsci.core.io import load

    pred_dir, truth_dir, out_dir = Path(pred_dir), Path(truth_dir), Path(out_dir)
    table_path = pred_dir / "predictions.csv"
    if not table_path.is_file():
        raise FileNotFoundError(f"{pred_dir}: no predictions.csv; give the folder written by 'geomsci mmgp predict'")
    ids, table = load_table(table_path, id_column, "predictions table")
    pred_files = mesh_files(pred_dir)
    missing = [sid for sid in ids if sid not in pred_files]
    if missing:
        raise ValueError(f"{pred_dir}: no predicted mesh for sample {missing[0]!r} listed in predictions.csv")
    first = load(pred_files[ids[0]])
    available = sorted(k[: -len("_mean")] for k in first.point_data if k.endswith("_mean"))
    fields = fields or available
    unknown = [f for f in fields if f not in available]
    if unknown:
        raise ValueError(f"{pred_files[ids[0]]}: no predicted field {unknown[0]!r} (it has {available})")
    scalars = [c for c in table if f"{c}_std" in table and not c.endswith(("_std", "_lo95", "_hi95"))]
    truth_files = mesh_files(truth_dir) if fields else {}
    no_truth = [sid for sid in ids if fields and sid not in truth_files]
    if no_truth:
        raise ValueError(
            f"{truth_dir}: no true mesh for sample {no_truth[0]!r} ({len(no_truth)} of {len(ids)} predicted samples)"
        )
    rows, notes, parity = [], [], {}
    truth_scalars = {}
    if scalars:
        tpath = resolve(outputs, truth_dir) if outputs else None
        if tpath is None or not tpath.is_file():
            notes.append(f"scalars {scalars} not scored: no outputs table {tpath}")
            scalars = []
        else:
            t_ids, t_table = load_table(tpath, id_column, "outputs table")
            pos = {s: i for i, s in enumerate(t_ids)}
            lacking = [sid for sid in ids if sid not in pos]
            if lacking:
                raise ValueError(f"{tpath}: no row for predicted sample {lacking[0]!r}")
            have = [s for s in scalars if s in t_table]
            if len(have) < len(scalars):
                notes.append(f"scalars {sorted(set(scalars) - set(have))} not scored: not in {tpath}")
            scalars = have
            order = np.array([pos[s] for s in ids])
            truth_scalars = numeric(tpath, {s: t_table[s][order] for s in scalars}, ids, None, "outputs table")
    pred_num = numeric(
        table_path,
        {k: v for k, v in table.items() if k in scalars or k in [f"{s}_std" for s in scalars]},
        ids,
        None,
        "predictions table",
    )
    worst = None
    for f in fields:
        truth, mean, std, per_sample = [], [], [], []
        for sid in ids:
            p = load(pred_files[sid], dtype=torch.float64)
            t = load(truth_files[sid], dtype=torch.float64)
            if f not in t.point_data:
                raise ValueError(f"{truth_files[sid]}: sample {sid!r} has no point field {f!r} (it has {sorted(t.point_data)})")
            u, m, s = t.point_data[f], p.point_data[f"{f}_mean"], p.point_data[f"{f}_std"]
            if u.shape != m.shape:
                raise ValueError(
                    f"{truth_files[sid]}: field {f!r} of sample {sid!r} has shape {tuple(u.shape)}, the prediction "
                    f"{tuple(m.shape)}; were the predictions made on these meshes?"
                )
            truth.append(u), mean.append(m), std.append(s)
            per_sample.append(rrmse_field([u], [m]))
        j = int(np.argmax(per_sample))
        if worst is None or per_sample[j] > worst[0]:
            worst = (per_sample[j], f, ids[j], load(truth_files[ids[j]], dtype=torch.float64), truth[j] - mean[j])
        rows.append(
            {
                "output": f,
                "kind": "field",
                "rrmse": rrmse_field(truth, mean),
                "q2": q2(truth, mean),
                "cover95": coverage(truth, mean, std),
                "n": len(ids),
            }
        )
        parity[f] = (torch.cat([u.reshape(-1) for u in truth]), torch.cat([m.reshape(-1) for m in mean]))
    for s in scalars:
        u, m, sd = truth_scalars[s], pred_num[s], pred_num[f"{s}_std"]
        rows.append(
            {
                "output": s,
                "kind": "scalar",
                "rrmse": rrmse_scalar(u, m),
                "q2": q2(u, m),
                "cover95": coverage(u, m, sd),
                "n": len(ids),
            }
        )
        parity[s] = (torch.as_tensor(u), torch.as_tensor(m))
    if not rows:
        raise ValueError(f"nothing to score: the predictions in {pred_dir} have no fields or scalars with a truth")
    write_table(out_dir / "scores.csv", {k: [r[k] for r in rows] for k in ("output", "kind", "rrmse", "q2", "cover95", "n")})
    _parity_plot(parity, out_dir / "parity.png")
    planar = worst is not None and (worst[3].dim == 2 or not bool((worst[3].points[:, 2] != 0).any()))
    if planar:
        _, f, sid, mesh, err = worst
        from geomsci.core.mesh import Mesh
        from geomsci.core.plot import plot_field_2d

        mesh = Mesh(mesh.points[:, :2].contiguous(), mesh.cells, mesh.cell_type)

        err = err.norm(dim=1) if err.dim() == 2 else err
        plot_field_2d(
            mesh,
            err,
            out_dir / "worst_error.png",
            title=f"{f}: error (truth - mean) of the worst sample {sid}",
            cmap="RdBu_r" if err.dim() == 1 and bool((err < 0).any()) else "viridis",
        )
        notes.append(f"worst sample for {f}: {sid} (RRMSE {worst[0]:.2e})")
    return rows, notes


def _parity_plot(parity: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.4 * len(parity), 3.4), dpi=100)
    FigureCanvasAgg(fig)
    g = torch.Generator().manual_seed(0)
    for i, (name, (u, m)) in enumerate(parity.items()):
        u, m = u.reshape(-1).double(), m.reshape(-1).double()
        if u.numel() > MAX_PARITY_POINTS:
            keep = torch.randperm(u.numel(), generator=g)[:MAX_PARITY_POINTS]
            u, m = u[keep], m[keep]
        ax = fig.add_subplot(1, len(parity), i + 1)
        ax.scatter(u.numpy(), m.numpy(), s=2, alpha=0.4)
        lo, hi = float(torch.minimum(u.min(), m.min())), float(torch.maximum(u.max(), m.max()))
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_title(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
