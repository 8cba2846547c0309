"""`geomsci pig solve` writes and saves; refuses to overwrite before training; `predict` reuses the
saved model; bad input exits 2; the demo step writes its plot.

The demo's run time is measured by `geomsci demo`, which prints each step's time, not asserted
here: timed assertions flake on a loaded machine."""

import numpy as np
import pytest
import torch

from geomsci.cli import main


def _solve(tmp_path, *extra):
    main(["pig", "solve", "helmholtz", "--iters", "6", "--gaussians", "4", "--threads", "1", "-o", str(tmp_path), *extra])


def test_solve_writes_outputs_and_both_states(tmp_path, capsys):
    _solve(tmp_path)
    out = capsys.readouterr().out
    assert "rel. L2 final" in out and "(final model" in out and "(best state" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "helmholtz_pig_solution.png",
        "helmholtz_pig_history.csv",
        "helmholtz_pig_solution.vtu",
        "helmholtz_pig_model.pt",
        "helmholtz_pig_best.pt",
    } == names - {"helmholtz_pig_history.png"}
    best = torch.load(tmp_path / "helmholtz_pig_best.pt", weights_only=True)
    final = torch.load(tmp_path / "helmholtz_pig_model.pt", weights_only=True)
    assert best["which"] == "best" and final["which"] == "final" and best["rel_l2"] <= final["rel_l2"]


def test_solve_refuses_existing_output_before_training(tmp_path, capsys):
    (tmp_path / "helmholtz_pig_model.pt").write_text("keep me")
    with pytest.raises(SystemExit) as e:
        _solve(tmp_path)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "helmholtz_pig_model.pt").read_text() == "keep me"  # nothing lost, nothing trained
    _solve(tmp_path, "--force")
    assert torch.load(tmp_path / "helmholtz_pig_model.pt", weights_only=True)["which"] == "final"


def test_predict_reuses_the_saved_model(tmp_path, capsys):
    from geomsci.pig.cli import load_model

    _solve(tmp_path)
    net, saved = load_model(tmp_path / "helmholtz_pig_best.pt")
    x = np.array([[0.1, 0.2], [-0.5, 0.7], [0.9, -0.9]])
    np.save(tmp_path / "pts.npy", x)
    main(["pig", "predict", str(tmp_path / "helmholtz_pig_best.pt"), str(tmp_path / "pts.npy"), "-o", str(tmp_path / "u.csv")])
    main(["pig", "predict", str(tmp_path / "helmholtz_pig_best.pt"), "grid:5,7", "-o", str(tmp_path / "u.npy")])
    from geomsci.core.io import read_table

    table = read_table(tmp_path / "u.csv")
    want = net(torch.as_tensor(x))[:, 0].detach().numpy()
    np.testing.assert_allclose(table["u"], want, rtol=1e-12)
    assert np.load(tmp_path / "u.npy").shape == (5, 7)
    with pytest.raises(SystemExit) as e:  # exists: refused
        main(["pig", "predict", str(tmp_path / "helmholtz_pig_best.pt"), "grid:5", "-o", str(tmp_path / "u.npy")])
    assert e.value.code == 2


def test_bad_input_exits_2(tmp_path, capsys):
    for argv in (
        ["pig", "solve", "burgers", "-o", str(tmp_path)],
        ["pig", "solve", "poisson_mesh", "--preset", "paper", "-o", str(tmp_path)],
        ["pig", "predict", str(tmp_path / "nothing.pt"), "grid:4", "-o", str(tmp_path / "u.csv")],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown problem" in err and "paper" in err and "not found" in err


def test_demo_writes_plot_and_reports_error(tmp_path):
    from geomsci.pig.cli import demo

    summary = demo(tmp_path)
    assert "rel. L2" in summary and (tmp_path / "helmholtz_pig.png").exists()
    assert float(summary.split("rel. L2 ")[1].split()[0]) < 1e-2  # measured 2.9e-3 (400 steps, deterministic)
