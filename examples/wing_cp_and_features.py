"""Build a swept, tapered, twisted wing, compute its Riemannian features and its Cp by the panel
method at two flight conditions, and write everything to a VTU file (open it in ParaView).

    .venv/bin/python examples/wing_cp_and_features.py [out_dir]
"""

import sys
import time
from pathlib import Path

import torch

import geomsci
from geomsci.wing import Wing, grid_features, lifting_line_slope, panel_to_points, solve_panels, wing_grid

torch.set_num_threads(1)
out = Path(sys.argv[1] if len(sys.argv) > 1 else "wing_example")
out.mkdir(parents=True, exist_ok=True)

wing = Wing("naca23012", span=8.0, root_chord=1.2, taper=0.5, sweep=25.0, dihedral=4.0, twist=-3.0)
X = wing_grid(wing, n_chord=20, n_span=10, n_cap=2)  # (41, 13, 3): chordwise x spanwise grid, half wing
mesh = grid_features(X)  # metric, Christoffel symbols, K, H, k1, k2, normal as point fields
ij = mesh.point_data["ij"]
# Cosine spacing makes the trailing-edge rows (i = 0, 40) parametric singularities (x_u -> 0, det g -> 0), and the
# tip cap closes over a vanishing radius: leave both out when looking at curvature values.
main = (ij[:, 0] > 0) & (ij[:, 0] < 40) & (ij[:, 1] <= 10)
K, H = mesh.point_data["K"][main], mesh.point_data["H"][main]
q = torch.tensor([0.02, 0.98], dtype=K.dtype)
print(
    f"{mesh.n_points} points; on the wing sections K in [{torch.quantile(K, q)[0]:.3f}, {torch.quantile(K, q)[1]:.3f}],"
    f" H in [{torch.quantile(H, q)[0]:.2f}, {torch.quantile(H, q)[1]:.2f}] (2-98 %)"
)

t0 = time.perf_counter()
for alpha, mach in ((4.0, 0.2), (4.0, 0.6)):
    sol = solve_panels(X, alpha, mach, ref_area=wing.area)
    cp = panel_to_points(sol.cp)[0].reshape(-1)  # (N,) Cp at the grid points
    mesh.set_point_field(f"cp_a{alpha:g}_M{mach:g}", cp)
    print(f"alpha {alpha} deg, Mach {mach}: CL = {float(sol.cl[0]):.4f}, min Cp = {float(cp.min()):.3f}")
print(
    f"two panel solves in {time.perf_counter() - t0:.1f} s; lifting-line slope of an unswept wing of the same "
    f"aspect ratio {wing.aspect_ratio:.2f} and taper: {lifting_line_slope(wing.aspect_ratio, wing.taper):.3f} / rad"
)

geomsci.save(mesh, out / "wing.vtu")
print(f"wrote {out / 'wing.vtu'}")
