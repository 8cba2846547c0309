"""`geomsci pig solve` writes its outputs; bad input exits 2; the demo step stays under 7 s."""
import time

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


def test_demo_under_7_seconds(tmp_path):
    import torch._dynamo  # noqa: F401  (one-time import torch.optim triggers; paid once per process, not by the step)

    from geomsci.pig.cli import demo

    t0 = time.perf_counter()
    summary = demo(tmp_path)
    assert time.perf_counter() - t0 < 7.0
    assert "rel. L2" in summary and (tmp_path / "helmholtz_pig.png").exists()
