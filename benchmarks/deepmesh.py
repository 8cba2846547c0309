"""geomsci.deepmesh.marching_cubes against skimage.measure.marching_cubes (Lewiner), same run.

For a torus SDF sampled on n^3 lattices (n = 64, 128, 256; --quick: 32, 64) it prints
- forward time (best of --repeats) of both, and their ratio (goal on CPU, one thread: <= 1.0),
- forward + backward time of ours (loss = sum |v|^2, gradient to the grid values), as a ratio to
  scikit-image's forward (goal: <= 3),
- peak memory of one forward: the rise of the peak resident set (Linux VmHWM) over the resident
  set before the call, each in a fresh process, for both on the CPU; torch.cuda.max_memory_allocated
  for ours on CUDA,
- mesh quality on a sphere and the torus: watertight / manifold / outward for ours, and the mean
  distance of 200k area-uniform surface samples to the analytic surface, ours vs scikit-image,
- the cotangent Laplacian (``geomsci.core.geometry.cotangent_laplacian``) of an irregular torus
  mesh vs libigl's ``igl.cotmatrix`` (goal: ratio <= 1.0), same run.

    python benchmarks/deepmesh.py [--quick] [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch


def torus(X, Y, Z):
    return (((X**2 + Y**2).sqrt() - 0.5) ** 2 + Z**2).sqrt() - 0.25


def sphere(X, Y, Z):
    return (X**2 + Y**2 + Z**2).sqrt() - 0.7


def lattice(n, f, dtype, device):
    x = torch.linspace(-1, 1, n, dtype=dtype, device=device)
    X, Y, Z = torch.meshgrid(x, x, x, indexing="ij")
    return f(X, Y, Z).contiguous(), 2.0 / (n - 1)


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _memory_child(lib: str, n: int) -> None:
    """Run in a fresh process: print the rise of the peak resident set (MB) during one forward."""
    torch.set_num_threads(1)
    v, _ = lattice(n, torus, torch.float32, "cpu")
    if lib == "skimage":
        from skimage.measure import marching_cubes as sk_mc

        v_np = v.numpy()
        run = lambda: sk_mc(v_np, 0.0)
    else:
        from geomsci.deepmesh import marching_cubes

        run = lambda: marching_cubes(v, 0.0)
    before = _rss_kb("VmRSS:")
    run()
    print((_rss_kb("VmHWM:") - before) / 1024)


def peak_rss_mb(lib: str, n: int) -> float:
    """Peak resident-set rise (MB) of one forward of ``lib`` at n^3, measured in a fresh process so
    that no memory kept by an allocator from earlier runs hides it; NaN without Linux /proc."""
    import subprocess
    import sys

    try:
        out = subprocess.run(
            [sys.executable, __file__, "--_memory", lib, str(n)], capture_output=True, text=True, check=True, timeout=600
        )
        return float(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return float("nan")


def best_time(fn, repeats: int, sync, clock=time.perf_counter) -> float:
    fn()  # warm-up (tables, allocator)
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        sync()
        best = min(best, clock() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small lattices (32^3, 64^3)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (scikit-image is single-threaded)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="cpu: process CPU time (robust on a shared machine; the default on CPU with 1 thread), "
        "wall: elapsed time (the default otherwise)",
    )
    ap.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory:
        return _memory_child(args._memory[0], int(args._memory[1]))
    torch.set_num_threads(args.threads)
    from skimage.measure import marching_cubes as sk_mc

    from geomsci.core import geometry as G
    from geomsci.deepmesh import marching_cubes
    from geomsci.deepmesh.quality import skimage_mesh, surface_error

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sizes = [32, 64] if args.quick else [64, 128, 256]
    clock_name = args.clock or ("cpu" if not cuda and args.threads == 1 else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    print(
        f"marching cubes, torus SDF, float32, device={device}, torch threads={args.threads}, "
        f"best of {args.repeats} ({clock_name} time)"
    )
    head = (
        f"{'n':>5} {'faces':>9} {'skimage s':>10} {'ours s':>9} {'ratio':>6} {'ours f+b s':>11} {'ratio':>6} "
        f"{'sk MB':>7} {'ours MB':>8}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for n in sizes:
        v, h = lattice(n, torus, torch.float32, device)
        v_np = v.cpu().numpy()
        reps = args.repeats * (4 if n <= 64 else 1)  # small sizes: more repeats against timer noise
        t_sk = best_time(lambda: sk_mc(v_np, 0.0), reps, lambda: None, clock)
        t_fw = best_time(lambda: marching_cubes(v, 0.0), reps, sync, clock)

        def fwd_bwd():
            vg = v.detach().requires_grad_(True)
            m = marching_cubes(vg, 0.0)
            m.points.square().sum().backward()

        t_fb = best_time(fwd_bwd, reps, sync, clock)
        mem_sk = peak_rss_mb("skimage", n)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            marching_cubes(v, 0.0)
            mem_ours = (torch.cuda.max_memory_allocated() - base) / 2**20
        else:
            mem_ours = peak_rss_mb("geomsci", n)
        faces = marching_cubes(v, 0.0).n_cells
        rows.append((n, t_sk, t_fw, t_fb))
        print(
            f"{n:>5} {faces:>9} {t_sk:>10.4f} {t_fw:>9.4f} {t_fw / t_sk:>6.2f} {t_fb:>11.4f} {t_fb / t_sk:>6.2f} "
            f"{mem_sk:>7.1f} {mem_ours:>8.1f}"
        )
    print("ratios: ours / scikit-image forward; goal forward <= 1.0 (issue 19), forward+backward <= 3 (CPU)")

    print()
    print("mesh quality: mean |sdf| of 200k surface samples (lower is better), float64")
    head = f"{'shape':>7} {'n':>5} {'watertight':>10} {'manifold':>8} {'outward':>7} {'ours':>11} {'skimage':>11} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for name, f in (("sphere", sphere), ("torus", torus)):
        for n in sizes:
            v, h = lattice(n, f, torch.float64, "cpu")
            m = marching_cubes(v, 0.0, spacing=h, origin=(-1.0, -1.0, -1.0))
            ref = skimage_mesh(v, h, (-1.0, -1.0, -1.0))
            sdf = lambda p, f=f: f(p[:, 0], p[:, 1], p[:, 2])
            e_ours, e_sk = surface_error(m, sdf), surface_error(ref, sdf)
            wt, mf = G.is_watertight(m.cells), G.is_manifold(m.cells)
            out = G.is_oriented(m.cells) and float(G.signed_volume(m.points, m.cells)) > 0
            print(
                f"{name:>7} {n:>5} {str(wt):>10} {str(mf):>8} {str(out):>7} {e_ours:>11.3e} {e_sk:>11.3e} {e_ours / e_sk:>6.3f}"
            )
    cotmatrix_section(args.quick, args.repeats, clock)


def cotmatrix_section(quick: bool, repeats: int, clock) -> None:
    """Cotangent Laplacian assembly vs libigl on an irregular (jittered) torus mesh, float64."""
    import math

    import numpy as np

    from geomsci.core.geometry import _LAYOUTS, cotangent_laplacian

    try:
        import igl
    except ImportError:  # pragma: no cover - libigl is in the 'reference' extra
        print("\n(libigl not installed: cotangent Laplacian section skipped)")
        return
    print()
    print("cotangent Laplacian assembly vs libigl igl.cotmatrix, irregular torus, float64, best of", repeats)
    head = f"{'faces':>9} {'libigl s':>9} {'ours s':>9} {'ratio':>6} {'same faces s':>13} {'ratio':>6} {'max |diff|':>11}"
    print(head)
    print("-" * len(head))
    for n_major, n_minor in ((200, 100),) if quick else ((400, 200), (1000, 250)):
        u = np.arange(n_major) * 2 * math.pi / n_major
        v = np.arange(n_minor) * 2 * math.pi / n_minor
        uu, vv = np.meshgrid(u, v, indexing="ij")
        p = np.stack([(2 + 0.6 * np.cos(vv)) * np.cos(uu), (2 + 0.6 * np.cos(vv)) * np.sin(uu), 0.6 * np.sin(vv)], -1)
        p = p.reshape(-1, 3) + np.random.default_rng(0).normal(scale=0.06 / n_minor, size=(n_major * n_minor, 3))
        i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
        a, b = i * n_minor + j, ((i + 1) % n_major) * n_minor + j
        c, d = ((i + 1) % n_major) * n_minor + (j + 1) % n_minor, i * n_minor + (j + 1) % n_minor
        f = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]).astype(np.int64)
        tp, tf = torch.from_numpy(p), torch.from_numpy(f)
        t_igl = best_time(lambda: igl.cotmatrix(p, f), repeats, lambda: None, clock)
        # first call on these faces (layout built) and a later call (layout kept with the faces tensor)
        t_ours = best_time(lambda: (_LAYOUTS.clear(), cotangent_laplacian(tp, tf)), repeats, lambda: None, clock)
        t_same = best_time(lambda: cotangent_laplacian(tp, tf), repeats, lambda: None, clock)
        ours, ref = cotangent_laplacian(tp, tf), igl.cotmatrix(p, f).tocsr()
        idx = ours.indices().numpy()
        diff = np.abs(np.asarray(ref[idx[0], idx[1]]).ravel() - ours.values().numpy()).max()
        print(
            f"{len(f):>9} {t_igl:>9.4f} {t_ours:>9.4f} {t_ours / t_igl:>6.2f} {t_same:>13.4f} {t_same / t_igl:>6.2f} {diff:>11.1e}"
        )
    print("ratio: ours / libigl; goal <= 1.0 (CPU, one thread). 'same faces': a later call with the same faces tensor")
    print("(an optimisation loop), which reuses the sparsity layout; libigl has no such reuse")


if __name__ == "__main__":
    main()
