"""Systems read from files other tools write (`geomsci.nbody.files`) and the commands that take them."""

import numpy as np
import pytest
import torch

from geomsci.cli import main
from geomsci.nbody import integrate, read_systems
from geomsci.nbody.units import G_AU

TWO_TRIPLES = """system,name,x,y,vx,vy,mass
7,a,-4.1,-4.0,0.5,1.6,1.0
7,b,8.9,1.0,-1.6,-0.5,1.0
7,c,-4.8,3.0,1.1,-1.1,1.0
2,a,0,0,0,2.1,1.5
2,b,8,3,-2.1,0,1.0
2,c,-6,9,0,0,0.7
"""


def _csv(tmp_path, text, name="bodies.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_of_planar_triples_grouped_by_system(tmp_path):
    systems, G = read_systems(_csv(tmp_path, TWO_TRIPLES))
    assert G is None and len(systems) == 2  # in order of first appearance: system 7, then 2
    first, second = systems
    assert first.points.dtype == torch.float64 and first.points.shape == (3, 3) and (first.points[:, 2] == 0).all()
    assert first.points[1].tolist() == [8.9, 1.0, 0.0] and first.point_data["velocities"][2].tolist() == [1.1, -1.1, 0.0]
    assert second.point_data["masses"].tolist() == [1.5, 1.0, 0.7]
    # a system read from a file integrates like the same bodies given in code
    tr = integrate(second, [1.0], mu=1e-2, progress=False)
    assert tr.relative_energy_error[-1, 0] < 1e-6


@pytest.mark.parametrize(
    "text, message",
    [
        ("x,y,vx,vy\n0,0,0,0\n1,0,0,1\n", r"needs the columns x, y, vx, vy and m"),
        ("x,y,vx,vy,m\n0,0,0,0,1\n1,,0,1,1\n", r"line\(s\) \[3\] hold an empty, NaN"),
        ("x,y,vx,vy,m\n0,0,0,0,1\n1,0,0,1,-2\n", "masses must be positive"),
        ("x,y,vx,vy,m,system\n0,0,0,0,1,0\n1,0,0,1,1,1\n", "system 0 has 1 body"),
        ("x,y,z,vx,vy,m\n0,0,0,0,0,1\n1,0,0,0,1,1\n", "both z and vz"),
        ("x,y,vx,vy,m\n0,0,0,zero,1\n1,0,0,1,1\n", "'vy' must hold numbers"),
        ("x,y,vx,vy,m\n", "no bodies"),
        ("system,x,y,vx,vy,m\n1,0,0,0,0,1\n1,1,0,0,6,1\n,2,0,0,1,1\n", r"'system' column is empty on line\(s\) \[4\]"),
        ("system,x,y,vx,vy,m\na,0,0,0,0,1\na,1,0,0,6,1\n,2,0,0,1,1\n", r"'system' column is empty"),
    ],
)
def test_bad_csv_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_systems(_csv(tmp_path, text))


def test_unknown_or_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_systems(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="unknown system file type '.txt'"):
        read_systems(_csv(tmp_path, TWO_TRIPLES, "bodies.txt"))


def test_a_trajectory_written_by_run_is_not_taken_for_initial_conditions(tmp_path, capsys):
    traj = tmp_path / "traj.csv"
    main(["nbody", "run", "--ic", "figure_eight", "--t-end", "0.1", "--n-out", "2", "-o", str(traj)])
    with pytest.raises(ValueError, match=r"and m \(or mass\).*found \['t', 'body', 'x'"):
        read_systems(traj)


def test_rebound_file_snapshots_become_systems(tmp_path):
    rebound = pytest.importorskip("rebound")
    sim = rebound.Simulation()
    sim.G = 1.0
    sim.add(m=3.0, x=1.0, y=3.0)
    sim.add(m=4.0, x=-2.0, y=-1.0)
    sim.add(m=5.0, x=1.0, y=-1.0)
    path = tmp_path / "burrau.bin"
    sim.save_to_file(str(path))  # the initial snapshot
    sim.integrate(0.5)
    sim.save_to_file(str(path))  # appends a second one
    systems, G = read_systems(path)
    assert G == 1.0 and len(systems) == 2
    assert systems[0].point_data["masses"].tolist() == [3.0, 4.0, 5.0]
    assert systems[0].points.tolist() == [[1.0, 3.0, 0.0], [-2.0, -1.0, 0.0], [1.0, -1.0, 0.0]]
    assert np.allclose(systems[1].points.numpy(), [[p.x, p.y, p.z] for p in sim.particles], rtol=0, atol=0)
    # our Hermite from the first snapshot lands where rebound's IAS15 did
    tr = integrate(systems[0], [0.5], mu=1e-3, G=G, progress=False)
    assert np.abs(tr.x[-1, 0].numpy() - systems[1].points.numpy()).max() < 1e-8


def test_rebound_garbage_is_refused(tmp_path):
    pytest.importorskip("rebound")
    path = tmp_path / "noise.bin"
    path.write_bytes(b"not a simulation" * 8)
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="not a rebound simulation file"):
        read_systems(path)


