"""Multiview reconstruction of an open surface with G-Shell, and the same run with the watertight
template only (nu ignored), from 12 silhouette + depth + normal images at 96 x 96 rendered by
``geomsci.core.render`` with known cameras.

    .venv/bin/python examples/gshell_multiview.py [--target hemisphere] [--steps 60] [--out gshell_multiview]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import geomsci
from geomsci.gshell.evaluation import evaluate
from geomsci.gshell.multiview import fit_multiview, render_views, ring_cameras
from geomsci.gshell.targets import BOUNDARY_LOOPS, TARGETS, make_target
from geomsci.gshell.turntable import turntable


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="hemisphere", choices=TARGETS)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--views", type=int, default=12)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("gshell_multiview"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    target = make_target(args.target)
    cams = ring_cameras(args.views, image_size=args.size)
    images = render_views(target, cams)
    rows = []
    for use_nu in (True, False):
        t0 = time.perf_counter()
        res = fit_multiview(images, cams, use_nu=use_nu, resolution=args.resolution, steps=args.steps, seed=args.seed)
        dt = time.perf_counter() - t0
        ev = evaluate(res.mesh, target)
        label = "G-Shell" if use_nu else "watertight only"
        rows.append((label, ev, evaluate(res.raw_mesh, target)["boundary_loops"], dt))
        geomsci.save(res.mesh, args.out / f"{args.target}_{'gshell' if use_nu else 'watertight'}.ply")
        rows[-1] += (res.mesh,)
    turntable(
        [target] + [r[4] for r in rows], args.out / f"{args.target}_multiview.png", titles=["target"] + [r[0] for r in rows]
    )
    print(
        f"{args.target}: {args.views} views at {args.size}x{args.size}, grid {args.resolution}, {args.steps} steps, seed {args.seed}"
    )
    head = (
        f"{'method':>16} {'Chamfer':>8} {'F@1%':>6} {f'loops (want {BOUNDARY_LOOPS[args.target]})':>15} {'raw':>4} {'time s':>7}"
    )
    print(head)
    print("-" * len(head))
    for label, ev, raw, dt, _ in rows:
        print(f"{label:>16} {ev['chamfer']:>8.4f} {ev['fscore']:>6.3f} {ev['boundary_loops']:>15} {raw:>4} {dt:>7.0f}")
    print(f"outputs in {args.out.resolve()}")


if __name__ == "__main__":
    main()
