"""Benchmark: Riemannian features, the panel method and Cp learning with and without features.

Three parts, each printing a table (select with --part; default all):

features  errors of K and H against analytic surfaces under refinement, with the observed order:
          fourth-order finite differences on grids, cubic (and quartic) tangent-frame fits on meshes, and the
          peer: geomsci.core's discrete curvatures (cotangent mean curvature, angle defect) on the
          same meshes, as error ratios.
panel     Cp on a sphere against 1 - 9/4 sin^2(theta); lift slope of an AR-6 rectangular NACA 0006
          wing under panel refinement against lifting-line theory and aerosandbox's vortex-lattice
          method (peer library, when installed), as ratios.
learn     Cp MSE on held-out wing planforms, mean and 95 % t-interval over 5 seeds, for a point-wise
          MLP and a DAN-like attention network, with no geometric input, with the unit normal only,
          with all Riemannian features, and with each feature group alone; relative MSE change
          against the no-feature baseline with a paired 95 % interval.

    .venv/bin/python benchmarks/wing.py                 # full: ~13 min on the shared 2-core CPU (learn: 11)
    .venv/bin/python benchmarks/wing.py --quick         # small version (2 seeds, 24 wings, 6 epochs)
    .venv/bin/python benchmarks/wing.py --part learn --data /tmp/wing_bench_data
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(values):
    """Mean and half-width of the 95 % t-interval."""
    v = torch.tensor(values, dtype=torch.float64)
    if v.numel() < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), T975[v.numel() - 1] * float(v.std()) / math.sqrt(v.numel())


# -- features --------------------------------------------------------------------------------------


def part_features(quick: bool):
    from geomsci.core.geometry import gaussian_curvature, mean_curvature
    from geomsci.core.shapes import icosphere
    from geomsci.wing import grid_features, grid_to_mesh, mesh_features, riemannian_features

    R, r = 2.0, 0.7

    def torus(uv):
        u, v = uv[:, 0], uv[:, 1]
        rho = R + r * torch.cos(v)
        return torch.stack([rho * torch.cos(u), rho * torch.sin(u), r * torch.sin(v)], -1)

    print("\n[features] torus R=2, r=0.7, n x n grid: max |error| of K and H (order = log2 of the error ratio)")
    print(
        f"{'n':>5} {'FD K':>10} {'order':>6} {'FD H':>10} {'order':>6} {'fit K':>10} {'order':>6} {'fit H':>10} "
        f"{'order':>6} {'core K':>10} {'core H':>10} {'core/fit K':>10} {'core/fit H':>10}"
    )
    prev = None
    for n in (16, 32, 64) if quick else (16, 32, 64, 128):
        t = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
        U, V = torch.meshgrid(t, t, indexing="ij")
        uv = torch.stack([U, V], -1).reshape(-1, 2)
        X = torus(uv).reshape(n, n, 3)
        ref = riemannian_features(torus, uv).point_data
        fd = grid_features(X, True, True, du=2 * math.pi / n, dv=2 * math.pi / n).point_data
        mesh = grid_to_mesh(X, True, True)
        fit = mesh_features(mesh).point_data
        core_k = gaussian_curvature(mesh.points, mesh.faces)
        core_h = mean_curvature(mesh.points, mesh.faces)
        e = [
            (fd["K"] - ref["K"]).abs().max(),
            (fd["H"] - ref["H"]).abs().max(),
            (fit["K"] - ref["K"]).abs().max(),
            (fit["H"] - ref["H"]).abs().max(),
            (core_k - ref["K"]).abs().max(),
            (core_h.abs() - ref["H"].abs()).abs().max(),
        ]
        e = [float(x) for x in e]
        o = ["" if prev is None else f"{math.log2(p / c):6.2f}" for p, c in zip(prev or e, e)]
        print(
            f"{n:>5} {e[0]:10.2e} {o[0]:>6} {e[1]:10.2e} {o[1]:>6} {e[2]:10.2e} {o[2]:>6} {e[3]:10.2e} {o[3]:>6} "
            f"{e[4]:10.2e} {e[5]:10.2e} {e[4] / e[2]:10.1f} {e[5] / e[3]:10.1f}"
        )
        prev = e
    print("\n[features] icosphere radius 2 (unstructured): max |error| of K = 1/4 and H = +1/2 (outward normals)")
    print(f"{'subdiv':>6} {'points':>7} {'fit K':>10} {'fit H':>10} {'fit4 K':>10} {'fit4 H':>10} {'core K':>10} {'core H':>10}")
    for s in (2, 3, 4):
        m = icosphere(s, radius=2.0, dtype=torch.float64)
        f = mesh_features(m).point_data
        f4 = mesh_features(m, degree=4).point_data
        ck, ch = gaussian_curvature(m.points, m.faces), mean_curvature(m.points, m.faces)
        print(
            f"{s:>6} {m.n_points:>7} {float((f['K'] - 0.25).abs().max()):10.2e} {float((f['H'] - 0.5).abs().max()):10.2e} "
            f"{float((f4['K'] - 0.25).abs().max()):10.2e} {float((f4['H'] - 0.5).abs().max()):10.2e} "
            f"{float((ck - 0.25).abs().max()):10.2e} {float((ch - 0.5).abs().max()):10.2e}"
        )


# -- panel -----------------------------------------------------------------------------------------


def part_panel(quick: bool):
    from geomsci.wing import Wing, lifting_line_slope, solve_panels, wing_grid

    print("\n[panel] sphere in uniform flow: max |Cp - (1 - 9/4 sin^2 theta)| away from the poles (polar > 20 deg)")
    print(f"{'grid':>8} {'panels':>7} {'max err':>9} {'time s':>7}")
    for n in (12, 16, 24) if quick else (12, 16, 24, 32):
        th = torch.linspace(0, math.pi, n + 1, dtype=torch.float64)
        ph = torch.arange(2 * n, dtype=torch.float64) * math.pi / n
        T, P = torch.meshgrid(th, ph, indexing="ij")
        X = torch.stack([torch.sin(T) * torch.cos(P), torch.sin(T) * torch.sin(P), torch.cos(T)], -1)
        t0 = time.perf_counter()
        sol = solve_panels(X, 0.0, wake=False, symmetric=False, periodic_v=True)
        dt = time.perf_counter() - t0
        c = sol.centres
        theta = torch.acos((c[..., 0] / c.norm(dim=-1)).clamp(-1, 1))
        polar = torch.acos(c[..., 2] / c.norm(dim=-1))
        keep = (polar > 0.35) & (polar < math.pi - 0.35)
        err = float((sol.cp[0] - (1 - 2.25 * torch.sin(theta) ** 2))[keep].abs().max())
        print(f"{n:>3}x{2 * n:<4} {n * 2 * n:>7} {err:9.4f} {dt:7.1f}")

    wing = Wing("naca0006", span=6.0, root_chord=1.0)
    llt = lifting_line_slope(6.0)
    vlm = None
    try:
        import aerosandbox as asb

        xs = [asb.WingXSec(xyz_le=[0, y, 0], chord=1.0, airfoil=asb.Airfoil("naca0006")) for y in (0.0, 3.0)]
        plane = asb.Airplane(wings=[asb.Wing(symmetric=True, xsecs=xs)], s_ref=6.0, c_ref=1.0, b_ref=6.0)
        cls = [
            float(
                asb.VortexLatticeMethod(
                    airplane=plane,
                    op_point=asb.OperatingPoint(velocity=10.0, alpha=a),
                    spanwise_resolution=16,
                    chordwise_resolution=10,
                ).run()["CL"]
            )
            for a in (0.0, 4.0)
        ]
        vlm = (cls[1] - cls[0]) / math.radians(4)
    except ImportError:
        print("(aerosandbox not installed: VLM column skipped)")
    print(
        f"\n[panel] AR-6 rectangular NACA 0006 wing, lift slope dCL/dalpha (1/rad) at M = 0; "
        f"lifting line {llt:.3f}" + (f", aerosandbox VLM {vlm:.3f}" if vlm else "")
    )
    print(f"{'chord x span':>13} {'panels':>7} {'CL_a':>7} {'/LLT':>6} {'/VLM':>6} {'time s':>7}")
    for nc, ns in ((8, 4), (12, 8), (20, 12)) if quick else ((8, 4), (12, 8), (20, 12), (28, 16)):
        X = wing_grid(wing, nc, ns, 2)
        t0 = time.perf_counter()
        sol = solve_panels(X, torch.tensor([0.0, 4.0]), ref_area=wing.area)
        dt = time.perf_counter() - t0
        cla = float(sol.cl[1] - sol.cl[0]) / math.radians(4)
        n_pan = (X.shape[0] - 1) * (X.shape[1] - 1) * 2
        print(
            f"{2 * nc:>6} x {ns + 2:<4} {n_pan:>7} {cla:7.3f} {cla / llt:6.3f} "
            f"{(cla / vlm if vlm else float('nan')):6.3f} {dt:7.1f}"
        )


# -- learning --------------------------------------------------------------------------------------


def part_learn(quick: bool, data_dir: Path, seeds: int, epochs: int):
    from geomsci.wing.dataset import load_dataset, make_dataset
    from geomsci.wing.train import cp_mse, train_cp_model

    n_wings, n_test = (24, 8) if quick else (40, 10)
    if not (data_dir / "conditions.csv").exists():
        t0 = time.perf_counter()
        make_dataset(data_dir, n_wings=n_wings, n_test=n_test, n_chord=16, n_span=8, seed=0, progress=False)
        print(
            f"\n[learn] generated {n_wings} wings ({n_test} held out) x 6 conditions in "
            f"{time.perf_counter() - t0:.0f} s under {data_dir}"
        )
    data = load_dataset(data_dir)
    W, C, N = data.cp.shape
    print(
        f"\n[learn] {int((data.split == 0).sum())} training / {int((data.split == 1).sum())} held-out wings x {C} "
        f"conditions, {N} points each; {epochs} epochs; test Cp variance {float(data.subset('test').cp.var()):.3f}"
    )
    all_groups = ("metric", "christoffel", "curvature")
    variants = {
        "none": (),
        "normal": ("normal",),
        "all": all_groups,
        "metric": ("metric",),
        "christoffel": ("christoffel",),
        "curvature": ("curvature",),
    }
    results = {}
    for model in ("mlp", "attention"):
        for name, groups in variants.items():
            mses = []
            t0 = time.perf_counter()
            for seed in range(seeds):
                net, norm = train_cp_model(data, model, groups, epochs=epochs, seed=seed)
                mses.append(cp_mse(net, norm, data, "test"))
            results[model, name] = mses
            print(f"  {model:>9} {name:>11}: test MSE {mean_ci(mses)[0]:.4f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{'model':>9} {'inputs':>11} {'test MSE':>9} {'95% CI':>17} {'vs none':>8} {'95% CI (paired)':>19}")
    for (model, name), mses in results.items():
        m, h = mean_ci(mses)
        base = results[model, "none"]
        red = [1 - a / b for a, b in zip(mses, base)]
        rm, rh = mean_ci(red)
        rel = "" if name == "none" else f"{-100 * rm:+7.1f}% [{-100 * (rm + rh):+6.1f}, {-100 * (rm - rh):+6.1f}]"
        print(f"{model:>9} {name:>11} {m:9.4f} [{m - h:7.4f}, {m + h:7.4f}] {rel}")
    for model in ("mlp", "attention"):
        red = [1 - a / b for a, b in zip(results[model, "all"], results[model, "normal"])]
        rm, rh = mean_ci(red)
        print(
            f"{model:>9}: all features vs normal only: {-100 * rm:+.1f}% MSE, 95% CI [{-100 * (rm + rh):+.1f}, "
            f"{-100 * (rm - rh):+.1f}]"
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small version (~2 min)")
    p.add_argument("--part", choices=["all", "features", "panel", "learn"], default="all")
    p.add_argument("--data", type=Path, default=None, help="dataset folder (generated if missing)")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    t0 = time.perf_counter()
    if args.part in ("all", "features"):
        part_features(args.quick)
    if args.part in ("all", "panel"):
        part_panel(args.quick)
    if args.part in ("all", "learn"):
        data = args.data or Path("/tmp") / ("geomsci_wing_bench_quick" if args.quick else "geomsci_wing_bench")
        seeds = args.seeds or (2 if args.quick else 5)
        epochs = args.epochs or (6 if args.quick else 15)
        torch.set_default_dtype(torch.float32)
        part_learn(args.quick, data, seeds, epochs)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
