"""G-Shell extraction benchmark: forward and backward time and peak memory at grid resolutions
32, 64, 128 (a sphere SDF cut by nu = z - 0.3), next to the peer library's iso-surface extraction
(scikit-image marching cubes on the same (n+1)^3 node values; forward only, not differentiable) and
to marching tetrahedra alone (the watertight template).

Each resolution runs in a fresh subprocess so that the peak resident memory (ru_maxrss) it
reports belongs to that resolution only; "mem" is the peak minus the resident size after the
grid and fields were built. One thread. Usage:

    .venv/bin/python benchmarks/gshell.py            # 32, 64, 128
    .venv/bin/python benchmarks/gshell.py --quick    # 16, 32
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _best(fn, reps):
    times = []
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run_one(n: int, reps: int) -> dict:
    import torch
    from skimage.measure import marching_cubes

    from geomsci.core.tetgrid import deform_vertices, marching_tetrahedra, tet_grid
    from geomsci.gshell.extract import extract_gshell

    torch.set_num_threads(1)
    v, t = tet_grid(n, dtype=torch.float32)
    h = 2.0 / n
    s = (v.norm(dim=1) - 0.7).requires_grad_(True)
    nu = (v[:, 2] - 0.3).requires_grad_(True)
    d = torch.zeros_like(v, requires_grad=True)
    vol = s.detach().reshape(n + 1, n + 1, n + 1).numpy()
    base = _rss_mb()

    t_mt, tmpl = _best(lambda: marching_tetrahedra(deform_vertices(v, d, h), t, s), reps)
    t_fwd, out = _best(lambda: extract_gshell(deform_vertices(v, d, h), t, s, nu), reps)

    def fwd_bwd():
        o = extract_gshell(deform_vertices(v, d, h), t, s, nu)
        loss = o.mesh.points.square().sum() + o.nu_template.square().sum()
        t0 = time.perf_counter()
        loss.backward()
        return time.perf_counter() - t0

    t_bwd = min(fwd_bwd() for _ in range(reps))
    peak = _rss_mb()
    t_sk, _ = _best(lambda: marching_cubes(vol, 0.0, spacing=(h, h, h)), reps)
    return {
        "n": n,
        "tets": int(t.shape[0]),
        "template_faces": tmpl.n_cells,
        "open_faces": out.mesh.n_cells,
        "mt_fwd_s": t_mt,
        "gshell_fwd_s": t_fwd,
        "gshell_bwd_s": t_bwd,
        "skimage_mc_s": t_sk,
        "mem_mb": peak - base,
        "grid_mb": base,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="resolutions 16 and 32 only")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(run_one(args.child, args.reps)))
        return
    sizes = (16, 32) if args.quick else (32, 64, 128)
    rows = []
    for n in sizes:
        res = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--reps", str(args.reps)], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print("G-Shell extraction (sphere r=0.7 cut by nu = z - 0.3), float32, 1 thread, best of", args.reps)
    head = f"{'n':>4} {'tets':>9} {'faces':>7} {'MT fwd':>8} {'GS fwd':>8} {'GS bwd':>8} {'skimage MC':>10} {'GS/MC':>6} {'GS/MT':>6} {'mem MB':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['n']:>4} {r['tets']:>9} {r['open_faces']:>7} {r['mt_fwd_s']:>8.3f} {r['gshell_fwd_s']:>8.3f} "
            f"{r['gshell_bwd_s']:>8.3f} {r['skimage_mc_s']:>10.3f} {r['gshell_fwd_s'] / r['skimage_mc_s']:>6.1f} "
            f"{r['gshell_fwd_s'] / r['mt_fwd_s']:>6.2f} {r['mem_mb']:>7.0f}"
        )
    print(
        "times in seconds; MT = marching tetrahedra only (template); GS = G-Shell extraction; "
        "skimage MC = scikit-image marching cubes, the peer (forward only); mem = peak RSS growth during MT+GS fwd/bwd"
    )


if __name__ == "__main__":
    main()
