"""Every hot path of geomsci timed on CUDA, each beside the same code on one CPU thread.

One script, public APIs only (so it keeps working while the implementations change), one JSON file
and one markdown table (the docs/performance.md layout, headed by the GPU's name):

    python3 benchmarks/gpu.py --budget 240 --out $OUT        # on a CUDA machine (< 4 min)
    python  benchmarks/gpu.py --quick --out /tmp/gpu_quick    # small sizes, CPU only, ~20 s (CI)

Rows (GPU size; the CPU reference runs the same call on one thread, at a smaller size where the
full one would take too long; the row then says so and the ratio is per unit of work):

- marching cubes 128^3 / 256^3 / 512^3 lattice nodes, forward and forward+backward, with the
  effective bandwidth of the grid read (bytes of the grid / time);
- ``deepmesh.extract_surface`` of a small MLP field (3-64-64-1) at 256^3, forward+backward to the
  MLP's parameters (the field evaluation included);
- G-Shell extraction (``gshell.extract_gshell`` on ``core.tetgrid.tet_grid``) at 64^3 / 128^3
  cells, forward+backward to the grid's sdf and msdf;
- Chamfer (``core.losses.chamfer_distance``, two-sided, squared) 100k and 1M points, forward and
  forward+backward, and brute-force chunked ``torch.cdist`` on the same device as the reference;
- the soft renderer (``core.render.render``, all channels) at 256^2 / 512^2 with 20k / 100k faces,
  forward+backward;
- batched Hermite (``nbody.integrators.evolve``, 3-body systems, mu = 1e-2): system-steps/s at
  65k and 1M systems;
- the MMGP GP fit (``mmgp.BatchedGP``) at 300 samples;
- the panel-method solve (``wing.solve_panels``) at about 5k panels.

Timing: a warm-up call, then repeats until ``--repeat-seconds`` (or the repeat count) is spent,
median reported; on CUDA each call is bracketed by ``torch.cuda.Event``s and peak memory is
``torch.cuda.max_memory_allocated`` since a reset just before the timed calls (inputs included).
Every measurement is in try/except (an error becomes a row with its text), and the JSON and the
table are rewritten after every row, so a killed run still leaves its rows. ``--budget`` is a hard
wall-clock cap: once spent, the remaining rows are written as skipped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from geomsci.core.threads import limit_threads  # noqa: E402

# -- timing -------------------------------------------------------------------------------------------


class Clock:
    """The wall-clock budget of the whole run."""

    def __init__(self, budget_s: float):
        self.start = time.perf_counter()
        self.budget_s = budget_s

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.budget_s - self.elapsed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(run, device: torch.device, *, repeats: int, seconds: float, clock: Clock, warmup: bool = True) -> dict:
    """Median milliseconds of ``run()`` over up to ``repeats`` calls after one warm-up.

    A first call slower than ``seconds`` (CPU: ``seconds / 2``) is not repeated: its time is the
    result (n = 1). On CUDA also the peak allocated memory (MB) over the timed calls.
    """
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    if warmup:
        t0 = time.perf_counter()
        run()  # warm-up: CUDA context, kernels, caches
        _sync(device)
        first_ms = (time.perf_counter() - t0) * 1e3
        # a call this slow is its own measurement (compile and launch overheads are small beside it)
        if first_ms > 1e3 * (seconds if cuda else seconds / 2):
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
            return {"ms": first_ms, "n": 1, "peak_mb": peak}
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            run()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        else:
            t = time.perf_counter()
            run()
            times.append((time.perf_counter() - t) * 1e3)
        spent = time.perf_counter() - start
        if spent > seconds or clock.left < 0 or spent + times[-1] / 1e3 > seconds * 1.5:
            break
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return {"ms": statistics.median(times), "n": len(times), "peak_mb": peak}


# -- workloads: each builder returns (run, work units, extra info) ------------------------------------


def blob_values(n: int, device, dtype=torch.float32) -> torch.Tensor:
    """A bumpy sphere SDF on n^3 nodes over [-1, 1]^3 (a surface of realistic size, ~4 n^2 faces)."""
    x = torch.linspace(-1, 1, n, dtype=dtype, device=device)
    X, Y, Z = torch.meshgrid(x, x, x, indexing="ij")
    r = (X * X + Y * Y + Z * Z).sqrt()
    return (r - 0.7 - 0.05 * torch.sin(6 * X) * torch.sin(5 * Y) * torch.sin(4 * Z)).contiguous()


def build_marching_cubes(n: int, backward: bool, *, device):
    from geomsci.deepmesh import marching_cubes

    values = blob_values(n, device)
    if backward:
        values.requires_grad_(True)
    spacing = 2.0 / (n - 1)

    def run():
        with torch.set_grad_enabled(backward):
            mesh = marching_cubes(values, 0.0, spacing=spacing, origin=(-1.0, -1.0, -1.0))
            if backward:
                mesh.points.square().sum().backward()
                values.grad = None
        return mesh

    return run, n**3, {"bytes": values.numel() * values.element_size()}


class _MLPField(torch.nn.Module):
    """|x| - 0.6 plus a small MLP (3-64-64-1): a field with parameters, like a neural SDF."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, 64),
            torch.nn.Softplus(beta=10),
            torch.nn.Linear(64, 64),
            torch.nn.Softplus(beta=10),
            torch.nn.Linear(64, 1),
        )
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def forward(self, p):
        return p.norm(dim=-1) - 0.6 + 0.05 * self.net(p).squeeze(-1)


