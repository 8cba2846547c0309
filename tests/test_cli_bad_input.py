"""Bad input on the command line: every row is refused with one line on stderr and exit code 2, before any work,
and no file in the working folder is lost, changed or half-written.

The table of rows (command, input, message) is written to docs/bad_input.md by this test, so the page always
shows what the commands answer today. Covers the core, deepmesh, gshell, wing, pig, mmgp and nbody commands.
"""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import geomsci
from geomsci.cli import main
from geomsci.core import shapes
from geomsci.core.mesh import Mesh

ROOT = Path(__file__).resolve().parents[1]

# (argv with {tmp} for the working folder, what is wrong, a part of the expected message)
ROWS = [
    ("info {tmp}/missing.obj", "file does not exist", "no such file"),
    ("info {tmp}/garbage.ply", "not a PLY file", "could not read as PLY"),
    ("info {tmp}/points.xyz", "unknown extension", "unknown mesh format '.xyz'"),
    ("info {tmp}/sphere.vtu --threads 0", "zero threads", "at least 1"),
    ("convert {tmp}/sphere.vtu {tmp}/precious.obj", "output exists", "exists; pass --force"),
    ("convert {tmp}/tet.vtu {tmp}/tet.obj", "tetrahedra to a surface format", "save it as .vtu"),
    ("demo --only foo -o {tmp}/new_folder", "unknown demo step", "unknown demo step(s) ['foo']"),
    ("demo -o {tmp}/used", "output folder holds files", "pass --force"),
    ("demo -o {tmp}/precious.obj", "output folder is a file", "is a file, not a folder"),
    ("deepmesh extract {tmp}/missing.npy -o {tmp}/out.ply", "volume does not exist", "missing.npy"),
    ("deepmesh extract {tmp}/volume.npy -o {tmp}/precious.obj", "output exists", "exists; pass --force"),
    ("deepmesh extract {tmp}/volume.npy -o {tmp}/out.xyz", "unknown output format", "unknown mesh format '.xyz'"),
    (
        "deepmesh extract {tmp}/volume.npy --level 7 -o {tmp}/out.ply",
        "level outside the values",
        "outside the volume's value range",
    ),
    ("gshell fit {tmp}/missing.ply -o {tmp}/out.ply", "target does not exist", "does not exist"),
    ("gshell fit {tmp}/sphere.vtu -o {tmp}/out.xyz", "unknown output format", "unknown mesh format '.xyz'"),
    ("gshell fit {tmp}/sphere.vtu -o {tmp}/precious.obj", "output exists", "pass --force"),
    ("gshell fit {tmp}/sphere.vtu -o {tmp}/out.ply --resolution 2", "grid too coarse", "--resolution must be at least 4"),
    ("gshell fit {tmp}/tet.vtu -o {tmp}/out.ply --no-png", "tetrahedra as target", "tetra cells"),
    ("wing features {tmp}/missing.vtu -o {tmp}/f.vtu", "mesh does not exist", "no such file"),
    ("wing features {tmp}/tet.vtu -o {tmp}/f.vtu", "not a surface", "3-D triangle mesh"),
    ("wing features {tmp}/sphere.vtu -o {tmp}/precious.obj", "output exists", "pass --force"),
    ("wing make-dataset -o {tmp}/used", "output folder holds files", "pass --force"),
    ("wing make-dataset -o {tmp}/dataset --wings 2 --test 2", "no training wings", "--test must be between 1"),
    ("wing train {tmp}/used", "not a dataset folder", "no conditions.csv"),
    ("wing train {tmp}/used --features torsion", "unknown feature group", "unknown group(s) ['torsion']"),
    ("wing train {tmp}/used --model transformer", "unknown model", "--model must be mlp or attention"),
    ("wing train {tmp}/used -o {tmp}/precious.obj", "model file not .pt", "must end in .pt"),
    (
        "wing predict {tmp}/missing.pt {tmp}/sphere.vtu --alpha 4 --mach 0.3 -o {tmp}/p.vtu",
        "model does not exist",
        "no such file",
    ),
    (
        "wing predict {tmp}/sphere.vtu {tmp}/sphere.vtu --alpha 4 --mach 0.3 -o {tmp}/p.vtu",
        "not a model file",
        "is not a Cp model",
    ),
    (
        "wing predict {tmp}/sphere.vtu {tmp}/sphere.vtu --alpha 4 --mach 1.5 -o {tmp}/p.vtu",
        "supersonic Mach",
        "--mach must be in [0, 1)",
    ),
    (
        "wing predict {tmp}/sphere.vtu {tmp}/sphere.vtu --alpha 4 --mach 0.3 -o {tmp}/precious.obj",
        "output exists",
        "pass --force",
    ),
    ("pig solve nonsense -o {tmp}/p", "unknown problem", "unknown problem 'nonsense'"),
    ("pig solve helmholtz --preset huge -o {tmp}/p", "unknown preset", "preset must be one of"),
    ("pig solve helmholtz --model transformer -o {tmp}/p", "unknown model", "--model must be 'pig' or 'pinn'"),
    ("pig solve helmholtz --iters -5 -o {tmp}/p", "negative iterations", "--iters must be >= 1"),
    ("pig solve helmholtz -o {tmp}/precious.obj", "output folder is a file", "is a file, not a folder"),
    ("pig predict {tmp}/missing.pt grid:5 -o {tmp}/u.csv", "model does not exist", "model file not found"),
    ("pig predict {tmp}/sphere.vtu grid:5 -o {tmp}/u.csv", "not a model file", "is not a model saved by"),
    ("pig predict {tmp}/sphere.vtu grid:5 -o {tmp}/precious.obj", "output neither .csv nor .npy", "use a .csv or .npy"),
    ("mmgp fit {tmp}/used -o {tmp}/m.pt", "nothing to learn", "give --fields and/or --outputs"),
    ("mmgp fit {tmp}/missing --fields u -o {tmp}/m.pt", "folder does not exist", "no such folder of mesh files"),
    ("mmgp fit {tmp}/used --fields u -o {tmp}/m.pt", "no samples table", "inputs.csv: no such file"),
    ("mmgp fit {tmp}/used --fields u --threads 0 -o {tmp}/m.pt", "zero threads", "at least 1"),
    ("mmgp fit {tmp}/used --fields u --morphing warp -o {tmp}/m.pt", "unknown morphing", "morphing must be one of"),
    ("mmgp fit {tmp}/used --fields u -o {tmp}/precious.obj", "output exists", "pass --force"),
    ("mmgp predict {tmp}/sphere.vtu {tmp}/used -o {tmp}/pred", "not a model file", "is not a saved MMGP model"),
    ("mmgp score {tmp}/used {tmp}/used", "not a predictions folder", "no predictions.csv"),
    ("mmgp cv {tmp}/missing --fields u", "folder does not exist", "no such folder of mesh files"),
    ("nbody evaluate {tmp}/sphere.vtu", "a mesh given as the policy", "is not a policy file"),
    ("nbody run -o {tmp}/used", "output is a folder", "is a folder; give a file name"),
    ("nbody run -o {tmp}/precious.obj", "output exists", "pass --force"),
    ("nbody train -o {tmp}/precious.obj", "output exists", "pass --force"),
]


