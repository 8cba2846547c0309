"""`geomsci pig solve` writes its outputs; bad input exits 2; the demo step writes its plot.

The demo's run time (under 7 s) is measured by `geomsci demo`, which prints each step's time, not
asserted here: timed assertions flake on a loaded machine."""
import pytest

from geomsci.cli import main


def test_solve_writes_outputs(tmp_path, capsys):
    main(["pig", "solve", "helmholtz", "--iters", "6", "--gaussians", "4", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert "rel. L2 final" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert {"helmholtz_pig_solution.png", "helmholtz_pig_history.csv", "helmholtz_pig_solution.vtu"} <= names


def test_bad_problem_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["pig", "solve", "burgers", "-o", str(tmp_path)])
    assert e.value.code == 2
    assert "unknown problem" in capsys.readouterr().err


def test_demo_writes_plot_and_reports_error(tmp_path):
    from geomsci.pig.cli import demo

    summary = demo(tmp_path)
    assert "rel. L2" in summary and (tmp_path / "helmholtz_pig.png").exists()
