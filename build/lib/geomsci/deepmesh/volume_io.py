"""Read a scalar volume (X, Y, Z) from .npy / .npz arrays or a meshio-readable lattice file."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def read_volume(path, key: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values (X, Y, Z), origin (3,) and spacing (3,) of a volume file.

    - ``.npy``: the array; origin 0, spacing 1.
    - ``.npz``: the array named ``key``, or the only array in the file; ``origin`` / ``spacing``
      arrays in the file are used when present.
    - anything meshio reads (.vtu, .vtk, .xdmf, ...): the point field ``key`` (or the only one)
      on points that must form a complete regular lattice.

    Raises
    ------
    FileNotFoundError, ValueError (not 3-D, not a lattice, ambiguous or missing field)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"volume file not found: {path}")
    suffix = path.suffix.lower()
    origin, spacing = np.zeros(3), np.ones(3)
    if suffix in (".npy", ".npz"):
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY" and magic[:4] != b"PK\x03\x04":
            # np.load would take it for a pickle and suggest allow_pickle=True, which is unsafe and wrong here
            raise ValueError(f"{path.name} is not a numpy {suffix} file; save the volume with numpy.save / numpy.savez")
        try:
            loaded = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{path.name}: cannot read the array ({str(e).splitlines()[0]})") from None
        if suffix == ".npz" and not hasattr(loaded, "files"):
            raise ValueError(f"{path.name} holds a single .npy array, not an .npz archive; rename it to .npy")
        if suffix == ".npy" and hasattr(loaded, "files"):
            loaded.close()
            raise ValueError(f"{path.name} is an .npz archive, not a single .npy array; rename it to .npz")
    if suffix == ".npy":
        values = loaded
    elif suffix == ".npz":
        with loaded as data:
            names = [n for n in data.files if n not in ("origin", "spacing")]
            if not names:
                raise ValueError(f"{path.name} holds no volume array (only {sorted(data.files)})")
            if key is None and len(names) != 1:
                raise ValueError(f"{path.name} holds arrays {names}; pick one with --key")
            name = key if key is not None else names[0]
            if name not in data.files:
                raise ValueError(f"{path.name} has no array {name!r}; it holds {names}")
            values = data[name]
            if "origin" in data.files:
                origin = np.asarray(data["origin"])
                if origin.size != 3 or origin.dtype.kind not in "fiu" or not np.isfinite(origin).all():
                    raise ValueError(f"{path.name}: 'origin' must hold 3 finite numbers, got {origin.tolist()!r}")
                origin = origin.astype(float).reshape(3)
            if "spacing" in data.files:
                spacing = np.asarray(data["spacing"])
                if (spacing.size not in (1, 3) or spacing.dtype.kind not in "fiu"
                        or not (np.isfinite(spacing) & (spacing > 0)).all()):
                    raise ValueError(
                        f"{path.name}: 'spacing' must be one or 3 positive finite numbers, got {spacing.tolist()!r}"
                    )
                spacing = np.broadcast_to(spacing.astype(float).reshape(-1), (3,)).copy()
    else:
        values, origin, spacing = _read_meshio_lattice(path, key)
    values = np.asarray(values)
    if values.ndim != 3:
        raise ValueError(f"volume must be 3-D (X, Y, Z), got shape {values.shape} from {path.name}")
    if values.dtype.kind not in "fiub":
        raise ValueError(f"volume must be numeric, got dtype {values.dtype} from {path.name}")
    if min(values.shape) < 2:
        raise ValueError(
            f"volume must have at least 2 nodes per axis to hold a surface, got shape {values.shape} from {path.name}"
        )
    return values, origin, spacing


def _read_meshio_lattice(path: Path, key: str | None):
    import torch

    from geomsci.core.io import load

    # core's reader turns meshio's failures (some of which exit the process) into one-line errors
    m = load(path, dtype=torch.float64)
    names = list(m.point_data)
    if not names:
        raise ValueError(f"{path.name} has no point field to extract a surface from")
    if key is None and len(names) != 1:
        raise ValueError(f"{path.name} holds point fields {names}; pick one with --key")
    name = key if key is not None else names[0]
    if name not in m.point_data:
        raise ValueError(f"{path.name} has no point field {name!r}; it holds {names}")
    field = m.point_data[name].numpy()
    if field.ndim != 1:
        raise ValueError(f"point field {name!r} must be scalar, got shape {field.shape}")
    pts = m.points.numpy()
    if pts.shape[1] != 3:
        raise ValueError(f"{path.name}: volume points must be 3-D, got {pts.shape[1]} coordinates")
    axes = [np.unique(np.round(pts[:, d], 9)) for d in range(3)]
    shape = tuple(len(a) for a in axes)
    if int(np.prod(shape)) != len(pts):
        raise ValueError(f"{path.name}: the points do not form a complete regular lattice ({shape} axes, {len(pts)} points)")
    spacing = np.array([(a[-1] - a[0]) / max(len(a) - 1, 1) for a in axes])
    for a, h in zip(axes, spacing):
        if len(a) > 1 and not np.allclose(np.diff(a), h, rtol=1e-6, atol=1e-9):
            raise ValueError(f"{path.name}: the lattice is not uniformly spaced")
    idx = [np.searchsorted(a, np.round(pts[:, d], 9)) for d, a in enumerate(axes)]
    values = np.empty(shape, dtype=field.dtype)
    values[idx[0], idx[1], idx[2]] = field
    return values, np.array([a[0] for a in axes]), spacing