def build_extract_surface(n: int, *, device):
    from geomsci.deepmesh import extract_surface

    field = _MLPField().to(device)

    def run():
        mesh = extract_surface(field, 1.0, n)
        mesh.points.square().sum().backward()
        field.zero_grad(set_to_none=True)
        return mesh

    return run, n**3, {}


def build_gshell(n: int, *, device):
    from geomsci.core.tetgrid import tet_grid
    from geomsci.gshell import extract_gshell

    vertices, tets = tet_grid(n, device=device)
    r = vertices.norm(dim=1)
    sdf = (r - 0.6 - 0.05 * torch.sin(5 * vertices[:, 0]) * torch.sin(4 * vertices[:, 1])).requires_grad_(True)
    msdf = (vertices[:, 2] + 0.3).requires_grad_(True)  # open the shell below z = -0.3

    def run():
        surf = extract_gshell(vertices, tets, sdf, msdf)
        (surf.mesh.points.square().sum() + surf.nu_template.square().sum()).backward()
        sdf.grad = msdf.grad = None
        return surf

    return run, tets.shape[0], {}


def _sphere_points(n: int, radius: float, seed: int, device) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(n, 3, generator=g)
    return (radius * p / p.norm(dim=1, keepdim=True)).to(device)


def build_chamfer(n: int, backward: bool, *, device):
    from geomsci.core.losses import chamfer_distance

    x = _sphere_points(n, 1.0, 0, device).requires_grad_(backward)
    y = _sphere_points(n, 1.02, 1, device)  # 2% apart

    def run():
        with torch.set_grad_enabled(backward):
            d, _ = chamfer_distance(x, y)
            if backward:
                d.backward()
                x.grad = None
        return d

    return run, n, {}