def _make_inputs(tmp: Path) -> None:
    (tmp / "garbage.ply").write_bytes(b"ply\nformat nonsense\n\x00\x01")
    (tmp / "points.xyz").write_text("0 0 0\n")
    (tmp / "precious.obj").write_text("# the user's file: must survive\n")
    (tmp / "used").mkdir()
    (tmp / "used" / "notes.txt").write_text("the user's notes\n")
    geomsci.save(shapes.icosphere(1), tmp / "sphere.vtu")
    geomsci.save(Mesh(torch.eye(4, 3), torch.tensor([[0, 1, 2, 3]]), "tetra"), tmp / "tet.vtu")
    x = np.linspace(-1, 1, 12)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    np.save(tmp / "volume.npy", np.sqrt(X**2 + Y**2 + Z**2) - 0.6)


def _snapshot(tmp: Path) -> dict:
    return {str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir" for p in tmp.rglob("*")}


def test_bad_input_table(tmp_path, capsys):
    _make_inputs(tmp_path)
    table = []
    for argv, what, expected in ROWS:
        before = _snapshot(tmp_path)
        with pytest.raises(SystemExit) as e:
            main(argv.format(tmp=tmp_path).split())
        err = capsys.readouterr().err.strip()
        where = f"`geomsci {argv}`"
        assert e.value.code == 2, (where, err)
        assert "\n" not in err and err.startswith("geomsci: error: "), (where, err)
        assert expected in err, (where, err)
        assert _snapshot(tmp_path) == before, f"{where} changed the working folder"
        message = err.removeprefix("geomsci: error: ").replace(str(tmp_path), "DIR")
        command = argv.replace("{tmp}", "DIR")
        cell = message.replace("|", r"\|")
        table.append(f"| `geomsci {command}` | {what} | {cell} |")
    page = (
        "# Bad input on the command line\n\n"
        "Each row is run by `tests/test_cli_bad_input.py`, which writes this page: the command answers with one line\n"
        "on stderr and exit code 2, before doing any work, and no file in DIR (the working folder) is lost or changed.\n"
        "Everything else (a bug) shows its traceback; `--traceback` or `GEOMSCI_DEBUG=1` shows it for these too.\n\n"
        "| command | what is wrong | message (after `geomsci: error: `) |\n| --- | --- | --- |\n" + "\n".join(table) + "\n"
    )
    target = ROOT / "docs" / "bad_input.md"
    if not target.exists() or target.read_text() != page:
        target.write_text(page)
    assert len(table) == len(ROWS) and not re.search(r"/tmp/|pytest-", page)
