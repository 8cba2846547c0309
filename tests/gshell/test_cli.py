"""`geomsci gshell fit` and the demo step."""

import pytest
import torch

import geomsci
from geomsci.cli import main
from geomsci.gshell.targets import hemisphere


def test_fit_command_writes_meshes(tmp_path, capsys):
    src = tmp_path / "cap.ply"
    geomsci.save(hemisphere(0.7, n_lat=12, n_lon=24), src)
    out = tmp_path / "fit.ply"
    main(["gshell", "fit", str(src), "-o", str(out), "--steps", "1", "--resolution", "8", "--no-png"])
    assert out.exists() and (tmp_path / "fit_watertight.ply").exists()
    m = geomsci.load(out)
    assert m.n_cells > 0
    assert "F-score@1%" in capsys.readouterr().out


def test_fit_command_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["gshell", "fit", str(tmp_path / "missing.ply"), "-o", str(tmp_path / "o.ply")])
    assert e.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    src = tmp_path / "cap.ply"
    geomsci.save(hemisphere(0.7, n_lat=8, n_lon=16), src)
    with pytest.raises(SystemExit) as e:
        main(["gshell", "fit", str(src), "-o", str(tmp_path / "o.ply"), "--resolution", "2"])
    assert e.value.code == 2
    # an unwritable output format is reported before the fit runs, not after it
    with pytest.raises(SystemExit) as e:
        main(["gshell", "fit", str(src), "-o", str(tmp_path / "o.xyz"), "--steps", "1", "--resolution", "4", "--no-png"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown mesh format '.xyz'" in err and "--out" in err
    # a point cloud of one repeated point used to end in a raw IndexError traceback
    geomsci.save(geomsci.Mesh(torch.zeros(20, 3)), tmp_path / "dot.ply")
    with pytest.raises(SystemExit) as e:
        main(["gshell", "fit", str(tmp_path / "dot.ply"), "-o", str(tmp_path / "o.ply"), "--resolution", "4"])
    assert e.value.code == 2
    assert "all coincide" in capsys.readouterr().err


def test_demo_step(tmp_path):
    from geomsci.gshell.demo import demo

    summary = demo(tmp_path)
    assert "1 loop" in summary and "2 loops" in summary
    assert (tmp_path / "cap.ply").exists() and (tmp_path / "gshell.png").exists()
