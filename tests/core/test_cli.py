"""The `geomsci` command: info, convert, the core demo step, and one-line errors (exit code 2)."""

import subprocess
import sys

import pytest
import torch

import geomsci
from geomsci.cli import main
from geomsci.core import shapes
from geomsci.core.mesh import Mesh
from geomsci.core.summary import describe
from tests.fresh_python import run_fresh_python


def _run(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    return e.value.code


def test_describe_analytic_shapes():
    d = describe(shapes.torus_mesh(1.0, 0.3, 32, 16))
    assert (d["points"], d["cells"], d["cell type"]) == (512, 1024, "triangle")
    assert d["watertight"] is True and d["manifold"] is True and d["genus"] == 1 and d["boundary loops"] == 0
    d = describe(shapes.cylinder_mesh(1.0, 2.0, 20, 4))
    assert d["watertight"] is False and d["genus"] == 0 and d["boundary loops"].startswith("2 (lengths [20, 20])")
    assert d["bounding box"] == "[-1, -1, -1] .. [1, 1, 1]"
    tets = Mesh(
        torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]),
        torch.tensor([[0, 1, 2, 3], [1, 3, 2, 4]]),
        "tetra",
    )
    d = describe(tets)
    assert d["surface triangles"] == 6 and d["surface watertight"] is True and d["surface genus"] == 0
    assert float(d["volume"]) == pytest.approx(1 / 6 + 1 / 3)
    d = describe(Mesh(torch.rand(10, 3), point_data={"mass": torch.ones(10)}))
    assert d["cell type"] == "none (point set)" and d["point fields"] == "mass (10,) float32"


