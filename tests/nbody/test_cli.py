"""The `geomsci nbody` commands and the demo step."""
import pytest

from geomsci.cli import main
from geomsci.core.io import read_table


def test_run_writes_csv_and_plot(tmp_path, capsys):
    out, png = tmp_path / "traj.csv", tmp_path / "orbits.png"
    main(["nbody", "run", "--ic", "pythagorean", "--mu", "0.01", "--t-end", "0.5", "--n-out", "5",
          "-o", str(out), "--plot", str(png)])
    t = read_table(out)
    assert len(t["t"]) == 15 and set(t["body"].tolist()) == {0, 1, 2}
    assert t["t"][-1] == 0.5 and png.stat().st_size > 1000
    assert "force evaluations" in capsys.readouterr().out


def test_run_rejects_unknown_ic(capsys):
    with pytest.raises(SystemExit) as e:
        main(["nbody", "run", "--ic", "moon", "-o", "x.csv"])
    assert e.value.code == 2 and "--ic" in capsys.readouterr().err


def test_evaluate_missing_policy(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["nbody", "evaluate", str(tmp_path / "none.pt"), "--seeds", "0-3"])
    assert e.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_demo(tmp_path):
    from geomsci.nbody.cli import demo

    line = demo(tmp_path)
    assert "system-steps/s" in line and (tmp_path / "pythagorean_orbits.png").exists()
