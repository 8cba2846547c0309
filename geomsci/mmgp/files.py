"""The file-based workflow: mesh files plus CSV tables whose rows are the samples.

    DIR/sample_0000.vtu ...     one mesh per sample (any format ``geomsci.load`` reads), fields as
                                point data; the file stem is the sample id (or a path column names it)
    inputs.csv                  <id>,<input 1>,<input 2>,...   (one row per sample; the samples table)
    outputs.csv                 <id>,<scalar output 1>,...     (training and scoring only; may be the same file)

The rows of the inputs table are the samples: ``split='COL=VALUE'`` keeps the rows whose column COL
equals VALUE, ``subset=True`` uses the rows as listed, and in both cases meshes of the folder that no
row names are left out (and counted). Without either, the folder and the table must match one to one.
CSV paths are taken as given when they exist, otherwise relative to DIR. Every mismatch (a row
without a mesh, a mesh without a row, a missing column or field, a non-number) raises a one-line
``ValueError`` / ``FileNotFoundError`` naming the file and the sample.
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


def load_table(path, id_column: str = "id", what: str = "table") -> tuple[list[str], dict[str, np.ndarray]]:
    """``(ids, {column: values})`` of a CSV keyed by ``id_column`` (values as read: numbers or text)."""
    path = Path(path)
    table = read_table(path)
    if id_column not in table:
        hint = ""
        if len(table) == 1 and any(c in next(iter(table)) for c in ";\t"):
            hint = "; the file seems to use ';' or tabs between values, write it comma-separated"
        raise ValueError(
            f"{path}: the {what} needs a {id_column!r} column naming each sample (--id-column), found columns {list(table)}{hint}"
        )
    ids = [str(v) for v in table.pop(id_column)]
    seen = set()
    for sid in ids:
        if sid in seen:
            raise ValueError(f"{path}: sample id {sid!r} appears more than once")
        seen.add(sid)
    return ids, table


def numeric(path, table: dict, ids: list[str], columns: list[str] | None, what: str) -> dict[str, np.ndarray]:
    """The named (default: all) columns as float64, with an error naming the sample for text or empty cells."""
    if columns is not None:
        missing = [c for c in columns if c not in table]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the {what} has {list(table)}")
        table = {c: table[c] for c in columns}
    out = {}
    for name, col in table.items():
        if col.dtype.kind not in "fi":
            bad = next((i for i, v in enumerate(col) if not _is_number(v)), None)
            if bad is not None:
                raise ValueError(f"{path}: column {name!r} of sample {ids[bad]!r} is not a number ({str(col[bad])!r})")
        col = col.astype(float)  # numbers kept as text by read_table (e.g. "007")
        if not np.isfinite(col).all():
            bad = int(np.nonzero(~np.isfinite(col))[0][0])
            raise ValueError(f"{path}: column {name!r} of sample {ids[bad]!r} is empty or not finite")
        out[name] = col
    return out


def read_table_by_id(
    path,
    ids: list[str] | None = None,
    columns: list[str] | None = None,
    what: str = "table",
    id_column: str = "id",
    extra_rows_ok: bool = False,
    exclude=(),
):
    """Read a CSV keyed by ``id_column``: ``(ids, {column: (n,) float64})`` in file order or in the order of ``ids``."""
    path = Path(path)
    file_ids, table = load_table(path, id_column, what)
    table = {k: v for k, v in table.items() if k not in exclude}
    if ids is None:
        return file_ids, numeric(path, table, file_ids, columns, what)
    pos = {sid: i for i, sid in enumerate(file_ids)}
    missing = [sid for sid in ids if sid not in pos]
    if missing:
        raise ValueError(f"{path}: no row for sample {missing[0]!r} (a mesh file in the folder has that id)")
    if not extra_rows_ok:
        wanted = set(ids)
        extra = [sid for sid in file_ids if sid not in wanted]
        if extra:
            raise ValueError(f"{path}: row for sample {extra[0]!r} has no mesh file in the folder")
    order = np.array([pos[sid] for sid in ids], dtype=np.int64)
    picked = {k: v[order] for k, v in table.items()}
    return list(ids), numeric(path, picked, list(ids), columns, what)


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


def parse_split(split: str | None) -> tuple[str, str] | None:
    if not split:
        return None
    if "=" not in split or not split.split("=", 1)[0].strip():
        raise ValueError(f"--split must look like COLUMN=VALUE (e.g. split=train), got {split!r}")
    col, val = split.split("=", 1)
    return col.strip(), val.strip()


def select_samples(
    directory,
    inputs="inputs.csv",
    id_column: str = "id",
    split: str | None = None,
    path_column: str | None = None,
    subset: bool = False,
):
    """Which samples to use, checked before any mesh is read.

    Returns ``(ids, files {id: path}, input table path, its raw columns restricted to the chosen rows,
    n_skipped)``: the meshes of the folder that no chosen row names are skipped when ``split`` or
    ``subset`` is given (``n_skipped`` of them), and are an error otherwise.
    """
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"{directory}: no such folder of mesh files")
    table_path = resolve(inputs, directory)
    ids, table = load_table(table_path, id_column, "inputs table")
    sel = parse_split(split)
    if sel is not None:
        col, val = sel
        if col not in table:
            raise ValueError(f"{table_path}: no column {col!r} for --split {split!r}; the table has {list(table)}")
        values = [_text(v) for v in table[col]]
        keep = np.array([v == val for v in values])
        if not keep.any():
            raise ValueError(f"{table_path}: no row has {col} = {val!r} (--split); the column holds {sorted(set(values))[:10]}")
        ids = [sid for sid, k in zip(ids, keep) if k]
        table = {k: v[keep] for k, v in table.items() if k != col}
    if path_column:
        if path_column not in table:
            raise ValueError(f"{table_path}: no column {path_column!r} (--path-column); the table has {list(table)}")
        files = {sid: resolve(str(p), directory) for sid, p in zip(ids, table.pop(path_column))}
        for sid, f in files.items():
            if not f.is_file():
                raise FileNotFoundError(f"{table_path}: the mesh file {f} of sample {sid!r} does not exist")
        return ids, files, table_path, table, 0
    folder = mesh_files(directory)
    missing = [sid for sid in ids if sid not in folder]
    if missing:
        raise ValueError(
            f"{table_path}: sample {missing[0]!r} has no mesh file in {directory} "
            f"({len(missing)} of {len(ids)} ids have none; mesh files are named <id>.<ext>)"
        )
    chosen = set(ids)
    orphans = [sid for sid in folder if sid not in chosen]
    if orphans and sel is None and not subset:
        raise ValueError(
            f"{folder[orphans[0]]}: mesh of sample {orphans[0]!r} has no row in {table_path} "
            f"({len(orphans)} meshes have none; give --subset to use only the rows the table lists)"
        )
    return ids, {sid: folder[sid] for sid in ids}, table_path, table, len(orphans)


def _text(v) -> str:
    """A table cell as text, with integral floats written without '.0' (a 'fold' column of 1.0 matches '1')."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def read_samples(
    directory,
    inputs="inputs.csv",
    outputs=None,
    fields=(),
    progress: bool = False,
    id_column: str = "id",
    split: str | None = None,
    path_column: str | None = None,
    subset: bool = False,
    input_columns: list[str] | None = None,
    output_columns: list[str] | None = None,
) -> dict:
    """Load samples for fitting, prediction or scoring.

    Returns a dict with ``ids`` (list), ``meshes`` (list of float64 ``Mesh``; planar meshes saved
    with z = 0 come back 2-D), ``inputs`` ({name: (n,)}), ``outputs`` ({scalar name: (n,)} from
    ``outputs``, plus {field: [n tensors (N_i,) or (N_i, C)]} for each name in ``fields``, read from
    the meshes' point data, vector fields whole), ``files`` and ``skipped`` (meshes no row chose).
    """
    from tqdm.auto import tqdm

    ids, files, table_path, table, skipped = select_samples(directory, inputs, id_column, split, path_column, subset)
    if input_columns is None and outputs is not None and resolve(outputs, directory).resolve() == table_path.resolve():
        raise ValueError(f"{table_path} holds both inputs and outputs: name the input columns (--input-columns)")
    x = numeric(table_path, table, ids, input_columns, "inputs table")
    if not x:
        raise ValueError(f"{table_path}: no input columns besides {id_column!r}")
    out = {}
    if outputs is not None:
        not_outputs = set(x) | {path_column, (parse_split(split) or ("",))[0]}  # the same table: inputs, split, paths
        _, out = read_table_by_id(
            resolve(outputs, directory), ids, output_columns, "outputs table", id_column, extra_rows_ok=True, exclude=not_outputs
        )
        if not out and not fields:
            raise ValueError(f"{resolve(outputs, directory)}: no output columns besides {id_column!r} and the inputs")
    meshes = []
    for sid in tqdm(ids, desc="mmgp: reading meshes", disable=not progress, leave=False):
        m = load(files[sid], dtype=torch.float64)
        if m.dim == 3 and m.n_points and not bool((m.points[:, 2] != 0).any()):  # a planar mesh saved with z = 0
            m = Mesh(m.points[:, :2].contiguous(), m.cells, m.cell_type, m.point_data, m.cell_data)
        if m.cell_type != "triangle":
            raise ValueError(f"{files[sid]}: sample {sid!r} has {m.cell_type!r} cells; MMGP needs triangles")
        meshes.append(m)
    for f in fields:
        vals = []
        for sid, m in zip(ids, meshes):
            if f not in m.point_data:
                raise ValueError(f"{files[sid]}: sample {sid!r} has no point field {f!r} (it has {sorted(m.point_data)})")
            v = m.point_data[f].to(torch.float64)
            vals.append(v[:, 0] if v.dim() == 2 and v.shape[1] == 1 else v)
        out[f] = vals
    return {"ids": ids, "meshes": meshes, "inputs": x, "outputs": out, "files": files, "skipped": skipped}
