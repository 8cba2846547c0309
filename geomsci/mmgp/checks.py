"""Validation of what ``MMGPRegressor`` is given: meshes, scalar inputs and outputs.

Every error is a one-line ``ValueError`` that names the sample (its id and index), the value found
and what was expected, and is raised before any per-sample work starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from geomsci.core.geometry import boundary_loops
from geomsci.core.mesh import Mesh


def numbers(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; a ValueError naming ``what`` for text or ragged lists."""
    if isinstance(value, torch.Tensor):  # any device
        value = value.detach().cpu()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as e:
        text = " ".join(str(e).split())
        raise ValueError(f"MMGPRegressor: {what} must be numbers ({text if len(text) < 120 else text[:117] + '...'})") from None


def check_meshes(meshes, ids) -> tuple[list[str], list[int]]:
    """Sample ids (given or '0', '1', ...) and each mesh's number of boundary loops."""
    if isinstance(meshes, Mesh) or not isinstance(meshes, Sequence) or len(meshes) == 0:
        raise ValueError("MMGPRegressor: meshes must be a non-empty list of Mesh objects")
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(meshes))]
    if len(ids) != len(meshes):
        raise ValueError(f"MMGPRegressor: got {len(ids)} ids for {len(meshes)} meshes")
    loops = []
    for i, (m, sid) in enumerate(zip(meshes, ids)):
        if not isinstance(m, Mesh) or m.cell_type != "triangle":
            kind = m.cell_type if isinstance(m, Mesh) else type(m).__name__
            raise ValueError(f"MMGPRegressor: sample {sid!r} (index {i}) must be a triangle Mesh, got {kind}")
        loops.append(len(boundary_loops(m.cells)))
    return ids, loops


def check_inputs(inputs, n: int, ids: Sequence[str], names: list[str] | None = None, n_inputs: int | None = None) -> torch.Tensor:
    """Scalar inputs as an (n, p) float64 tensor; a mapping is read in the order ``names`` (the
    training columns) when given."""
    if isinstance(inputs, Mapping):
        given = list(inputs)
        if names is not None and sorted(given) != sorted(names):
            raise ValueError(f"MMGPRegressor: inputs have columns {given}, the model was fit on {names}")
        order = names if names is not None else given
        cols = [numbers(inputs[k], f"input {k!r}").reshape(-1) for k in order]
        for k, c in zip(order, cols):
            if c.shape[0] != n:
                raise ValueError(f"MMGPRegressor: input {k!r} has {c.shape[0]} values, expected one per mesh ({n})")
        arr = np.stack(cols, 1) if order else np.zeros((n, 0))
    else:
        if inputs is None:
            raise ValueError("MMGPRegressor: inputs are missing; give an (n, p) array or a mapping name -> (n,) values")
        arr = numbers(inputs, "inputs")
        if arr.ndim == 1:
            arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"MMGPRegressor: inputs must have one row per mesh ({n}), got shape {arr.shape}")
    if n_inputs is not None and arr.shape[1] != n_inputs:
        raise ValueError(f"MMGPRegressor: inputs have {arr.shape[1]} columns, the model was fit on {n_inputs}")
    bad = ~np.isfinite(arr).all(1)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise ValueError(f"MMGPRegressor: inputs of sample {ids[i]!r} (index {i}) are not finite: {arr[i].tolist()}")
    return torch.as_tensor(arr)


def split_outputs(outputs, meshes, ids) -> tuple[dict, dict, dict]:
    """``(fields {name: [n tensors (N_i, C)]}, scalars {name: (n,)}, components {field: C or 0})``.

    A nodal field may be scalar, (N,) or (N, 1), or a vector/tensor field (N, C): it is kept whole
    (``components[name] = C``; 0 for a scalar field, which is predicted as (N,))."""
    if not isinstance(outputs, Mapping) or len(outputs) == 0:
        raise ValueError("MMGPRegressor: outputs must be a non-empty mapping name -> values")
    fields, scalars, comps = {}, {}, {}
    n = len(meshes)
    for name, val in outputs.items():
        if isinstance(val, (list, tuple)) and len(val) > 0 and all(np.ndim(v) >= 1 for v in val):
            if len(val) != n:
                raise ValueError(
                    f"MMGPRegressor: field {name!r} has {len(val)} nodal fields for {n} meshes; "
                    "give one per mesh, in the order of the meshes"
                )
            out, shapes = [], set()
            for i, (v, m) in enumerate(zip(val, meshes)):
                where = f"field {name!r} of sample {ids[i]!r} (index {i})"
                v = v if isinstance(v, torch.Tensor) else torch.as_tensor(numbers(v, where))
                if v.dim() > 2:
                    raise ValueError(f"MMGPRegressor: {where} has shape {tuple(v.shape)}; give (N,) or (N, C) per mesh")
                if len(v) != m.n_points:
                    raise ValueError(f"MMGPRegressor: {where} has {len(v)} values, its mesh has {m.n_points} nodes")
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(f"MMGPRegressor: {where} has NaN or inf values")
                shapes.add(0 if v.dim() == 1 else int(v.shape[1]))
                out.append(v.detach().to(meshes[0].points.device, torch.float64).reshape(m.n_points, -1))
            if len(shapes) > 1:
                raise ValueError(
                    f"MMGPRegressor: field {name!r} has different numbers of components across samples: {sorted(shapes)}"
                )
            c = shapes.pop()
            comps[name] = 0 if c == 1 else c
            fields[name] = out
        else:
            arr = numbers(val, f"output {name!r}").reshape(-1)
            if arr.shape[0] != n:
                raise ValueError(
                    f"MMGPRegressor: output {name!r} must be {n} scalars or {n} nodal fields, got shape {np.shape(val)}"
                )
            if not np.isfinite(arr).all():
                i = int(np.nonzero(~np.isfinite(arr))[0][0])
                raise ValueError(f"MMGPRegressor: output {name!r} of sample {ids[i]!r} (index {i}) is not finite")
            scalars[name] = torch.as_tensor(arr)
    return fields, scalars, comps
