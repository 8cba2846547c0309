"""A Cp dataset: random wings x flight conditions, solved with the panel method.

Each wing is a random planform (span, taper, sweep, dihedral, twist) with a random section
(NACA 4-digit, NACA 230xx 5-digit or CST), meshed as a structured grid. Each is flown at a few
conditions (angle of attack uniform in [-2, 12] deg, Mach uniform in [0.1, 0.7]). The pressure
coefficient (panel values averaged to the grid points) and the Riemannian features of the grid are
stored as point fields of one ``wing_XXX.vtu`` per wing (fields ``cp_0``, ``cp_1``, ... one per
condition), and ``conditions.csv`` lists (wing, file, split, condition, alpha, mach, cl, planform).
Test wings are separate random planforms: the split is by wing, never by condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from geomsci.wing.features import grid_features
from geomsci.wing.fundamental_forms import FEATURE_GROUPS
from geomsci.wing.panel import panel_to_points, solve_panels
from geomsci.wing.planform import Wing, wing_grid

#: Columns of :attr:`WingData.features`: the Riemannian fields, then the unit normal (a first-order
#: quantity kept apart so that baselines can use it).
FEATURE_NAMES = sum(FEATURE_GROUPS.values(), []) + ["normal_x", "normal_y", "normal_z"]


def random_wing(generator: torch.Generator) -> Wing:
    """A random wing: span 4-10 (root chord 1), taper 0.3-1, sweep 0-35, dihedral 0-8, twist -5-0 deg."""

    def u(lo, hi):
        return lo + (hi - lo) * float(torch.rand((), generator=generator, dtype=torch.float64))

    kind = int(torch.randint(0, 3, (), generator=generator))
    thick = int(round(u(8, 16)))
    if kind == 0:
        m = int(torch.randint(0, 5, (), generator=generator))
        p = int(torch.randint(3, 6, (), generator=generator)) if m else 0
        sec = f"naca{m}{p}{thick:02d}"
    elif kind == 1:
        sec = f"naca230{thick:02d}"
    else:
        au = [u(0.12, 0.25) for _ in range(4)]
        al = [-u(0.05, 0.2) for _ in range(4)]
        sec = ("cst", tuple(round(a, 4) for a in au), tuple(round(a, 4) for a in al))
    return Wing(sec, span=u(4, 10), root_chord=1.0, taper=u(0.3, 1.0), sweep=u(0, 35), dihedral=u(0, 8), twist=u(-5, 0))


@dataclass
class WingData:
    """Stacked dataset tensors (all wings share one grid size, N points each).

    points (W, N, 3); features (W, N, F) named by ``feature_names`` (:data:`FEATURE_NAMES`); cp (W, C, N);
    conditions (W, C, 2) as (alpha in degrees, Mach); split (W,) with 0 = train, 1 = test.
    """

    points: torch.Tensor
    features: torch.Tensor
    feature_names: list
    cp: torch.Tensor
    conditions: torch.Tensor
    split: torch.Tensor

    def subset(self, which: str) -> WingData:
        if which not in ("train", "test"):
            raise ValueError(f"WingData.subset: which must be 'train' or 'test', got {which!r}")
        k = self.split == (0 if which == "train" else 1)
        return WingData(self.points[k], self.features[k], self.feature_names, self.cp[k], self.conditions[k], self.split[k])


def make_dataset(
    out_dir,
    n_wings: int = 40,
    n_test: int = 10,
    n_mach: int = 2,
    n_alpha: int = 3,
    *,
    n_chord: int = 20,
    n_span: int = 10,
    n_cap: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Generate the dataset under ``out_dir``; the last ``n_test`` wings are the held-out planforms.

    Each wing is solved at ``n_mach`` random Mach numbers x ``n_alpha`` random angles of attack
    (one influence matrix per Mach number). Returns the path of ``conditions.csv``.
    """
    from geomsci.core.io import save, write_table

    if not 0 < n_test < n_wings:
        raise ValueError(f"make_dataset: need 0 < n_test < n_wings, got n_test={n_test}, n_wings={n_wings}")
    if n_mach < 1 or n_alpha < 1:
        raise ValueError(f"make_dataset: need n_mach, n_alpha >= 1, got {n_mach}, {n_alpha}")
    if n_chord < 2 or n_span < 1 or n_cap < 0:  # checked here so that no wing is solved before the error
        raise ValueError(
            f"make_dataset: need n_chord >= 2, n_span >= 1 and n_cap >= 0, got n_chord={n_chord}, n_span={n_span}, n_cap={n_cap}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    rows = {
        k: []
        for k in (
            "wing",
            "file",
            "split",
            "condition",
            "alpha",
            "mach",
            "cl",
            "section",
            "span",
            "taper",
            "sweep",
            "dihedral",
            "twist",
        )
    }
    for w in tqdm(range(n_wings), desc="wings", disable=not progress):
        wing = random_wing(g)
        X = wing_grid(wing, n_chord, n_span, n_cap)  # (nu, nv, 3)
        mesh = grid_features(X)
        c = 0
        for _ in range(n_mach):
            mach = 0.1 + 0.6 * float(torch.rand((), generator=g, dtype=torch.float64))
            alphas = -2.0 + 14.0 * torch.rand(n_alpha, generator=g, dtype=torch.float64)
            sol = solve_panels(X, alphas, mach, ref_area=wing.area)
            cp_pts = panel_to_points(sol.cp)  # (A, nu, nv)
            for a in range(n_alpha):
                mesh.set_point_field(f"cp_{c}", cp_pts[a].reshape(-1))
                d = wing.to_dict()
                for key, val in (
                    ("wing", w),
                    ("file", f"wing_{w:03d}.vtu"),
                    ("split", "test" if w >= n_wings - n_test else "train"),
                    ("condition", c),
                    ("alpha", float(alphas[a])),
                    ("mach", mach),
                    ("cl", float(sol.cl[a])),
                    ("section", d["section"]),
                    ("span", d["span"]),
                    ("taper", d["taper"]),
                    ("sweep", d["sweep"]),
                    ("dihedral", d["dihedral"]),
                    ("twist", d["twist"]),
                ):
                    rows[key].append(val)
                c += 1
        save(mesh, out / f"wing_{w:03d}.vtu")
    path = out / "conditions.csv"
    write_table(path, {k: np.asarray(v) for k, v in rows.items()})
    return path


