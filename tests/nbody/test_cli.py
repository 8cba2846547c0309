"""The `geomsci nbody` commands and the demo step."""

import pytest

from geomsci.cli import main
from geomsci.core.io import read_table


def test_run_writes_csv_and_plot(tmp_path, capsys):
    out, png = tmp_path / "traj.csv", tmp_path / "orbits.png"
    main(
        [
            "nbody",
            "run",
            "--ic",
            "pythagorean",
            "--mu",
            "0.01",
            "--t-end",
            "0.5",
            "--n-out",
            "5",
            "-o",
            str(out),
            "--plot",
            str(png),
        ]
    )
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
    from geomsci.nbody.cli import demo as cli_demo
    from geomsci.nbody.demo import demo

    assert cli_demo is demo
    line = demo(tmp_path)
    assert "system-steps/s" in line and (tmp_path / "pythagorean_orbits.png").exists()


def _one_line_exit_2(capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and match in err, err
    return err


def test_bad_files_and_outputs_are_one_line_exit_2(tmp_path, capsys):
    import torch

    ply = tmp_path / "some.ply"
    ply.write_text("ply\nformat ascii 1.0\nend_header\n")
    _one_line_exit_2(capsys, ["nbody", "evaluate", str(ply)], "is not a policy file")
    other = tmp_path / "model.pt"
    torch.save({"kind": "mmgp", "weights": torch.zeros(2)}, other)
    _one_line_exit_2(capsys, ["nbody", "evaluate", str(other)], "a policy holds 'state_dict' and 'config'")
    _one_line_exit_2(capsys, ["nbody", "run", "-o", str(tmp_path), "--t-end", "0.1"], "is a folder")
    existing = tmp_path / "traj.csv"
    existing.write_text("keep me")
    _one_line_exit_2(capsys, ["nbody", "run", "-o", str(existing), "--t-end", "0.1"], "--force")
    assert existing.read_text() == "keep me"
    _one_line_exit_2(capsys, ["nbody", "run", "--method", "rk4", "-o", str(tmp_path / "a.csv")], "--method")
    _one_line_exit_2(
        capsys, ["nbody", "run", "--method", "aarseth", "--symmetric", "1", "-o", str(tmp_path / "a.csv")], "symmetric"
    )
    main(
        [
            "nbody",
            "run",
            "--t-end",
            "0.05",
            "--n-out",
            "2",
            "-o",
            str(existing),
            "--force",
            "--threads",
            "1",
            "--symmetric",
            "1",
            "--corrector",
            "2",
            "--compensated",
            "--predictor-order",
            "5",
        ]
    )
    assert read_table(existing)["t"][-1] == 0.05
    capsys.readouterr()  # the run's progress bar
    _one_line_exit_2(
        capsys, ["nbody", "run", "--predictor-order", "4", "-o", str(tmp_path / "b.csv")], "predictor_order must be 3"
    )


def test_threads_are_restored(tmp_path):
    import torch

    before = torch.get_num_threads()
    main(["nbody", "run", "--t-end", "0.02", "--n-out", "1", "-o", str(tmp_path / "t.csv"), "--threads", "1"])
    assert torch.get_num_threads() == before


def test_ensemble_command(tmp_path, capsys):
    from geomsci.nbody import load_ensemble

    out = tmp_path / "ens"
    main(
        [
            "nbody",
            "ensemble",
            "-o",
            str(out),
            "--n-systems",
            "3",
            "--t-end",
            "0.1",
            "--chunk-size",
            "2",
            "--mu",
            "0.05",
            "--threads",
            "1",
        ]
    )
    assert "wrote 3 systems" in capsys.readouterr().out
    assert load_ensemble(out)["x"].shape == (1, 3, 3, 3)


def test_train_on_the_symmetrized_step_and_evaluate_on_either(tmp_path, capsys):
    pol = tmp_path / "sym.pt"
    small = ["--episodes", "2", "--parallel", "2", "--n-checks", "2", "--threads", "1"]
    main(["nbody", "train", "-o", str(pol), "--symmetric", "1", "--actions", "2.2e-2,0.1,0.22", "--e-lim", "1e-6", *small])
    capsys.readouterr()
    main(["nbody", "evaluate", str(pol), "--seeds", "0-1", "--t-end", "0.2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "{'symmetric': 1}" in out and "0.22" in out  # the step and the action set it was trained with
    main(["nbody", "evaluate", str(pol), "--seeds", "0-1", "--t-end", "0.2", "--symmetric", "0", "--threads", "1"])
    assert "the standard step" in capsys.readouterr().out  # transfer without retraining
    _one_line_exit_2(capsys, ["nbody", "train", "-o", str(tmp_path / "b.pt"), "--actions", "0.1,1e-2"], "increasing")
    _one_line_exit_2(capsys, ["nbody", "train", "-o", str(tmp_path / "b.pt"), "--actions", "0.1,fast"], "--actions")
    _one_line_exit_2(capsys, ["nbody", "train", "-o", str(tmp_path / "b.pt"), "--symmetric", "-1"], "symmetric")
    p5 = tmp_path / "p5.pt"  # trained on the fifth-order predictor: evaluate runs on it unless told otherwise
    main(["nbody", "train", "-o", str(p5), "--symmetric", "1", "--predictor-order", "5", "--actions", "2.2e-2,0.1", *small])
    capsys.readouterr()
    main(["nbody", "evaluate", str(p5), "--seeds", "0", "--t-end", "0.2", "--threads", "1"])
    assert "'predictor_order': 5" in capsys.readouterr().out


def test_train_a_residual_agent_on_the_depth_rule(tmp_path, capsys):
    from geomsci.nbody.dqn import Policy

    pol = tmp_path / "res.pt"
    small = ["--episodes", "2", "--parallel", "2", "--n-checks", "2", "--threads", "1", "--symmetric", "1"]
    main(
        [
            "nbody",
            "train",
            "-o",
            str(pol),
            "--observation",
            "encounter",
            "--base-rule",
            "0.1,3e-4",
            "--offsets=-1,0,1",
            "--keep",
            "dips",
            *small,
        ]
    )
    loaded = Policy.load(pol)
    assert loaded.config.base_rule == {"hi": 0.1, "budget": 3e-4} and loaded.config.offsets == [-1, 0, 1]
    assert loaded.config.keep == "dips"
    capsys.readouterr()
    main(["nbody", "evaluate", str(pol), "--seeds", "0-1", "--t-end", "0.2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "0.15" in out and "residual agent on rule mu(q) <= 0.1" in out  # the half-notch action set and the base rule
    bad = ["nbody", "train", "-o", str(tmp_path / "b.pt")]
    _one_line_exit_2(capsys, [*bad, "--base-rule", "0.1"], "--base-rule")
    _one_line_exit_2(capsys, [*bad, "--base-rule", "0.1,3e-4"], "encounter")  # the default observation is 'extended'
    _one_line_exit_2(capsys, [*bad, "--observation", "encounter", "--base-rule", "0.1,3e-4", "--offsets=1,2"], "including 0")
    _one_line_exit_2(capsys, [*bad, "--offsets=-1,0,1"], "base_rule")
    _one_line_exit_2(capsys, [*bad, "--eps-start", "0.3", "--eps-end", "0.5", "--episodes", "1"], "eps_end")
    _one_line_exit_2(capsys, [*bad, "--observation", "encounter", "--base-rule", "0.1,3e-4", "--keep", "all"], "keep")


def test_evaluate_the_hand_written_rule(tmp_path, capsys):
    main(["nbody", "evaluate", "--rule", "0.1,3e-4", "--seeds", "1008-1011", "--t-end", "3", "--threads", "1"])
    out = capsys.readouterr().out
    assert "{'symmetric': 1}" in out and "rule mu(q) <= 0.1" in out and "mean n_force" in out
    line = next(row for row in out.splitlines() if row.split()[:1] == ["rule"] and len(row.split()) == 7)
    assert int(line.split()[5]) == 0  # no early end
    main(["nbody", "evaluate", "--rule", "0.1,3e-4", "--seeds", "1008", "--t-end", "0.3", "--predictor-order", "5"])
    assert "'predictor_order': 5" in capsys.readouterr().out  # the step it ran on, as printed
    _one_line_exit_2(capsys, ["nbody", "evaluate"], "--rule")
    _one_line_exit_2(capsys, ["nbody", "evaluate", "--rule", "fast"], "--rule")
    _one_line_exit_2(capsys, ["nbody", "evaluate", "--rule", "0.1,30"], "budget")


def test_evaluate_draws_the_first_systems_run(tmp_path, capsys):
    png = tmp_path / "run.png"
    args = ["nbody", "evaluate", "--rule", "0.1,3e-4", "--seeds", "1088-1089", "--t-end", "1", "--threads", "1"]
    main([*args, "--run-plot", str(png)])
    assert f"wrote {png}" in capsys.readouterr().out and png.stat().st_size > 10_000
    _one_line_exit_2(capsys, [*args, "--run-plot", str(png)], "--force")  # never overwrites without --force


def test_run_plot_needs_a_recorded_run(tmp_path):
    from geomsci.nbody.evaluate import run_controller
    from geomsci.nbody.plots import plot_controlled_run

    with pytest.raises(ValueError, match="record=True"):
        plot_controlled_run(run_controller([3], 0, t_end=0.1), tmp_path / "x.png")


def test_evaluate_the_mass_aware_rule_on_a_file(capsys):
    from pathlib import Path

    triples = Path(__file__).resolve().parents[2] / "assets" / "nbody" / "example_triples.csv"
    args = ["nbody", "evaluate", "--rule", "0.1,3e-4", "--mass-aware", "--systems", str(triples), "--t-end", "1"]
    main([*args, "--threads", "1"])
    assert "rule mu(q m_i m_j / |E0|) <= 0.1" in capsys.readouterr().out
    _one_line_exit_2(
        capsys, ["nbody", "evaluate", "assets/nbody/policy.pt", "--mass-aware"], "--mass-aware is an option of --rule"
    )
