"""A Tensile2d-like benchmark generator: random plates, independent meshes, plane-strain elasticity.

Every sample draws a shape (``plates.random_plate_mesh``), a mesh size ``h`` (so node counts differ:
about 1k to 3k nodes for the default range), and three scalar inputs

    pressure p in [1, 5], young E in [70, 130], poisson nu in [0.2, 0.4]   (consistent units)

and solves ``elasticity.solve_plate``. Outputs: the nodal fields ``u1``, ``u2``, ``von_mises`` and
the scalars ``max_von_mises`` (max of the nodal field over the gauge region, the middle 70% of the
height: the clamped corners carry a stress singularity whose nodal peak depends on the mesh size,
the gauge maximum converges) and ``max_top_u2`` (largest vertical displacement of the loaded edge).

On disk (``make_dataset``), one folder per split (``train``, ``test``, ``ood_ellipse``, ``ood_wedge``):

    train/sample_0000.vtu ...   mesh + point fields u1, u2, von_mises, label
    train/inputs.csv            id,pressure,young,poisson
    train/outputs.csv           id,max_von_mises,max_top_u2
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from geomsci.core.io import save, write_table
from geomsci.core.mesh import Mesh
from geomsci.mmgp.elasticity import solve_plate
from geomsci.mmgp.plates import random_plate_mesh

INPUT_NAMES = ("pressure", "young", "poisson")
INPUT_RANGES = {"pressure": (1.0, 5.0), "young": (70.0, 130.0), "poisson": (0.2, 0.4)}
FIELD_NAMES = ("u1", "u2", "von_mises")
SCALAR_NAMES = ("max_von_mises", "max_top_u2")
SPLITS = {"train": ("plate", 0), "test": ("plate", 1), "ood_ellipse": ("ellipse", 2), "ood_wedge": ("wedge", 3)}


def make_sample(seed: int, shape: str = "plate", h_range=(0.025, 0.04), dtype=torch.float64):
    """One sample: ``(mesh, inputs, outputs)``.

    ``mesh`` is a 2-D triangle ``Mesh`` carrying the point fields ``u1``, ``u2``, ``von_mises`` and
    ``label`` (0 free, 1 clamped, 2 loaded); ``inputs`` maps each of ``INPUT_NAMES`` to a float,
    ``outputs`` each of ``SCALAR_NAMES`` to a float. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    h = rng.uniform(*h_range)
    points, faces, labels = random_plate_mesh(rng, h, shape)
    inputs = {k: float(rng.uniform(*INPUT_RANGES[k])) for k in INPUT_NAMES}
    fields = solve_plate(points, faces, labels, inputs["pressure"], inputs["young"], inputs["poisson"])
    y = points[:, 1]
    gauge = (y > y.min() + 0.15 * np.ptp(y)) & (y < y.max() - 0.15 * np.ptp(y))
    outputs = {"max_von_mises": float(fields["von_mises"][gauge].max()), "max_top_u2": float(fields["u2"][labels == 2].max())}
    point_data = {k: torch.as_tensor(v, dtype=dtype) for k, v in fields.items()}
    point_data["label"] = torch.as_tensor(labels)
    mesh = Mesh(torch.as_tensor(points, dtype=dtype), torch.as_tensor(faces), "triangle", point_data)
    return mesh, inputs, outputs


def make_split(n: int, split: str = "train", seed: int = 0, h_range=(0.025, 0.04), progress: bool = False):
    """``n`` samples of a split: ``(meshes, inputs (n, 3) float64 array, outputs (n, 2) float64 array)``.

    Splits draw from disjoint seed streams, so train and test never share a sample.
    """
    if split not in SPLITS:
        raise ValueError(f"make_split: split must be one of {sorted(SPLITS)}, got {split!r}")
    if n < 0:
        raise ValueError(f"make_split: n must be >= 0, got {n}")
    shape, code = SPLITS[split]
    meshes, ins, outs = [], [], []
    for i in tqdm(range(n), desc=f"mmgp: {split} samples", disable=not progress, leave=False):
        mesh, inp, out = make_sample(int(np.random.SeedSequence([seed, code, i]).generate_state(1)[0]), shape, h_range)
        meshes.append(mesh)
        ins.append([inp[k] for k in INPUT_NAMES])
        outs.append([out[k] for k in SCALAR_NAMES])
    return meshes, np.asarray(ins, dtype=float).reshape(n, 3), np.asarray(outs, dtype=float).reshape(n, 2)


def write_meshes(out_dir, meshes, prefix: str) -> list[str]:
    """Create ``out_dir`` and write each mesh as ``<prefix>_<i>.vtu`` (i zero-padded to 4 digits); returns the ids."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [f"{prefix}_{i:04d}" for i in range(len(meshes))]
    for sid, mesh in zip(ids, meshes):
        save(mesh, out_dir / f"{sid}.vtu")
    return ids


def write_split(out_dir, meshes, inputs, outputs, prefix: str = "sample") -> list[str]:
    """Write meshes as ``<prefix>_<i>.vtu`` plus ``inputs.csv`` / ``outputs.csv``; returns the ids."""
    out_dir = Path(out_dir)
    ids = write_meshes(out_dir, meshes, prefix)
    write_table(out_dir / "inputs.csv", {"id": ids, **{k: inputs[:, j] for j, k in enumerate(INPUT_NAMES)}})
    write_table(out_dir / "outputs.csv", {"id": ids, **{k: outputs[:, j] for j, k in enumerate(SCALAR_NAMES)}})
    return ids


def make_dataset(
    out_dir, n_train: int = 40, n_test: int = 10, n_ood: int = 5, seed: int = 0, h_range=(0.025, 0.04), progress: bool = True
) -> dict[str, int]:
    """Generate and write the benchmark under ``out_dir`` (folders train/, test/, ood_ellipse/, ood_wedge/).

    Returns the number of samples written per split.
    """
    counts = {"train": n_train, "test": n_test, "ood_ellipse": n_ood, "ood_wedge": n_ood}
    for split, n in counts.items():
        if n == 0:
            continue
        meshes, ins, outs = make_split(n, split, seed, h_range, progress)
        write_split(Path(out_dir) / split, meshes, ins, outs)
    return counts
