"""Fuzzing `geomsci.load`: valid files of every format, truncated, bit-flipped and with edited headers.

Every mutated file must give either a valid `Mesh` or one ``ValueError`` line that names the file,
within a time bound: no hang, no interpreter crash, no other exception type from a dependency.

``python tests/core/io_fuzz.py --cases 3000`` runs thousands in a worker process that the parent
restarts after a crash or a hang (each counted), and prints the counts; the default test suite runs
a few hundred in-process (test_io_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

PER_FILE_SECONDS = 10.0


# formats read in-process (fast); .vtp and the legacy .vtk that meshio refuses go through VTK in a child process
IN_PROCESS = (".ply", ".stl", ".obj", ".off", ".glb", ".vtu", ".msh", ".xdmf")


def seed_files(folder: Path, with_pyvista: bool = True) -> list[Path]:
    """Valid files in every format `load` reads, written by geomsci and by the other tools."""
    import meshio
    import torch
    import trimesh

    import geomsci
    from geomsci.core import shapes
    from geomsci.core.mesh import Mesh

    folder.mkdir(parents=True, exist_ok=True)
    m = shapes.icosphere(1)
    m.set_point_field("t", torch.linspace(0, 1, m.n_points))
    m.set_cell_field("r", torch.arange(m.n_cells) % 3)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ext in ("ply", "vtk", "vtu", "msh", "obj", "off", "stl", "glb"):
            out.append(geomsci.save(m, folder / f"geomsci.{ext}"))
        tm = trimesh.Trimesh(m.points.double().numpy(), m.cells.numpy(), process=False)
        for name, kind, enc in (("tm_ascii.ply", "ply", "ascii"), ("tm_ascii.stl", "stl_ascii", None)):
            data = tm.export(file_type=kind, **({"encoding": enc} if enc else {}))
            (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
            out.append(folder / name)
        tet = Mesh(
            torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]),
            torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]),
            "tetra",
            {"u": torch.arange(5.0)},
        )
        mm = tet.to_meshio()
        for name, kw in (
            ("ascii.vtk", dict(binary=False)),
            ("v42.vtk", dict(file_format="vtk42")),
            ("ascii.vtu", dict(binary=False)),
            ("raw.vtu", dict(compression=None)),
            ("g41.msh", dict(file_format="gmsh", binary=True)),
            ("g22a.msh", dict(file_format="gmsh22", binary=False)),
        ):
            if name == "g22a.msh":
                mm = meshio.Mesh(mm.points, mm.cells)  # without point data (meshio's ASCII writer garbles it)
            meshio.write(folder / name, mm, **kw)
            out.append(folder / name)
        try:
            import h5py  # noqa: F401

            meshio.write(folder / "xml.xdmf", tet.to_meshio(), data_format="XML")
            out.append(folder / "xml.xdmf")
        except ImportError:
            pass
        try:
            if not with_pyvista:
                raise ImportError
            import pyvista as pv

            s = pv.Sphere(theta_resolution=6, phi_resolution=5)
            for name, b in (("pv.vtp", True), ("pv_ascii.vtp", False), ("pv_poly.vtk", True), ("pv_poly_ascii.vtk", False)):
                s.save(str(folder / name), binary=b)
                out.append(folder / name)
        except ImportError:
            pass
    return out


_NUMBER = re.compile(rb"(?<![A-Za-z_])\d+(?:\.\d+)?")
_BIG = [b"0", b"1", b"-1", b"2", b"4294967295", b"2147483648", b"99999999999999999999", b"1e308", b"nan", b"-7", b"3.5"]


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One random mutation of a file's bytes and its description."""
    kind = rng.choice(["truncate", "flip", "header", "insert", "zero", "duplicate", "combo"])
    n = len(data)
    if kind == "combo":
        out = data
        for _ in range(int(rng.integers(2, 4))):
            out, _ = mutate(out, rng)
        return out, "combo"
    if kind == "truncate":
        cut = int(rng.integers(0, n))
        return data[:cut], f"truncate at {cut}"
    if kind == "flip":
        arr = bytearray(data)
        k = int(rng.integers(1, 9))
        # half the flips land in the first 600 bytes (the header), the rest anywhere
        pos = [int(rng.integers(0, min(n, 600))) if rng.random() < 0.5 else int(rng.integers(0, n)) for _ in range(k)]
        for p in pos:
            arr[p] ^= 1 << int(rng.integers(0, 8))
        return bytes(arr), f"flip bits at {pos}"
    if kind == "header":
        head = data[:2000]
        numbers = list(_NUMBER.finditer(head))
        if not numbers:
            return data[: n // 2], "truncate (no number in the header)"
        mt = numbers[int(rng.integers(0, len(numbers)))]
        new = _BIG[int(rng.integers(0, len(_BIG)))]
        return data[: mt.start()] + new + data[mt.end() :], f"header number {mt.group()!r} -> {new!r}"
    if kind == "insert":
        p = int(rng.integers(0, n))
        junk = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        return data[:p] + junk + data[p:], f"insert {len(junk)} bytes at {p}"
    if kind == "zero":
        p = int(rng.integers(0, n))
        k = int(rng.integers(1, 256))
        return data[:p] + bytes(min(k, n - p)) + data[p + k :], f"zero {k} bytes at {p}"
    p, k = int(rng.integers(0, n)), int(rng.integers(1, 512))
    return data[:p] + data[p : p + k] + data[p:], f"duplicate {k} bytes at {p}"


class _Timeout(BaseException):  # not an Exception: load must not wrap it into a ValueError
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check_one(path: Path, seconds: float = PER_FILE_SECONDS) -> tuple[str, str]:
    """('mesh' | 'error' | 'hang' | 'bad', detail) for loading one file in this process."""
    import torch

    import geomsci
    from geomsci.core.mesh import Mesh

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mesh = geomsci.load(path)
    except _Timeout:
        return "hang", f"more than {seconds} s"
    except ValueError as e:
        msg = str(e)
        if "\n" in msg:
            return "bad", f"multi-line error: {msg[:300]!r}"
        if str(path) not in msg:
            return "bad", f"error does not name the file: {msg[:300]!r}"
        return "error", msg.replace(str(path), "FILE")[:300]
    except BaseException as e:  # noqa: BLE001 - anything else is a finding
        if isinstance(e, KeyboardInterrupt):
            raise
        return "bad", f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if not isinstance(mesh, Mesh):
        return "bad", f"returned {type(mesh).__name__}"
    if not torch.isfinite(mesh.points).all():
        return "bad", "non-finite points"
    if mesh.cells is not None and mesh.n_cells and (int(mesh.cells.min()) < 0 or int(mesh.cells.max()) >= mesh.n_points):
        return "bad", "cell index out of range"
    return "mesh", f"{mesh.n_points} points, {mesh.n_cells} {mesh.cell_type}"


def make_cases(seeds: list[Path], folder: Path, count: int, seed: int = 0) -> list[tuple[Path, str]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    blobs = [(p, p.read_bytes()) for p in seeds]
    cases = []
    for i in range(count):
        src, data = blobs[i % len(blobs)]
        mutated, how = mutate(data, rng)
        path = folder / f"case{i:05d}_{src.stem}{src.suffix}"
        path.write_bytes(mutated)
        cases.append((path, f"{src.name}: {how}"))
    return cases


# -- the slow run: a worker process, restarted after a crash or hang ---------------------------------
def _worker(list_file: str, result_file: str, start: int, warm: str) -> None:
    paths = Path(list_file).read_text().splitlines()
    with open(result_file, "a") as out:
        seen = set()
        for seed in sorted(Path(warm).iterdir()):  # import every reader first, so an import is not timed as a hang
            if seed.suffix not in seen:
                seen.add(seed.suffix)
                check_one(seed, seconds=600)
                out.write(json.dumps({"warm": seed.name}) + "\n")  # a sign of life for the parent
                out.flush()
        for i in range(start, len(paths)):
            out.write(json.dumps({"i": i, "start": True}) + "\n")
            out.flush()
            t0 = time.perf_counter()
            outcome, detail = check_one(Path(paths[i]))
            out.write(json.dumps({"i": i, "outcome": outcome, "detail": detail, "s": time.perf_counter() - t0}) + "\n")
            out.flush()


def run_many(count: int, seed: int, folder: Path, stall_seconds: float = 60.0, formats: str = "all") -> dict:
    """Mutate ``count`` files of the seeds whose formats are ``formats`` ('all', 'in-process': parsed in
    this process, 'vtk': read by VTK in a child process) and load each in a restarting worker."""
    seeds = seed_files(folder / "seeds")
    if formats == "in-process":
        seeds = [p for p in seeds if p.suffix in IN_PROCESS]
    elif formats == "vtk":
        seeds = [p for p in seeds if p.suffix not in IN_PROCESS]
    cases = make_cases(seeds, folder / "cases", count, seed)
    list_file, result_file = folder / "cases.txt", folder / "results.jsonl"
    list_file.write_text("\n".join(str(p) for p, _ in cases))
    result_file.write_text("")
    outcomes: dict[int, tuple[str, str]] = {}
    start = 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    while start < len(cases):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(list_file), str(result_file), str(start), str(folder / "seeds")], env=env
        )
        last_size, last_change = -1, time.monotonic()
        while proc.poll() is None:
            time.sleep(0.5)
            size = result_file.stat().st_size
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            elif time.monotonic() - last_change > stall_seconds:
                proc.kill()
                proc.wait()
                break
        current = None
        for line in result_file.read_text().splitlines():
            r = json.loads(line)
            if "warm" in r:
                continue
            if r.get("start"):
                current = r["i"]
            else:
                outcomes[r["i"]] = (r["outcome"], r["detail"])
                current = None
        if current is not None and current not in outcomes:
            outcomes[current] = (
                "crash" if proc.returncode not in (None, 0, -9) else "hang",
                f"worker exit code {proc.returncode}",
            )
            start = current + 1
        else:
            start = max(outcomes) + 1 if outcomes else len(cases)
    counts: dict[str, int] = {}
    for o, _ in outcomes.values():
        counts[o] = counts.get(o, 0) + 1
    findings = [
        (str(cases[i][0].name), cases[i][1], o, d) for i, (o, d) in sorted(outcomes.items()) if o in ("bad", "hang", "crash")
    ]
    return {"tried": len(outcomes), "counts": counts, "findings": findings}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--formats", choices=["all", "in-process", "vtk"], default="all")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_many(args.cases, args.seed, Path(tmp), formats=args.formats)
    print(
        f"tried {report['tried']} mutated files ({args.formats} formats, seed {args.seed}) in "
        f"{time.perf_counter() - t0:.0f} s: {report['counts']}"
    )
    for f in report["findings"][:50]:
        print("FINDING", *f)
