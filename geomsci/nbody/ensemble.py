"""Ensembles: integrate 10^5-10^7 systems in chunks that stream to disk, serially or over a dask cluster.

Every chunk of ``chunk_size`` systems is one batched `integrate` call; its snapshots go to
``out_dir/chunk_NNNNNN.pt`` (written to a temporary name, then renamed, so a file that exists is
complete). ``out_dir/manifest.json`` records what the ensemble is; rerunning the same call resumes:
chunks already on disk are skipped. A system's bits do not depend on its batch-mates, so the
result is the same for any chunk size, any scheduler and any resume pattern.

    from geomsci.nbody import integrate_ensemble, load_ensemble, paper_triple
    integrate_ensemble(paper_triple, 100_000, [10.0, 30.0], "runs/paper", chunk_size=8192, mu=1e-2)
    ens = load_ensemble("runs/paper")       # dict of tensors, systems along the batch axis

``scheduler``: None (this process), a dask scheduler name ('threads', 'processes', 'synchronous'),
a dask.distributed address ('tcp://host:8786') or a ``distributed.Client``. On a cluster the
workers write the chunk files themselves, so ``out_dir`` must be on a filesystem they share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from geomsci.core.mesh import Mesh

from .units import G_AU

MANIFEST = "manifest.json"
ARRAYS = ("x", "v", "energy", "energy0", "n_force", "stalled", "t_final")


def _chunk_path(out_dir: Path, k: int) -> Path:
    return out_dir / f"chunk_{k:06d}.pt"


def _run_chunk(
    out_dir: str,
    k: int,
    lo: int,
    hi: int,
    make_system: Callable[[int], Mesh],
    times: list[float],
    G: float,
    device: str | None,
    options: dict,
) -> str:
    """Integrate systems lo..hi-1 and write chunk k (atomically). Module-level so dask can ship it."""
    from .integrate import integrate

    path = _chunk_path(Path(out_dir), k)
    if path.exists():  # done by an earlier (interrupted) run or a duplicated task
        return str(path)
    systems = [make_system(i) for i in range(lo, hi)]
    if device is not None:
        systems = [s.to(device) for s in systems]
    tr = integrate(systems, times, G=G, progress=False, **options)
    blob = {
        "first": lo,
        "x": tr.x.cpu(),
        "v": tr.v.cpu(),
        "energy": tr.energy.cpu(),
        "energy0": tr.energy0.cpu(),
        "n_force": tr.n_force.cpu(),
        "stalled": tr.stalled.cpu(),
        "t_final": tr.state.t.cpu(),
    }
    tmp = path.with_name(path.name + f".part{os.getpid()}")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return str(path)


def _describe(make_system) -> str:
    return f"{getattr(make_system, '__module__', '?')}.{getattr(make_system, '__qualname__', repr(make_system))}"


def integrate_ensemble(
    make_system: Callable[[int], Mesh],
    n_systems: int,
    times,
    out_dir,
    *,
    chunk_size: int = 4096,
    scheduler=None,
    G: float = G_AU,
    device: str | None = None,
    force: bool = False,
    progress: bool = True,
    **options,
) -> Path:
    """Integrate systems ``make_system(0) ... make_system(n_systems - 1)`` to ``times``, chunk by chunk, onto disk.

    Parameters
    ----------
    make_system : int -> Mesh (a point set with 'velocities' and 'masses'), e.g. `paper_triple`;
        a module-level function when the scheduler uses other processes
    n_systems : number of systems
    times : output times (T,), as for `integrate`
    out_dir : folder for ``manifest.json`` and the chunk files
    chunk_size : systems per batched `integrate` call (and per file)
    scheduler : None, a dask scheduler name, a dask.distributed address or Client (module docstring)
    G, device : gravitational constant; device of the integration (e.g. 'cuda'); files are on the CPU
    force : start over when ``out_dir`` holds a different ensemble (otherwise that is an error)
    options : `integrate` options (method, mu, eta, symmetric, corrector, compensated, max_steps, ...)

    Returns the output folder. Resumes a run with the same settings: finished chunks are kept.
    """
    if isinstance(n_systems, bool) or not isinstance(n_systems, int) or n_systems < 1:
        raise ValueError(f"integrate_ensemble: n_systems must be a positive integer, got {n_systems!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"integrate_ensemble: chunk_size must be a positive integer, got {chunk_size!r}")
    if not callable(make_system):
        raise ValueError(f"integrate_ensemble: make_system must be a function int -> Mesh, got {type(make_system).__name__}")
    times = [float(t) for t in torch.as_tensor(times, dtype=torch.float64).reshape(-1).tolist()]
    bad = {k: v for k, v in options.items() if k in ("G", "progress", "system")}
    if bad:
        raise ValueError(f"integrate_ensemble: {sorted(bad)} are set by integrate_ensemble itself, not as options")
    probe = make_system(0)
    if not isinstance(probe, Mesh):
        raise ValueError(f"integrate_ensemble: make_system(0) must return a Mesh, got {type(probe).__name__}")
    from .integrate import integrate  # validate every option on one system before any work is farmed out

    integrate(probe, times[:1] if times[0] <= 0 else [0.0], G=G, progress=False, **options)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"integrate_ensemble: out_dir {out_dir} is a file; give a folder")
    manifest = {
        "n_systems": n_systems,
        "chunk_size": chunk_size,
        "times": times,
        "G": G,
        "make_system": _describe(make_system),
        "options": {k: options[k] for k in sorted(options)},
        "arrays": "x, v (T, B, N, D); energy, n_force (T, B); energy0, stalled, t_final (B,); first: index of "
        "the chunk's first system",
    }
    mpath = out_dir / MANIFEST
    if mpath.exists():
        old = json.loads(mpath.read_text())
        if old != json.loads(json.dumps(manifest, default=str)):
            if not force:
                diff = sorted(k for k in manifest if old.get(k) != json.loads(json.dumps(manifest[k], default=str)))
                raise ValueError(
                    f"integrate_ensemble: {out_dir} holds a different ensemble (differs in {diff}); "
                    "use another folder, or force=True (--force) to start over"
                )
            for f in out_dir.glob("chunk_*.pt"):
                f.unlink()
    elif out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise ValueError(
            f"integrate_ensemble: {out_dir} is not empty and is not an ensemble folder; use an empty or new "
            "folder, or force=True (--force)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    mpath.write_text(json.dumps(manifest, indent=1, default=str))
    for stale in out_dir.glob("chunk_*.pt.part*"):  # left by an interrupted run
        stale.unlink()

    tasks = [(k, lo, min(lo + chunk_size, n_systems)) for k, lo in enumerate(range(0, n_systems, chunk_size))]
    todo = [t for t in tasks if not _chunk_path(out_dir, t[0]).exists()]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress, desc="nbody ensemble", unit="chunk")
    args = (str(out_dir),)
    rest = (make_system, times, G, device, options)
    if scheduler is None:
        for k, lo, hi in todo:
            _run_chunk(*args, k, lo, hi, *rest)
            bar.update(1)
    elif isinstance(scheduler, str) and scheduler in ("threads", "processes", "synchronous", "sync", "single-threaded"):
        import dask

        delayed = [dask.delayed(_run_chunk)(*args, k, lo, hi, *rest) for k, lo, hi in todo]
        for d in delayed:  # one chunk at a time keeps the bar honest; each chunk is a batch already
            dask.compute(d, scheduler=scheduler)
            bar.update(1)
    else:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(_run_chunk, *args, k, lo, hi, *rest, pure=False) for k, lo, hi in todo]
            for fut in as_completed(futures):
                fut.result()  # re-raises a worker's error here
                bar.update(1)
        finally:
            if client is not scheduler:
                client.close()
    bar.close()
    return out_dir


def load_ensemble(out_dir, *, batch_dim: bool = True) -> dict:
    """The chunks of an ensemble folder joined in system order.

    Returns a dict: 't' (T,), 'x', 'v' (T, S, N, D), 'energy', 'n_force' (T, S), 'energy0', 'stalled',
    't_final' (S,), 'relative_energy_error' (T, S); raises ValueError naming missing chunks.
    """
    out_dir = Path(out_dir)
    mpath = out_dir / MANIFEST
    if not mpath.is_file():
        raise ValueError(f"load_ensemble: {out_dir} has no {MANIFEST}; is it a folder written by integrate_ensemble?")
    man = json.loads(mpath.read_text())
    n_chunks = -(-man["n_systems"] // man["chunk_size"])
    missing = [k for k in range(n_chunks) if not _chunk_path(out_dir, k).exists()]
    if missing:
        raise ValueError(
            f"load_ensemble: {len(missing)} of {n_chunks} chunks missing (first {missing[:5]}); rerun the "
            "same integrate_ensemble call to finish them"
        )
    blobs = [torch.load(_chunk_path(out_dir, k), weights_only=True) for k in range(n_chunks)]
    out = {"t": torch.tensor(man["times"], dtype=torch.float64)}
    for key in ARRAYS:
        dim = 1 if blobs[0][key].dim() >= 2 and key != "energy0" else 0
        out[key] = torch.cat([b[key] for b in blobs], dim=dim)
    out["relative_energy_error"] = ((out["energy"] - out["energy0"]) / out["energy0"]).abs()
    return out
