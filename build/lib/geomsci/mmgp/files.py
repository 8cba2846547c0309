"""The file-based workflow: a folder of mesh files plus CSV tables keyed by a sample ``id`` column.

    DIR/sample_0000.vtu ...     one mesh per sample (any format ``geomsci.load`` reads), fields as
                                point data; the file stem is the sample id
    inputs.csv                  id,<input 1>,<input 2>,...        (one row per sample)
    outputs.csv                 id,<scalar output 1>,...          (training only)

CSV paths are taken as given when they exist, otherwise relative to DIR. Every mismatch (a row
without a mesh, a mesh without a row, a missing column or field, a non-number) raises a
``ValueError`` / ``FileNotFoundError`` whose one-line message names the file and the sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from geomsci.core.io import load, read_table
from geomsci.core.mesh import Mesh

MESH_SUFFIXES = (".vtu", ".vtk", ".msh", ".xdmf", ".ply", ".obj", ".off", ".stl")


def resolve(path, directory) -> Path:
    """``path`` if it exists as given (or is absolute), else ``directory / path``."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else Path(directory) / p


def read_table_by_id(path, ids: list[str] | None = None, columns: list[str] | None = None, what: str = "table"):
    """Read a CSV keyed by ``id``: ``(ids, {column: (n,) float64})`` in file order or in the order of ``ids``."""
    path = Path(path)
    table = read_table(path)
    if "id" not in table:
        hint = ""
        if len(table) == 1 and any(c in next(iter(table)) for c in ";\t"):
            hint = "; the file seems to use ';' or tabs between values, write it comma-separated"
        raise ValueError(f"{path}: the {what} needs an 'id' column naming each sample, found columns {list(table)}{hint}")
    file_ids = [str(v) for v in table.pop("id")]
    dup = {i for i in file_ids if file_ids.count(i) > 1}
    if dup:
        raise ValueError(f"{path}: sample id {sorted(dup)[0]!r} appears more than once")
    if columns is not None:
        missing = [c for c in columns if c not in table]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the {what} has {list(table)}")
        table = {c: table[c] for c in columns}
    for name, col in list(table.items()):
        if col.dtype.kind not in "fi":
            bad = next((i for i, v in enumerate(col) if not _is_number(v)), None)
            if bad is not None:
                raise ValueError(f"{path}: column {name!r} of sample {file_ids[bad]!r} is not a number ({str(col[bad])!r})")
            table[name] = col = col.astype(float)  # numbers kept as text by read_table (e.g. "007")
        if not np.isfinite(col.astype(float)).all():
            bad = int(np.nonzero(~np.isfinite(col.astype(float)))[0][0])
            raise ValueError(f"{path}: column {name!r} of sample {file_ids[bad]!r} is empty or not finite")
    if ids is None:
        return file_ids, {k: v.astype(float) for k, v in table.items()}
    pos = {sid: i for i, sid in enumerate(file_ids)}
    missing = [sid for sid in ids if sid not in pos]
    if missing:
        raise ValueError(f"{path}: no row for sample {missing[0]!r} (a mesh file in the folder has that id)")
    extra = [sid for sid in file_ids if sid not in set(ids)]
    if extra:
        raise ValueError(f"{path}: row for sample {extra[0]!r} has no mesh file in the folder")
    order = np.array([pos[sid] for sid in ids], dtype=np.int64)
    return list(ids), {k: v.astype(float)[order] for k, v in table.items()}


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def mesh_files(directory) -> dict[str, Path]:
    """Mesh files of a folder by sample id (file stem), sorted by id."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder of mesh files")
    files = {p.stem: p for p in sorted(directory.iterdir()) if p.suffix.lower() in MESH_SUFFIXES}
    if not files:
        raise ValueError(f"{directory}: no mesh files ({', '.join(MESH_SUFFIXES)}) in the folder")
    return files


def read_samples(directory, inputs="inputs.csv", outputs=None, fields=(), progress: bool = False) -> dict:
    """Load a sample folder for fitting or prediction.

    Returns a dict with ``ids`` (list), ``meshes`` (list of 2-D float64 ``Mesh``), ``inputs``
    ({name: (n,)}), ``outputs`` ({scalar name: (n,)} from ``outputs``, plus {field: [n tensors]} for
    each name in ``fields``, read from the meshes' point data).
    """
    from tqdm.auto import tqdm

    files = mesh_files(directory)
    ids = list(files)
    _, x = read_table_by_id(resolve(inputs, directory), ids, what="inputs table")
    if not x:
        raise ValueError(f"{resolve(inputs, directory)}: no input columns besides 'id'")
    meshes = []
    for sid in tqdm(ids, desc="mmgp: reading meshes", disable=not progress, leave=False):
        m = load(files[sid], dtype=torch.float64)
        if m.dim == 3 and m.n_points and not bool((m.points[:, 2] != 0).any()):  # a planar mesh saved with z = 0
            m = Mesh(m.points[:, :2].contiguous(), m.cells, m.cell_type, m.point_data, m.cell_data)
        if m.cell_type != "triangle":
            raise ValueError(f"{files[sid]}: sample {sid!r} has {m.cell_type!r} cells; MMGP needs triangles")
        meshes.append(m)
    out = {}
    if outputs is not None:
        _, out = read_table_by_id(resolve(outputs, directory), ids, what="outputs table")
    for f in fields:
        vals = []
        for sid, m in zip(ids, meshes):
            if f not in m.point_data:
                raise ValueError(f"{files[sid]}: sample {sid!r} has no point field {f!r} (it has {sorted(m.point_data)})")
            vals.append(m.point_data[f].to(torch.float64).reshape(m.n_points, -1)[:, 0] if m.point_data[f].dim() > 1 else m.point_data[f].to(torch.float64))
        out[f] = vals
    return {"ids": ids, "meshes": meshes, "inputs": x, "outputs": out}