def test_commands_take_files(tmp_path, capsys):
    bodies = _csv(tmp_path, TWO_TRIPLES)
    out = tmp_path / "traj.csv"
    main(["nbody", "run", "--ic", str(bodies), "--system", "1", "--t-end", "0.5", "--n-out", "2", "-o", str(out)])
    assert "2 outputs x 3 bodies" in capsys.readouterr().out
    with pytest.warns(RuntimeWarning, match=r"system\(s\) \[1\] are not in the centre-of-mass frame"):  # the second triple
        main(["nbody", "evaluate", "--rule", "0.1,3e-4", "--systems", str(bodies), "--t-end", "1", "--threads", "1"])
    line = next(r for r in capsys.readouterr().out.splitlines() if r.split()[:1] == ["rule"] and len(r.split()) == 7)
    assert int(line.split()[5]) == 0  # no early end on either triple
    for args, message in (
        (["run", "--ic", str(bodies), "--system", "2", "-o", str(tmp_path / "x.csv")], "holds 2 system"),
        (["run", "--ic", "pythagorean", "--g", "1", "-o", str(tmp_path / "x.csv")], "--g is for an --ic file"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["nbody", *args])
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_refuses_systems_in_other_units_or_sizes(tmp_path, capsys):
    rebound = pytest.importorskip("rebound")
    sim = rebound.Simulation()  # G = 1: N-body units
    for m, x in ((1.0, 0.0), (1.0, 1.0), (1.0, 3.0)):
        sim.add(m=m, x=x, vy=x)
    nbody_units = tmp_path / "g1.bin"
    sim.save_to_file(str(nbody_units))
    two = _csv(tmp_path, "x,y,vx,vy,m\n0,0,0,0,1\n1,0,0,6.28,1e-3\n", "kepler.csv")
    for path, message in ((nbody_units, "has G = 1"), (two, "holds systems of [2] bodies")):
        with pytest.raises(SystemExit) as e:
            main(["nbody", "evaluate", "--rule", "0.1,3e-4", "--systems", str(path)])
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert G_AU == pytest.approx(4 * np.pi**2)


def test_the_shipped_example_files():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "assets" / "nbody"
    triples, G = read_systems(folder / "example_triples.csv")
    assert G is None and [m.n_points for m in triples] == [3, 3, 3]
    assert triples[2].point_data["velocities"].abs().max() == 0  # the free-fall triple starts at rest
    pytest.importorskip("rebound")
    (triple,), G = read_systems(folder / "example_triple_rebound.bin")
    assert triple.n_points == 3 and G == pytest.approx(G_AU, rel=1e-4) and G != G_AU  # rebound's own AU/yr/Msun G


def test_run_from_a_csv_in_nbody_units_matches_the_builtin_problem(tmp_path, capsys):
    burrau = _csv(tmp_path, "x,y,vx,vy,m\n1,3,0,0,3\n-2,-1,0,0,4\n1,-1,0,0,5\n", "burrau.csv")
    ours, builtin = tmp_path / "ours.csv", tmp_path / "builtin.csv"
    main(["nbody", "run", "--ic", str(burrau), "--g", "1", "--t-end", "2", "--n-out", "3", "-o", str(ours)])
    main(["nbody", "run", "--ic", "pythagorean", "--t-end", "2", "--n-out", "3", "-o", str(builtin)])
    capsys.readouterr()
    from geomsci.core.io import read_table

    a, b = read_table(ours), read_table(builtin)
    assert all(np.array_equal(a[k], b[k]) for k in ("x", "y", "vx", "vy", "energy", "n_force"))


def test_an_ensemble_of_a_files_systems_resumes_only_on_the_same_file(tmp_path, capsys):
    import pickle

    from geomsci.nbody import load_ensemble
    from geomsci.nbody.files import SystemsFile

    bodies = _csv(tmp_path, TWO_TRIPLES)
    out = tmp_path / "ens"
    args = ["nbody", "ensemble", "-o", str(out), "--systems", str(bodies), "--t-end", "0.5", "--chunk-size", "1"]
    main(args)
    assert "wrote 2 systems" in capsys.readouterr().out
    ens = load_ensemble(out)
    (first, _), _ = read_systems(bodies)
    direct = integrate(first, [0.5], mu=1e-2, symmetric=1, progress=False)
    assert torch.equal(ens["x"][:, :1], direct.x) and ens["x"].shape[1] == 2
    bodies.write_text(TWO_TRIPLES.replace("1.5", "1.4"))  # an edited file: the ensemble on disk is not its run
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and "differs in ['make_system']" in capsys.readouterr().err
    again = pickle.loads(pickle.dumps(SystemsFile(bodies)))  # what a dask worker receives
    assert len(again) == 2 and again(1).point_data["masses"].tolist() == [1.4, 1.0, 0.7]


def test_ensemble_command_checks_its_systems_options(tmp_path, capsys):
    mixed = _csv(tmp_path, TWO_TRIPLES + "9,x,0,0,0,0,1\n9,y,1,0,0,6,1\n", "mixed.csv")
    out = str(tmp_path / "ens")
    for extra, message in (
        (["--systems", str(mixed)], "mixes systems of [2, 3] bodies"),
        (["--systems", str(_csv(tmp_path, TWO_TRIPLES)), "--n-systems", "3"], "holds 2 system(s), got 3"),
        (["--n-systems", "2", "--g", "1"], "--g is for --systems"),
        ([], "give --n-systems N"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["nbody", "ensemble", "-o", out, *extra])
        assert e.value.code == 2 and message in capsys.readouterr().err
