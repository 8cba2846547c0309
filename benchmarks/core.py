"""Core ops against their peer libraries, side by side, on one CPU thread.

    python benchmarks/core.py            # 100k-point Chamfer, 200k-face meshes
    python benchmarks/core.py --quick    # small sizes, a few seconds
    python benchmarks/core.py --cuda --json $OUT/core_cuda.json   # Chamfer and render on a GPU

Rows: Chamfer distance vs scipy cKDTree (build both trees, query both ways) for two samplings of one
sphere ("touching"), of two spheres 2% apart and 10% apart (far apart relative to the point
spacing); on CPU geomsci's search is a cKDTree too, queried in the leaf order of the query set's
own tree, with distances recomputed in torch (``--grid`` times the torch grid, the CUDA path,
instead); face normals + areas
vs trimesh (``trimesh.triangles``); cotangent Laplacian assembly vs libigl ``igl.cotmatrix``
(falls back to a scipy hand assembly when libigl is missing); P1 point location + interpolation
vs scipy ``LinearNDInterpolator`` on a triangulation it already holds. Each row also checks that
both sides computed the same thing. ratio = geomsci time / peer time (lower is better; goal <= 1.2
for Chamfer, <= 1 for the cotangent Laplacian).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import torch


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def torus(n_major: int, n_minor: int, R: float = 2.0, r: float = 0.6):
    u = np.arange(n_major) * 2 * math.pi / n_major
    v = np.arange(n_minor) * 2 * math.pi / n_minor
    uu, vv = np.meshgrid(u, v, indexing="ij")
    p = np.stack([(R + r * np.cos(vv)) * np.cos(uu), (R + r * np.cos(vv)) * np.sin(uu), r * np.sin(vv)], -1)
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    a = i * n_minor + j
    b = ((i + 1) % n_major) * n_minor + j
    c = ((i + 1) % n_major) * n_minor + (j + 1) % n_minor
    d = i * n_minor + (j + 1) % n_minor
    f = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    # jitter so that the mesh is irregular (no repeated cotangents)
    p = p.reshape(-1, 3) + np.random.default_rng(0).normal(scale=0.1 * r / n_minor, size=(n_major * n_minor, 3))
    return p, f.astype(np.int64)


def bench_chamfer(n: int, repeat: int, gap: float, method: str = "auto"):
    """Two independent samplings of the unit sphere, the second scaled by 1 + gap."""
    from scipy.spatial import cKDTree

    from geomsci.core.losses import chamfer_distance

    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = rng.normal(size=(n, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True) / (1 + gap)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def ours():
        if method == "auto":
            return float(chamfer_distance(tx, ty)[0])
        from geomsci.core.spatial import nearest_neighbors

        return float(nearest_neighbors(tx, ty, method=method)[0].mean() + nearest_neighbors(ty, tx, method=method)[0].mean())

    def peer():
        dxy, _ = cKDTree(y).query(x)
        dyx, _ = cKDTree(x).query(y)
        return float((dxy**2).mean() + (dyx**2).mean())

    diff = abs(ours() - peer()) / peer()
    name = f"Chamfer{'' if method == 'auto' else ' (' + method + ')'}, {n // 1000}k pts, shells {gap:.0%} apart"
    return name, "scipy cKDTree", best_time(ours, repeat), best_time(peer, repeat), f"rel diff {diff:.1e}"


def bench_normals_areas(p, f, repeat: int):
    import trimesh

    from geomsci.core.geometry import face_areas, face_normals

    tp, tf = torch.from_numpy(p), torch.from_numpy(f)

    def ours():
        return face_normals(tp, tf), face_areas(tp, tf)

    def peer():
        tri = p[f]  # (F, 3, 3)
        crosses = trimesh.triangles.cross(tri)  # shared by both, as trimesh.Trimesh does
        normals, _ = trimesh.triangles.normals(crosses=crosses)
        return normals, trimesh.triangles.area(crosses=crosses)

    (n0, a0), (n1, a1) = ours(), peer()
    diff = max(np.abs(n0.numpy() - n1).max(), np.abs(a0.numpy() - a1).max())
    return (
        f"face normals + areas, {len(f) // 1000}k faces",
        "trimesh",
        best_time(ours, repeat),
        best_time(peer, repeat),
        f"max diff {diff:.1e}",
    )


def bench_cotmatrix(p, f, repeat: int):
    from geomsci.core.geometry import _LAYOUTS, cotangent_laplacian

    tp, tf = torch.from_numpy(p), torch.from_numpy(f)
    try:
        import igl

        name = "libigl cotmatrix"

        def peer():
            return igl.cotmatrix(p, f)
    except ImportError:  # pragma: no cover - libigl is in the 'reference' extra
        import scipy.sparse as sp

        name = "scipy hand assembly"

        def peer():
            v = p[f]
            a, b = np.roll(v, -1, 1) - v, np.roll(v, 1, 1) - v
            cot = (a * b).sum(-1) / np.linalg.norm(np.cross(a, b), axis=-1) / 2
            i, j = np.roll(f, -1, 1).ravel(), np.roll(f, -2, 1).ravel()
            w = cot.ravel()
            rows, cols = np.concatenate([i, j, i, j]), np.concatenate([j, i, i, j])
            return sp.coo_matrix((np.concatenate([w, w, -w, -w]), (rows, cols)), shape=(len(p),) * 2).tocsr()

    def ours():  # a first call on these faces: the layout kept with the faces tensor is dropped
        _LAYOUTS.clear()
        return cotangent_laplacian(tp, tf)

    lo = ours()
    ref = peer().tocoo()
    dense_diff = np.abs(lo.values().numpy()).sum() - np.abs(ref.data).sum()
    idx = lo.indices().numpy()
    ref_csr = peer().tocsr()
    diff = np.abs(np.asarray(ref_csr[idx[0], idx[1]]).ravel() - lo.values().numpy()).max()
    return (
        f"cotangent Laplacian, {len(f) // 1000}k faces",
        name,
        best_time(ours, repeat),
        best_time(peer, repeat),
        f"max diff {max(diff, abs(dense_diff)):.1e}",
    )


def bench_interp(n_mesh: int, n_query: int, repeat: int):
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import Delaunay

    from geomsci.core.interp import interpolate
    from geomsci.core.mesh import Mesh

    rng = np.random.default_rng(2)
    pts = rng.random((n_mesh, 2))
    pts[:, 0] = pts[:, 0] ** 3  # graded, like a boundary-layer mesh
    tri = Delaunay(pts)
    field = np.sin(3 * pts[:, 0]) + pts[:, 1]
    q = rng.random((n_query, 2)) * 0.98 + 0.01
    mesh = Mesh(torch.from_numpy(pts), torch.from_numpy(tri.simplices.astype(np.int64)), "triangle")
    tfield, tq = torch.from_numpy(field), torch.from_numpy(q)
    interp = LinearNDInterpolator(tri, field)

    def ours():
        with warnings.catch_warnings():  # a few queries near the corners lie outside the hull
            warnings.simplefilter("ignore")
            return interpolate(mesh, tfield, tq)[0]

    def peer():
        return interp(q)

    v0, v1 = ours().numpy(), peer()
    ok = ~np.isnan(v1)
    diff = np.abs(v0[ok] - v1[ok]).max()
    return (
        f"P1 interpolation, {n_query // 1000}k pts in {len(tri.simplices) // 1000}k tris",
        "scipy LinearNDInterp",
        best_time(ours, repeat),
        best_time(peer, repeat),
        f"max diff {diff:.1e}",
    )


def cuda_rows(
    json_path: str | None,
    budget_s: float = 240.0,
    *,
    device: str = "cuda",
    chamfer_sizes=(100_000, 1_000_000),
    render_specs=((256, 20_000), (512, 20_000), (512, 100_000)),
) -> None:
    """``--cuda``: Chamfer (two-sided, squared) forward and forward + backward at 100k and 1M points
    for spheres touching / 2% / 10% apart, and the soft renderer (3 channels, fwd + bwd) at 256^2 /
    512^2 with 20k / 100k faces: ms (median of 5 after a warm-up), peak memory, and whether the CUDA
    result matches the CPU one (Chamfer at 100k). Each row in try/except, written as it goes, a
    wall-clock cap. The CPU ratios of the same code are in ``benchmarks/gpu.py``."""
    import json

    from geomsci.core.metrics import chamfer_distance
    from geomsci.core.render import Camera, render
    from geomsci.core.shapes import uv_sphere

    dev = torch.device(device)
    on_gpu = dev.type == "cuda"  # device="cpu" is a dry run of the script itself (no memory figures)
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    t_start = time.perf_counter()
    results = {"gpu": torch.cuda.get_device_name(0) if on_gpu else "cpu (dry run)", "torch": torch.__version__, "rows": []}

    def timed(fn, repeat=5):
        fn()
        sync()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t)
        return 1e3 * sorted(times)[len(times) // 2], torch.cuda.max_memory_allocated() / 2**20 if on_gpu else float("nan")

    def spheres(n, gap):
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(n, 3, generator=g), torch.randn(n, 3, generator=g)
        return x / x.norm(dim=1, keepdim=True), (1 + gap) * y / y.norm(dim=1, keepdim=True)

    specs = []
    for n in chamfer_sizes:
        for gap in (0.0, 0.02, 0.10):
            for bwd in (False, True):
                specs.append(("chamfer", n, gap, bwd))
    specs += [("render", size, faces, True) for size, faces in render_specs]
    print(f"{'row':<48} {'ms':>9} {'peak MiB':>9}  check")
    for spec in specs:
        if time.perf_counter() - t_start > budget_s:
            print("wall-clock cap reached; remaining rows skipped")
            break
        row = {"spec": list(spec)}
        try:
            if spec[0] == "chamfer":
                _, n, gap, bwd = spec
                xc, yc = spheres(n, gap)
                x, y = xc.to(dev).requires_grad_(bwd), yc.to(dev)

                def run(x=x, y=y, bwd=bwd):
                    d, _ = chamfer_distance(x, y)
                    if bwd:
                        d.backward()
                    return d

                name = f"Chamfer {n // 1000}k x {n // 1000}k, {gap:.0%} apart, {'fwd+bwd' if bwd else 'fwd'}"
                check = ""
                if n <= 100_000 and not bwd and on_gpu:
                    ref = float(chamfer_distance(xc, yc)[0])
                    check = f"rel diff to CPU {abs(float(run()) - ref) / ref:.1e}"
            else:
                _, size, faces, _ = spec
                n_lat = max(4, round(math.sqrt(faces / 4)))
                mesh = uv_sphere(n_lat, 2 * n_lat, radius=0.8, dtype=torch.float32, device=dev)
                pts = mesh.points.detach().clone().requires_grad_(True)
                cam = Camera.look_at((0.0, -3.0, 1.0), image_size=size)

                def run(pts=pts, cells=mesh.cells, cam=cam):
                    out = render(pts, cells, cam)
                    (out["silhouette"].sum() + out["depth"].sum() + out["normals"].sum()).backward()
                    pts.grad = None

                name = f"render {size}^2, {mesh.n_cells // 1000}k faces, fwd+bwd"
                check = ""
            ms, peak = timed(run)
            row.update(name=name, ms=ms, peak_mib=peak, check=check)
            print(f"{name:<48} {ms:>9.2f} {peak:>9.0f}  {check}", flush=True)
        except Exception as err:  # one failing row must not cost the others
            row.update(error=f"{type(err).__name__}: {err}")
            print(f"{spec}: {row['error']}", flush=True)
        results["rows"].append(row)
        if json_path:
            with open(json_path, "w") as fh:
                json.dump(results, fh, indent=1)
        if on_gpu:
            torch.cuda.empty_cache()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    ap.add_argument("--grid", action="store_true", help="also time the torch grid search (the CUDA path) on CPU")
    ap.add_argument("--cuda", action="store_true", help="time Chamfer and the renderer on the GPU instead (see cuda_rows)")
    ap.add_argument("--json", default=None, help="with --cuda: write the rows to this JSON file as they come")
    args = ap.parse_args(argv)
    if args.cuda:
        cuda_rows(args.json)
        return
    torch.set_num_threads(1)
    if args.quick:
        n_pts, grid, n_mesh, n_query, repeat = 10_000, (100, 100), 5_000, 20_000, 2
    else:
        n_pts, grid, n_mesh, n_query, repeat = 100_000, (500, 200), 50_000, 100_000, 3
    p, f = torus(*grid)
    rows = [
        bench_chamfer(n_pts, repeat, 0.0),
        bench_chamfer(n_pts, repeat, 0.02),
        bench_chamfer(n_pts, repeat, 0.10),
        *([bench_chamfer(n_pts, repeat, g, "grid") for g in (0.0, 0.02, 0.10)] if args.grid else []),
        bench_normals_areas(p, f, repeat),
        bench_cotmatrix(p, f, repeat),
        bench_interp(n_mesh, n_query, repeat),
    ]
    head = f"{'operation':<44} {'peer':<22} {'geomsci s':>10} {'peer s':>9} {'ratio':>6}  check"
    print(f"geomsci core benchmark (torch {torch.__version__}, 1 thread, best of {repeat})")
    print(head)
    print("-" * len(head))
    for name, peer, t_ours, t_peer, check in rows:
        print(f"{name:<44} {peer:<22} {t_ours:>10.4f} {t_peer:>9.4f} {t_ours / t_peer:>6.2f}  {check}")


if __name__ == "__main__":
    main()
