"""PNG plots: orbits of a trajectory, and the error-versus-cost front of step controllers."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _figure(figsize):
    """A figure on its own Agg canvas: no pyplot, no global backend switch, nothing left open."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _draw_orbits(ax, x: np.ndarray, labels=None) -> None:
    """Each body's path in the x-y plane, x: (T, N, D), with a dot where it ends, and a legend."""
    for i in range(x.shape[1]):
        (line,) = ax.plot(x[:, i, 0], x[:, i, 1], lw=0.8, label=labels[i] if labels else f"body {i}")
        ax.plot(x[-1, i, 0], x[-1, i, 1], "o", color=line.get_color())
    ax.legend(fontsize=8)


def plot_orbits(x, path, *, title: str | None = None, labels=None) -> Path:
    """Orbits in the x-y plane. x: (T, N, D) positions of one system."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"plot_orbits: x must have shape (T, N, D), got {x.shape}")
    fig, ax = _figure((5, 5))
    _draw_orbits(ax, x, labels)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_front(rows: list[dict], path, *, title: str = "energy error vs cost") -> Path:
    """Median final |dE/E0| against median force evaluations.

    rows: dicts with 'name', 'median_error', 'median_n_force' and optional 'p90_error', 'group'
    (rows of one group are joined by a line, e.g. the fixed-mu front).
    """
    fig, ax = _figure((6, 4.5))
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("group", r["name"]), []).append(r)
    for g, rs in groups.items():
        c = np.array([r["median_n_force"] for r in rs])
        e = np.array([r["median_error"] for r in rs])
        style = "-o" if len(rs) > 1 else "*"
        ax.plot(c, e, style, ms=6 if len(rs) > 1 else 14, label=g)
        capped = [r for r in rs if r.get("stalled", 0) > 0.1 * r.get("n_runs", float("inf"))]
        if capped:  # medians biased by the step budget: drawn hollow
            ax.plot(
                [r["median_n_force"] for r in capped],
                [r["median_error"] for r in capped],
                "o",
                mfc="white",
                color="gray",
                ms=7,
                label=f"{g}: >10% runs capped" if len(rs) > 1 else None,
            )
        for r in rs:
            if "p90_error" in r:
                ax.plot([r["median_n_force"]] * 2, [r["median_error"], r["p90_error"]], color="gray", lw=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("median force evaluations per run")
    ax.set_ylabel("median final |dE/E0| (grey: to 90th pct)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_controlled_run(run: dict, path, *, system: int = 0, title: str | None = None) -> Path:
    """One system of a recorded controller run (`run_controller(..., record=True)`): its orbits in the x-y plane
    (AU) beside the step parameter chosen in each interval and |dE/E0| over time (yr)."""
    if "x" not in run:
        raise ValueError("plot_controlled_run: the run has no trajectory; call run_controller(..., record=True)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    ax_orbit, ax_mu = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    x, t = run["x"][:, system], run["t"]  # (K + 1, 3, 3), (K + 1,)
    _draw_orbits(ax_orbit, x)
    ax_orbit.set_aspect("equal", adjustable="datalim")
    ax_orbit.set(xlabel="x (AU)", ylabel="y (AU)")
    idx = run["actions"][: len(t) - 1, system]  # (K,) chosen indices, -1 once stopped
    mu = np.where(idx >= 0, np.asarray(run["action_values"])[np.maximum(idx, 0)], np.nan)
    ax_mu.step(t[:-1], mu, where="post", color="C0", lw=1.0)
    ax_mu.set(xlabel="t (yr)", ylabel="step parameter mu", yscale="log")
    ax_err = ax_mu.twinx()
    ax_err.plot(t, np.maximum(run["rel_error"][:, system], 1e-17), color="C3", lw=1.0)
    ax_err.set_yscale("log")
    ax_err.set_ylabel("|dE/E0|", color="C3")
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
