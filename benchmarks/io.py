"""Large mesh files: load and save of a 2M-triangle mesh as binary PLY, binary STL and VTU, geomsci
against trimesh (PLY, STL) and meshio (VTU) in the same run.

Each measurement runs in a fresh process (so peak memory is that operation's own): the best of
``--repeat`` wall times, and the peak resident memory above what the process held before the
operation, next to the size of the data (points + cells as the file stores them). Timings on one
thread. Usage::

    OMP_NUM_THREADS=1 python benchmarks/io.py [--n 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def torus(n: int) -> tuple[np.ndarray, np.ndarray]:
    """An n x n torus grid: n^2 vertices (float32), 2 n^2 triangles (int64)."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(0, 2 * np.pi, n, endpoint=False), indexing="ij")
    pts = np.stack([(1 + 0.3 * np.cos(v)) * np.cos(u), (1 + 0.3 * np.cos(v)) * np.sin(u), 0.3 * np.sin(v)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a, b, c, d = i * n + j, ((i + 1) % n) * n + j, ((i + 1) % n) * n + (j + 1) % n, i * n + (j + 1) % n
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return pts.astype(np.float32), faces.astype(np.int64)


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _current_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def one(lib: str, op: str, fmt: str, path: str, data: str, repeat: int) -> dict:
    """Run one operation ``repeat`` times in this (fresh) process; best time and peak memory of the first."""
    sys.path.insert(0, str(ROOT))
    import meshio
    import torch
    import trimesh

    import geomsci

    with np.load(data) as z:
        pts, faces = z["points"], z["faces"]
    mesh = geomsci.core.mesh.Mesh(torch.from_numpy(pts), torch.from_numpy(faces), "triangle") if lib == "geomsci" else None

    def run():
        if lib == "geomsci":
            return geomsci.save(mesh, path) if op == "save" else geomsci.load(path)
        if lib == "trimesh":
            if op == "save":
                tm = trimesh.Trimesh(pts, faces, process=False)
                return Path(path).write_bytes(tm.export(file_type=fmt))
            return trimesh.load(path, process=(fmt == "stl"))  # STL: merged vertices, as geomsci gives
        if op == "save":
            return meshio.write(path, meshio.Mesh(pts, [("triangle", faces)]))
        return meshio.read(path)

    times = []
    base = _current_rss()
    for k in range(repeat):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
        if k == 0:
            peak = _rss() - base
        del out
    return {"time": min(times), "peak": max(peak, 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="torus grid size: n^2 vertices, 2 n^2 triangles")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pts, faces = torus(args.n)
    data_mb = (pts.nbytes + faces.nbytes // 2) / 1e6  # as the files hold them: float32 points, int32 indices
    print(
        f"torus mesh: {len(pts):,} points, {len(faces):,} triangles; data as stored {data_mb:.0f} MB; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, points=pts, faces=faces)
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
        for fmt, peer in (("ply", "trimesh"), ("stl", "trimesh"), ("vtu", "meshio")):
            for op in ("save", "load"):
                result = {}
                for lib in ("geomsci", peer):
                    path = Path(tmp) / f"{lib}.{fmt}"
                    if op == "load":  # both read the same file, written by the peer
                        path = Path(tmp) / f"{peer}.{fmt}"
                    cmd = [sys.executable, __file__, "--one", lib, op, fmt, str(path), str(data), str(args.repeat)]
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if out.returncode:
                        raise SystemExit(f"{lib} {op} {fmt} failed:\n{out.stderr[-2000:]}")
                    result[lib] = json.loads(out.stdout.strip().splitlines()[-1])
                g, p = result["geomsci"], result[peer]
                rows.append(
                    (
                        fmt,
                        op,
                        peer,
                        g["time"],
                        p["time"],
                        g["peak"] / 1e6,
                        p["peak"] / 1e6,
                        os.path.getsize(Path(tmp) / f"{peer}.{fmt}") / 1e6,
                    )
                )
                print(
                    f"{fmt:4s} {op:5s} geomsci {g['time']:6.3f} s  {peer:8s} {p['time']:6.3f} s  ratio {g['time'] / p['time']:5.2f}x  "
                    f"peak extra memory geomsci {g['peak'] / 1e6:6.0f} MB  {peer} {p['peak'] / 1e6:6.0f} MB",
                    flush=True,
                )
    print("\n| format | op | geomsci s | peer | peer s | ratio | geomsci peak MB | peer peak MB | file MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt, op, peer, gt, pt, gm, pm, size in rows:
        print(f"| {fmt} | {op} | {gt:.3f} | {peer} | {pt:.3f} | {gt / pt:.2f}x | {gm:.0f} | {pm:.0f} | {size:.0f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        lib, op, fmt, path, data, repeat = sys.argv[2:8]
        print(json.dumps(one(lib, op, fmt, path, data, int(repeat))))
    else:
        main()
