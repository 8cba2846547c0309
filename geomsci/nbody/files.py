"""N-body systems from files other tools write: a CSV table of bodies, or a rebound simulation file.

- CSV (``.csv``): one row per body with columns ``x, y, [z], vx, vy, [vz]`` and ``m`` (or ``mass``); an optional
  integer column ``system`` groups the rows into several systems (in order of first appearance). Other columns
  (names, ids) are ignored. The file carries no units: pass the matching ``G`` to `integrate` (4 pi^2 for AU, yr,
  Msun; 1 for N-body units).
- rebound (``.bin``): a file written by ``rebound.Simulation.save_to_file`` (a Simulationarchive; every snapshot
  becomes a system). Its ``G`` comes with it. Needs rebound (``pip install 'geomsci[reference]'``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from geomsci.core.io import read_table
from geomsci.core.mesh import Mesh

from .initial_conditions import to_mesh


def read_systems(path) -> tuple[list[Mesh], float | None]:
    """Read the systems in ``path``: a list of point-set `Mesh`es (positions; 'velocities' and 'masses' fields, float64)
    and the file's gravitational constant (None for a CSV, which has no units)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path), None
    if suffix == ".bin":
        return _read_rebound(path)
    raise ValueError(f"{path}: unknown system file type {suffix!r}; expected a .csv table of bodies or a rebound .bin file")


def _column(table: dict, names: tuple[str, ...], path: Path, required: bool = True):
    for name in names:
        if name in table:
            col = table[name]
            if col.dtype.kind not in "if":
                raise ValueError(f"{path}: column {name!r} must hold numbers, found {col[:3].tolist()}")
            return col.astype(np.float64)
    if required:
        raise ValueError(
            f"{path}: needs the columns x, y, vx, vy and m (or mass), with z, vz optional and 'system' to group "
            f"several systems; found {list(table)}"
        )
    return None


def _read_csv(path: Path) -> list[Mesh]:
    table = read_table(path)
    x, y, z = (_column(table, (c,), path, c != "z") for c in ("x", "y", "z"))
    vx, vy, vz = (_column(table, (c,), path, c != "vz") for c in ("vx", "vy", "vz"))
    m = _column(table, ("m", "mass"), path)
    if (z is None) != (vz is None):
        raise ValueError(f"{path}: give both z and vz, or neither (a planar system)")
    cols = [x, y] + ([z] if z is not None else []) + [vx, vy] + ([vz] if vz is not None else [])
    data = np.stack(cols + [m], axis=1)  # (rows, 2D + 1)
    if len(data) == 0:
        raise ValueError(f"{path}: no bodies (the table has a header but no rows)")
    bad = np.nonzero(~np.isfinite(data).all(axis=1))[0]
    if bad.size:
        raise ValueError(
            f"{path}: line(s) {(bad + 2).tolist()[:5]} hold an empty, NaN or infinite value; every body needs all of them"
        )
    if (m <= 0).any():
        raise ValueError(f"{path}: masses must be positive; line(s) {(np.nonzero(m <= 0)[0] + 2).tolist()[:5]} are not")
    dim = 3 if z is not None else 2
    groups = table.get("system", np.zeros(len(data), dtype=np.int64))
    empty = (
        (groups == "")
        if groups.dtype.kind in "US"
        else (np.isnan(groups) if groups.dtype.kind == "f" else np.zeros(len(groups), bool))
    )
    if empty.any():
        raise ValueError(f"{path}: the 'system' column is empty on line(s) {(np.nonzero(empty)[0] + 2).tolist()[:5]}")
    systems = []
    for g in dict.fromkeys(groups.tolist()):
        rows = data[groups == g]
        if len(rows) < 2:
            raise ValueError(f"{path}: system {g!r} has {len(rows)} body; a system needs at least 2")
        pos, vel = np.zeros((len(rows), 3)), np.zeros((len(rows), 3))
        pos[:, :dim], vel[:, :dim] = rows[:, :dim], rows[:, dim : 2 * dim]
        systems.append(to_mesh(pos, vel, rows[:, -1]))
    return systems


def _read_rebound(path: Path) -> tuple[list[Mesh], float]:
    try:
        import rebound
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{path}: reading rebound files needs rebound: pip install 'geomsci[reference]'") from e
    try:
        archive = rebound.Simulationarchive(str(path))
        sims = [archive[i] for i in range(len(archive))]
    except Exception as e:  # rebound raises plain RuntimeError/ValueError for foreign or truncated files
        raise ValueError(f"{path}: not a rebound simulation file rebound can read ({e})") from e
    systems, Gs = [], {float(s.G) for s in sims}
    if len(Gs) != 1:
        raise ValueError(f"{path}: its snapshots use different G {sorted(Gs)}; read one snapshot at a time")
    for s in sims:
        if s.N < 2:
            raise ValueError(f"{path}: a snapshot has {s.N} particle(s); a system needs at least 2")
        pos = np.array([[p.x, p.y, p.z] for p in s.particles])
        vel = np.array([[p.vx, p.vy, p.vz] for p in s.particles])
        m = np.array([p.m for p in s.particles])
        if (m <= 0).any():
            raise ValueError(f"{path}: test particles (m = 0) are not supported: every body needs a positive mass")
        systems.append(to_mesh(pos, vel, m))
    return systems, Gs.pop()


class SystemsFile:
    """The systems of a file as a ``make_system`` for `integrate_ensemble`: ``SystemsFile(path)(k)`` is system k.

    ``len()`` is the number of systems and ``G`` the file's gravitational constant (None for a CSV). Its ``repr``
    names the file and a hash of its bytes, which `integrate_ensemble` records in the manifest, so an ensemble
    resumed on an edited file is refused instead of mixing the two. Pickles with its systems (dask workers need no
    access to the file).
    """

    def __init__(self, path):
        self.path = Path(path).resolve()
        self.systems, self.G = read_systems(self.path)
        self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.systems)

    def __call__(self, k: int) -> Mesh:
        return self.systems[k]

    def __repr__(self) -> str:
        return f"SystemsFile({str(self.path)!r}, sha256 {self.digest})"
