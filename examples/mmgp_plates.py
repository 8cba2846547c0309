"""MMGP end to end in Python: generate plates, fit, predict fields with 95% bounds, check the error.

    python examples/mmgp_plates.py [OUT_DIR]

Writes OUT_DIR/prediction_<i>.vtu (mean, std, bounds, truth) and prints RRMSE, Q2 and coverage.
"""

import sys
import time
from pathlib import Path

from geomsci.core.io import save
from geomsci.core.mesh import Mesh
from geomsci.core.threads import limit_threads
from geomsci.mmgp import MMGPRegressor, coverage, make_split, q2, rrmse_field
from geomsci.mmgp.regressor import Z95

out = Path(sys.argv[1] if len(sys.argv) > 1 else "mmgp_example_output")
out.mkdir(parents=True, exist_ok=True)

# 1. Data: each plate has its own shape and its own mesh (no shared connectivity).
train_meshes, train_x, train_y = make_split(60, "train", seed=0, h_range=(0.05, 0.07))
test_meshes, test_x, test_y = make_split(10, "test", seed=0, h_range=(0.05, 0.07))
outputs = {f: [m.point_data[f] for m in train_meshes] for f in ("u1", "u2")}
outputs["max_top_u2"] = train_y[:, 1]

# 2. Fit: disk morphing (one boundary loop; the plates' 4 corners are found and pinned), P1 transfer,
#    POD, gpytorch GPs, CV-calibrated intervals. Threads: GEOMSCI_THREADS or half the cores.
t0 = time.perf_counter()
with limit_threads():
    model = MMGPRegressor(n_iter=100, progress=True).fit(train_meshes, train_x, outputs)
    print(
        f"fit in {time.perf_counter() - t0:.1f} s; morphing {model.morphing_}, corners pinned {model.n_corners_}, "
        f"POD modes { {k: p.n_components_ for k, p in model.field_pods_.items()} }"
    )

    # 3. Predict with uncertainty on unseen plates (and an out-of-distribution score per plate).
    mean, std, ood = model.predict(test_meshes, test_x, return_std=True, return_ood=True)
print(f"OOD scores of the test plates: {[round(float(o), 2) for o in ood]} (about 1 or less: in distribution)")
for f in ("u1", "u2"):
    truth = [m.point_data[f] for m in test_meshes]
    print(
        f"{f}: RRMSE {rrmse_field(truth, mean[f]):.2e}  Q2 {q2(truth, mean[f]):.4f}  "
        f"95% coverage {coverage(truth, mean[f], std[f]):.1%}"
    )
for i, m in enumerate(test_meshes[:3]):
    mu, sd = mean["u2"][i], std["u2"][i]
    save(
        Mesh(
            m.points,
            m.cells,
            "triangle",
            {"u2_true": m.point_data["u2"], "u2_mean": mu, "u2_std": sd, "u2_lo95": mu - Z95 * sd, "u2_hi95": mu + Z95 * sd},
        ),
        out / f"prediction_{i}.vtu",
    )
model.save(out / "model.pt")
print(f"wrote {out}/prediction_*.vtu and {out}/model.pt")