def test_info_prints_topology(tmp_path, capsys):
    path = geomsci.save(shapes.torus_mesh(1.0, 0.3, 16, 8), tmp_path / "torus.obj") or tmp_path / "torus.obj"
    assert _run(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for line in (
        "points: 128",
        "cells: 256",
        "cell type: triangle",
        "watertight: True",
        "manifold: True",
        "genus: 1",
        "boundary loops: 0",
        "bounding box:",
    ):
        assert line in out


def test_convert_keeps_fields(tmp_path, capsys):
    m = shapes.icosphere(1)
    m.set_point_field("u", torch.arange(m.n_points, dtype=torch.float32))
    src = geomsci.save(m, tmp_path / "s.vtu") or tmp_path / "s.vtu"
    assert _run(["convert", str(src), str(tmp_path / "s.ply")]) == 0
    assert "wrote" in capsys.readouterr().out
    back = geomsci.load(tmp_path / "s.ply")
    assert torch.equal(back.cells, m.cells) and torch.equal(back.point_data["u"], m.point_data["u"])


def test_core_demo_step(tmp_path, capsys):
    assert _run(["demo", "--only", "core", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "genus 1" in out and "mean curvature within" in out
    for name in ("torus.ply", "torus_curvature.png", "torus_render.png"):
        assert (tmp_path / "core" / name).stat().st_size > 1000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info", "{tmp}/missing.obj"], "missing.obj: no such file"),
        (["info", "{tmp}/bad.ply"], "bad.ply: could not read as PLY"),
        (["info", "{tmp}/mesh.xyz"], "unknown mesh format '.xyz'"),
        (["convert", "{tmp}/tet.vtu", "{tmp}/tet.obj"], "save it as .vtu"),
        (["convert", "{tmp}/tet.vtu", "{tmp}/mesh.xyz/out.vtu"], "is a file, not a folder"),  # was FileExistsError
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "bad.ply").write_bytes(b"ply\nformat nonsense\n\x00\x01")
    (tmp_path / "mesh.xyz").write_text("0 0 0\n")
    geomsci.save(Mesh(torch.eye(4, 3), torch.tensor([[0, 1, 2, 3]]), "tetra"), tmp_path / "tet.vtu")
    assert _run([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("geomsci: error: ") and message in err and "\n" not in err


def test_no_traceback_from_the_installed_command(tmp_path):
    bad = tmp_path / "broken.stl"
    bad.write_bytes(b"solid x\nfacet normal nonsense\n")
    res = subprocess.run([sys.executable, "-m", "geomsci", "info", str(bad)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.stl" in lines[0] and "Traceback" not in res.stderr


def test_convert_warns_about_dropped_fields(tmp_path, capsys):
    m = shapes.icosphere(0)
    m.set_point_field("temperature", m.points[:, 2])
    geomsci.save(m, tmp_path / "s.vtu")
    with pytest.warns(UserWarning, match="OBJ does not store these fields; dropped 'temperature'"):
        assert _run(["convert", str(tmp_path / "s.vtu"), str(tmp_path / "s.obj")]) == 0


# -- the root protocol: version, help, lazy groups, tracebacks for bugs, no overwrite ------------------------------------


def _geomsci(*args, env=None, **kw):
    import os

    return subprocess.run(
        [sys.executable, "-m", "geomsci", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        **kw,
    )


def test_version_and_bare_command_exit_0():
    res = _geomsci("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"geomsci {geomsci.__version__}"
    res = _geomsci()
    assert res.returncode == 0 and "Usage: geomsci" in res.stdout and "wing" in res.stdout


def test_help_lists_groups_without_importing_them():
    # `geomsci --help` must not pay for torch or any subpackage: help lists the groups from a static table
    stdout = run_fresh_python(
        """
        import sys
        from geomsci.cli import main
        try:
            main(['--help'])
        except SystemExit as e:
            assert e.code == 0
        heavy = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('geomsci.wing', 'geomsci.pig', 'geomsci.mmgp')))
        assert not heavy, heavy
        """
    )
    for name in ("deepmesh", "mmgp", "pig", "gshell", "nbody", "wing"):
        assert name in stdout


def test_group_and_command_help_do_not_import_torch():
    """`geomsci <group> --help` and `geomsci <group> <command> --help` answer in a fraction of a second:
    the subpackages load their names on first use and the command modules import torch inside commands."""
    stdout = run_fresh_python(
        """
        import importlib, sys
        from geomsci.cli import SUBPACKAGES, main
        # every group's help, then every command's help, in this one process
        for args in [[name, '--help'] for name in SUBPACKAGES]:
            try:
                main(args)
            except SystemExit as e:
                assert e.code == 0, args
        for name in SUBPACKAGES:
            for command in importlib.import_module(f'geomsci.{name}.cli').app.registered_commands:
                cmd = command.name or command.callback.__name__.replace('_', '-')
                try:
                    main([name, cmd, '--help'])
                except SystemExit as e:
                    assert e.code == 0, (name, cmd)
        print('torch' in sys.modules)
        """
    )
    assert stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("name", ["deepmesh", "mmgp", "pig", "gshell", "nbody", "wing"])
def test_static_group_help_matches_the_group(name):
    import importlib

    from geomsci.cli import SUBPACKAGES

    app = importlib.import_module(f"geomsci.{name}.cli").app
    assert SUBPACKAGES[name] == app.info.help.strip().splitlines()[0]


def test_group_without_command_shows_help_exit_0(capsys):
    assert _run(["gshell"]) == 0
    assert "fit" in capsys.readouterr().out


def test_internal_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only bad input becomes one line: a KeyError or a ValueError raised outside geomsci is a bug."""
    import geomsci.core.summary as summary

    path = geomsci.save(shapes.icosphere(0), tmp_path / "s.obj") or tmp_path / "s.obj"
    monkeypatch.setattr(summary, "describe", lambda mesh: {}["missing key"])
    with pytest.raises(KeyError):
        main(["info", str(path)])
    monkeypatch.setattr(summary, "describe", lambda mesh: int("not a number"))
    with pytest.raises(ValueError):
        main(["info", str(path)])


def test_traceback_switches(tmp_path, monkeypatch):
    missing = str(tmp_path / "missing.obj")
    with pytest.raises(FileNotFoundError):
        main(["--traceback", "info", missing])
    monkeypatch.setenv("GEOMSCI_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["info", missing])
    monkeypatch.setenv("GEOMSCI_DEBUG", "0")
    assert _run(["info", missing]) == 2


def test_input_error_is_a_value_error():
    from geomsci.core.errors import InputError, is_input_error

    assert issubclass(InputError, ValueError) and is_input_error(InputError("x"))
    assert is_input_error(FileExistsError("x")) and not is_input_error(RuntimeError("x"))


def test_demo_unknown_step_creates_nothing(tmp_path, capsys):
    out = tmp_path / "d1"
    assert _run(["demo", "--only", "foo", "-o", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown demo step(s) ['foo']" in err


def test_demo_refuses_a_folder_with_files_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert _run(["demo", "--only", "core", "-o", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and not (tmp_path / "core").exists()
    assert _run(["demo", "--only", "core", "-o", str(tmp_path), "--force", "--threads", "1"]) == 0
    assert (tmp_path / "keep.txt").read_text() == "mine" and (tmp_path / "core" / "torus.ply").exists()


def test_convert_refuses_to_overwrite_without_force(tmp_path, capsys):
    src = geomsci.save(shapes.icosphere(0), tmp_path / "s.vtu") or tmp_path / "s.vtu"
    dst = tmp_path / "d.obj"
    dst.write_text("precious")
    assert _run(["convert", str(src), str(dst)]) == 2
    assert dst.read_text() == "precious" and "--force" in capsys.readouterr().err
    assert _run(["convert", str(src), str(dst), "--force"]) == 0
    assert geomsci.load(dst).n_cells == 20


def test_bad_threads_is_one_line(tmp_path, capsys):
    src = geomsci.save(shapes.icosphere(0), tmp_path / "s.vtu") or tmp_path / "s.vtu"
    assert _run(["info", str(src), "--threads", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_warnings_show_without_source_lines(tmp_path):
    m = shapes.icosphere(0)
    m.set_point_field("temperature", m.points[:, 2])
    geomsci.save(m, tmp_path / "s.vtu")
    res = _geomsci("convert", str(tmp_path / "s.vtu"), str(tmp_path / "s.obj"))
    assert res.returncode == 0
    warning_lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(warning_lines) == 1 and warning_lines[0].startswith("geomsci: UserWarning: ")
    assert "dropped 'temperature'" in warning_lines[0]