def load_dataset(folder) -> WingData:
    """Read a folder written by :func:`make_dataset` into stacked tensors (float32)."""
    from geomsci.core.io import load, read_table

    folder = Path(folder)
    table_path = folder / "conditions.csv"
    if not table_path.exists():
        raise FileNotFoundError(f"load_dataset: no conditions.csv in {folder}; run `geomsci wing make-dataset` first")
    t = read_table(table_path)
    missing = [k for k in ("wing", "file", "split", "condition", "alpha", "mach") if k not in t]
    if missing:
        raise ValueError(
            f"load_dataset: {table_path} lacks the column(s) {missing}; regenerate it with `geomsci wing make-dataset`"
        )
    if len(t["wing"]) == 0:
        raise ValueError(f"load_dataset: {table_path} has no rows; regenerate it with `geomsci wing make-dataset`")
    wings = sorted(set(int(w) for w in t["wing"]))
    pts, feats, cps, conds, split = [], [], [], [], []
    for w in wings:
        rows = np.nonzero(np.asarray(t["wing"]).astype(int) == w)[0]
        mesh = load(folder / str(t["file"][rows[0]]))
        order = rows[np.argsort(np.asarray(t["condition"])[rows].astype(int))]
        need = FEATURE_NAMES[:-3] + ["normal"] + [f"cp_{int(t['condition'][r])}" for r in order]
        absent = [k for k in need if k not in mesh.point_data]
        if absent:
            raise ValueError(
                f"load_dataset: {folder / str(t['file'][rows[0]])} lacks the point field(s) {absent}; "
                "it was not written by make_dataset or does not match conditions.csv"
            )
        pts.append(mesh.points.float())
        riem = [mesh.point_data[k].float() for k in FEATURE_NAMES[:-3]]
        feats.append(torch.cat([torch.stack(riem, -1), mesh.point_data["normal"].float()], -1))
        cps.append(torch.stack([mesh.point_data[f"cp_{int(t['condition'][r])}"].float() for r in order]))
        conds.append(torch.tensor([[float(t["alpha"][r]), float(t["mach"][r])] for r in order], dtype=torch.float32))
        split.append(1 if str(t["split"][rows[0]]) == "test" else 0)
    shapes = {p.shape for p in pts}
    if len(shapes) != 1:
        raise ValueError(f"load_dataset: wings have different grid sizes {sorted(shapes)}; regenerate with one size")
    return WingData(
        torch.stack(pts), torch.stack(feats), list(FEATURE_NAMES), torch.stack(cps), torch.stack(conds), torch.tensor(split)
    )