def _brute_nn_sq(a: torch.Tensor, b: torch.Tensor, max_bytes: int) -> torch.Tensor:
    """Squared distance from every row of a to its nearest row of b, by chunked torch.cdist."""
    chunk = max(1, max_bytes // (4 * b.shape[0]))
    return torch.cat([torch.cdist(a[i : i + chunk], b).amin(dim=1) for i in range(0, a.shape[0], chunk)]).square()


def build_chamfer_brute(n: int, *, device):
    x = _sphere_points(n, 1.0, 0, device)
    y = _sphere_points(n, 1.02, 1, device)
    max_bytes = 2**31 if device.type == "cuda" else 2**27

    def run():
        with torch.no_grad():
            return _brute_nn_sq(x, y, max_bytes).mean() + _brute_nn_sq(y, x, max_bytes).mean()

    return run, n * n, {}


def _sphere_mesh(n_faces: int, device):
    from geomsci.core.shapes import uv_sphere

    n_lat = max(4, round(math.sqrt(n_faces / 4)))
    return uv_sphere(n_lat, 2 * n_lat, radius=0.8, dtype=torch.float32, device=device)


def build_render(size: int, n_faces: int, *, device):
    from geomsci.core.render import Camera, render

    mesh = _sphere_mesh(n_faces, device)
    points = mesh.points.detach().clone().requires_grad_(True)
    faces = mesh.cells
    camera = Camera.look_at((0.0, -3.0, 1.0), image_size=size)

    def run():
        out = render(points, faces, camera)
        (out["silhouette"].sum() + out["depth"].sum() + out["normals"].sum()).backward()
        points.grad = None
        return out

    return run, size * size, {"faces": int(faces.shape[0])}


def build_hermite(n_systems: int, steps: int, *, device):
    from geomsci.nbody import paper_triple
    from geomsci.nbody.integrators import evolve, make_state
    from geomsci.nbody.units import G_AU

    base = [paper_triple(s) for s in range(64)]
    x = torch.stack([s.points for s in base]).to(torch.float64)
    v = torch.stack([s.point_data["velocities"] for s in base]).to(x)
    m = torch.stack([s.point_data["masses"].reshape(-1) for s in base]).to(x)
    reps = -(-n_systems // 64)
    x, v, m = (t.repeat(reps, *([1] * (t.dim() - 1)))[:n_systems].to(device) for t in (x, v, m))
    state = make_state(x, v, m, G_AU)

    def run():
        return evolve(state, 1e9, param=1e-2, max_steps=steps)

    return run, n_systems * steps, {"steps": steps}


def build_gp(n: int, n_iter: int, n_polish: int, *, device):
    from geomsci.mmgp import BatchedGP

    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 6, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.stack([torch.sin(3 * x[:, 0]) + x[:, 1] ** 2, torch.cos(2 * x[:, 2]) * x[:, 3], x[:, 4] - x[:, 5] ** 3], 1)
    y = y + 0.01 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    x, y = x.to(device), y.to(device)
    BatchedGP(n_restarts=1, n_iter=1, n_polish=1).fit(x[:16], y[:16])  # untimed: gpytorch's and the solvers' lazy set-up

    def run():
        return BatchedGP(seed=0, n_iter=n_iter, n_polish=n_polish).fit(x, y)

    return run, n_iter + n_polish, {}


def build_panels(n_chord: int, n_span: int, *, device):
    from geomsci.wing import Wing, solve_panels, wing_grid

    X = wing_grid(Wing("naca0012", span=6.0, root_chord=1.0), n_chord, n_span, 2, device=device)
    panels = (X.shape[0] - 1) * (X.shape[1] - 1)

    def run():
        return solve_panels(X, torch.tensor([0.0, 4.0], dtype=X.dtype, device=device))

    return run, panels**2, {"panels": panels}


# -- the rows -------------------------------------------------------------------------------------------


def _row(path: str, case: str, build, label, gpu: tuple, cpu: tuple, goal=None, **extra) -> dict:
    """One row: ``build(*args, device=d)`` and its size label ``label(*args)`` at the GPU sizes ``gpu`` and the
    CPU reference sizes ``cpu``; ``extra`` keys (repeats, warmup, unit, work_note, bandwidth) pass through."""
    return dict(
        path=path,
        case=case,
        size=label(*gpu),
        build=lambda d: build(*gpu, device=d),
        cpu_size=label(*cpu),
        cpu_build=lambda d: build(*cpu, device=d),
        goal=goal,
        **extra,
    )


# size labels of the rows, from the builders' arguments
def _cube(n, *_):
    return f"{n}^3"


def _nodes(n, *_):
    return f"{n}^3 nodes"


def _cells(n):
    return f"{n}^3 cells"


def _pairs(n, *_):
    return f"{n:,} x {n:,}"


def _pixels(size, faces):
    return f"{size}^2 px, {faces / 1000:g}k faces"


def _systems(n, steps):
    return f"{n:,} systems x {steps} steps"


def _gp_size(n, n_iter, n_polish):
    return f"{n} samples, {n_iter}+{n_polish} it"


def _panel_grid(n_chord, n_span):
    return f"wing_grid({n_chord}, {n_span})"


def row_specs(quick: bool) -> list[dict]:
    """The table's rows (see :func:`_row`); ``--quick`` shrinks GPU and CPU sizes to CI sizes."""
    q = quick
    specs = []
    for n in (16, 24) if q else (128, 256, 512):
        cpu_n = n if q or n <= 256 else 256
        for bwd in (False, True):
            goal = {"ms": 5.0} if (n == 256 and not bwd) else None
            case = "fwd+bwd" if bwd else "fwd"
            specs.append(_row("marching cubes", case, build_marching_cubes, _nodes, (n, bwd), (cpu_n, bwd), goal, bandwidth=True))
    n, cpu_n = (16, 16) if q else (256, 128)
    specs.append(_row("extract_surface (MLP 3-64-64-1)", "fwd+bwd", build_extract_surface, _cube, (n,), (cpu_n,)))
    for n in (6, 8) if q else (64, 128):
        goal = {"ms": 30.0} if n == 128 else None
        specs.append(_row("G-Shell extract_gshell", "fwd+bwd", build_gshell, _cells, (n,), (n if q else 48,), goal))
    for n in (1_000, 3_000) if q else (100_000, 1_000_000):
        cpu_n = n if q else 100_000
        for bwd in (False, True):
            goal = {"ms": 50.0} if (n == 1_000_000 and not bwd) else None
            case = "fwd+bwd" if bwd else "fwd"
            specs.append(_row("Chamfer chamfer_distance", case, build_chamfer, _pairs, (n, bwd), (cpu_n, bwd), goal))
        brute = (n if q else 10_000,)
        specs.append(_row("Chamfer reference: chunked torch.cdist", "fwd", build_chamfer_brute, _pairs, (n,), brute, repeats=3))
    for size, faces in ((32, 200), (48, 800)) if q else ((256, 20_000), (256, 100_000), (512, 20_000), (512, 100_000)):
        cpu = (size, faces) if q else (256, 20_000)
        goal = {"ms": 50.0, "peak_mb": 2048.0} if (size, faces) == (512, 100_000) else None
        specs.append(
            _row(
                "soft render (3 channels)",
                "fwd+bwd",
                build_render,
                _pixels,
                (size, faces),
                cpu,
                goal,
                work_note="ratio per pixel",
            )
        )
    for n, steps in ((256, 4), (1024, 4)) if q else ((65_536, 40), (1_048_576, 20)):
        cpu = (n, steps) if q else (65_536, 4)
        goal = {"throughput": 1e8} if n == 1_048_576 else None
        hermite = "batched Hermite evolve (3 bodies)"
        specs.append(_row(hermite, "step", build_hermite, _systems, (n, steps), cpu, goal, unit="system-steps/s"))
    # full: BatchedGP's defaults (3 restarts, 150 Adam + 100 L-BFGS iterations); one CPU thread takes ~1 min
    # for that, so the CPU reference runs 30 Adam iterations and the ratio is per iteration
    n, it, pol, cpu_it, cpu_pol = (40, 10, 5, 10, 5) if q else (300, 150, 100, 30, 0)
    gp = "MMGP BatchedGP.fit (3 outputs, 6-D)"
    extra = dict(repeats=1, warmup=q, work_note="ratio per iteration")
    specs.append(_row(gp, "fit", build_gp, _gp_size, (n, it, pol), (n, cpu_it, cpu_pol), **extra))
    grid = (6, 3) if q else (60, 40)  # 5,040 panels
    cpu_grid = (6, 3) if q else (20, 12)  # 560 panels
    specs.append(
        _row(
            "wing solve_panels (2 angles)",
            "solve",
            build_panels,
            _panel_grid,
            grid,
            cpu_grid,
            repeats=2,
            work_note="ratio per panel^2",
        )
    )
    return specs


def _goal_text(goal: dict | None) -> str:
    if not goal:
        return ""
    parts = []
    for k, v in goal.items():
        parts.append({"ms": f"<= {v:g} ms", "peak_mb": f"<= {v / 1024:g} GB", "throughput": f">= {v / 1e6:g} M/s"}[k])
    return ", ".join(parts)


def _goal_met(goal: dict | None, row: dict):
    if not goal or row.get("ms") is None:
        return None
    ok = True
    for k, v in goal.items():
        got = row.get(k)
        if got is None:
            return None
        ok &= (got >= v) if k == "throughput" else (got <= v)
    return bool(ok)


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_row(spec: dict, device: torch.device, clock: Clock, args, cpu_cache: dict) -> dict:
    row = {
        "path": spec["path"],
        "case": spec["case"],
        "size": spec["size"],
        "device": str(device),
        "goal": _goal_text(spec["goal"]),
        "ms": None,
        "n": None,
        "peak_mb": None,
        "gbps": None,
        "throughput": None,
        "cpu_size": spec["cpu_size"],
        "cpu_ms": None,
        "cpu_ratio": None,
        "goal_met": None,
        "note": "",
        "error": None,
    }
    notes = []
    repeats = spec.get("repeats", args.repeats)
    work = None
    if clock.left <= 0:
        row["note"] = "skipped: --budget spent"
        return row
    try:
        run, work, extra = spec["build"](device)
        res = measure(run, device, repeats=repeats, seconds=args.repeat_seconds, clock=clock, warmup=spec.get("warmup", True))
        row.update(ms=res["ms"], n=res["n"], peak_mb=res["peak_mb"])
        if spec.get("bandwidth"):
            row["gbps"] = extra["bytes"] / (res["ms"] * 1e-3) / 1e9
        if spec.get("unit"):
            row["throughput"] = work / (res["ms"] * 1e-3)
        if "faces" in extra:
            notes.append(f"{extra['faces']:,} faces")
        if "panels" in extra:
            notes.append(f"{extra['panels']:,} panels")
        del run
    except Exception as e:  # noqa: BLE001 - every error becomes a row
        row["error"] = f"{type(e).__name__}: {e}"
        if args.traceback:
            traceback.print_exc()
    _free(device)
    if args.cpu_reference and row["error"] is None:
        key = (spec["path"], spec["case"], spec["cpu_size"])
        if clock.left <= 0:
            notes.append("CPU skipped: --budget spent")
        else:
            try:
                if key not in cpu_cache:
                    cpu = torch.device("cpu")
                    with limit_threads(1):
                        run, cpu_work, _ = spec["cpu_build"](cpu)
                        res = measure(run, cpu, repeats=min(repeats, 3), seconds=args.cpu_seconds, clock=clock)
                    cpu_cache[key] = (res["ms"], cpu_work)
                    del run
                cpu_ms, cpu_work = cpu_cache[key]
                row["cpu_ms"] = cpu_ms
                row["cpu_ratio"] = (cpu_ms / cpu_work) / (row["ms"] / work)
                if cpu_work != work:
                    notes.append(f"CPU at {spec['cpu_size']}; " + spec.get("work_note", "ratio per unit of work"))
            except Exception as e:  # noqa: BLE001
                notes.append(f"CPU error: {type(e).__name__}: {e}"[:300])
            _free(torch.device("cpu"))
    row["goal_met"] = _goal_met(spec["goal"], row)
    row["note"] = "; ".join(notes)
    return row


# -- output ---------------------------------------------------------------------------------------------


def _fmt(v, spec: str = ".3g") -> str:
    if v is None:
        return ""
    return format(v, spec)


def _ms(v) -> str:
    if v is None:
        return ""
    return f"{v:.3g}" if v < 100 else f"{v:,.0f}"


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = [
        "# Performance",
        "",
        f"One run of `{meta['command']}` on **{meta['device_name']}** ({meta['date']}; torch {meta['torch']}, "
        f"Python {meta['python']}; CPU reference: the same code on 1 thread of {meta['cpu']}).",
        "",
        "Times are medians of the timed calls after a warm-up (n = calls), CUDA events on the GPU; peak memory is "
        "`torch.cuda.max_memory_allocated` over the timed calls, inputs included. CPU/GPU is the ratio of the CPU "
        "time to the device time for the same work (per unit of work where the CPU ran a smaller size, as the note "
        "says). GB/s is the bytes of the input grid over the time.",
        "",
        "| path | case | size | device ms | n | peak MB | GB/s | throughput | CPU 1-thread ms | CPU/GPU | goal | met | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r["goal_met"]]
        note = r["note"] or ""
        if r["error"]:
            note = f"ERROR {r['error']}".replace("|", "/")[:300]
        thr = f"{r['throughput'] / 1e6:,.1f} M/s" if r["throughput"] else ""
        lines.append(
            f"| {r['path']} | {r['case']} | {r['size']} | {_ms(r['ms'])} | {_fmt(r['n'], 'd')} | {_fmt(r['peak_mb'], ',.0f')} "
            f"| {_fmt(r['gbps'], '.3g')} | {thr} | {_ms(r['cpu_ms'])} | {_fmt(r['cpu_ratio'], '.1f')} | {r['goal']} | {met} | {note} |"
        )
    lines += ["", f"Wall time of the run: {meta.get('wall_s', float('nan')):.0f} s (budget {meta['budget_s']:.0f} s).", ""]
    return "\n".join(lines)


def write(out: Path, meta: dict, rows: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_bench.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "performance.md").write_text(markdown(meta, rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes on the CPU (CI; about 20 s)")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu (always cpu with --quick)")
    ap.add_argument("--budget", type=float, default=240.0, help="hard wall-clock cap in seconds; later rows are skipped")
    ap.add_argument("--out", type=Path, default=Path("gpu_bench_out"), help="folder for gpu_bench.json and performance.md")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per row at most")
    ap.add_argument("--repeat-seconds", type=float, default=2.0, help="time per device row at most (after the warm-up)")
    ap.add_argument("--cpu-seconds", type=float, default=3.0, help="time per CPU reference at most")
    ap.add_argument("--no-cpu-reference", dest="cpu_reference", action="store_false")
    ap.add_argument("--only", default=None, help="run only rows whose path contains this text (case-insensitive)")
    ap.add_argument("--traceback", action="store_true", help="print the traceback of a failing row")
    args = ap.parse_args(argv)

    clock = Clock(args.budget)
    if args.quick:
        device = torch.device("cpu")
        args.repeats, args.repeat_seconds, args.cpu_seconds = min(args.repeats, 2), 0.5, 0.5
    else:
        device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    meta = {
        "command": "python "
        + " ".join(
            [Path(sys.argv[0]).name if argv is None else "benchmarks/gpu.py"] + (sys.argv[1:] if argv is None else list(argv))
        ),
        "device_name": name,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "budget_s": args.budget,
        "quick": args.quick,
        "cuda": torch.version.cuda,
    }
    rows: list[dict] = []
    cpu_cache: dict = {}
    specs = row_specs(args.quick)
    if args.only:
        specs = [s for s in specs if args.only.lower() in s["path"].lower()]
    print(f"benchmarks/gpu.py on {name}, budget {args.budget:.0f} s, {len(specs)} rows -> {args.out}", flush=True)
    for spec in specs:
        row = run_row(spec, device, clock, args, cpu_cache)
        rows.append(row)
        meta["wall_s"] = clock.elapsed
        write(args.out, meta, rows)
        status = f"ERROR {row['error']}" if row["error"] else f"{_ms(row['ms'])} ms"
        print(
            f"[{clock.elapsed:6.1f}s] {row['path']:<40} {row['case']:<8} {row['size']:<26} {status:>12}  "
            f"cpu {_ms(row['cpu_ms']) or '-':>8} ms  x{_fmt(row['cpu_ratio'], '.1f') or '-'}  "
            f"{row['goal']} {'' if row['goal_met'] is None else ('met' if row['goal_met'] else 'NOT met')} {row['note']}",
            flush=True,
        )
    meta["wall_s"] = clock.elapsed
    write(args.out, meta, rows)
    print(markdown(meta, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
