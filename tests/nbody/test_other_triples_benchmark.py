"""benchmarks/nbody_other_triples.py: its generators make what they say, and a tiny run goes through every family,
so the benchmark cannot rot between the long runs."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "nbody_other_triples.py"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("rebound")
    spec = importlib.util.spec_from_file_location("nbody_other_triples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("nbody", None)  # the script imports benchmarks/nbody.py under that name


def _com(system):
    m = system.point_data["masses"].numpy()
    x, v = system.points.numpy(), system.point_data["velocities"].numpy()
    return (m[:, None] * x).sum(0) / m.sum(), (m[:, None] * v).sum(0) / m.sum()


def test_the_families_are_what_the_docs_say(bench):
    for k in range(20):
        masses = bench.unequal_masses(bench.SEED0 + k)
        assert np.all((masses.point_data["masses"].numpy() >= 0.3) & (masses.point_data["masses"].numpy() <= 3.0))
        inclined = bench.hierarchical(bench.SEED0 + k)
        at_rest = bench.free_fall(bench.SEED0 + k)
        assert np.all(at_rest.point_data["velocities"].numpy() == 0)
        for system in (masses, inclined, at_rest):
            x_com, v_com = _com(system)
            assert np.abs(x_com).max() < 1e-12 and np.abs(v_com).max() < 1e-12
    assert any(np.abs(bench.hierarchical(bench.SEED0 + k).points.numpy()[:, 2]).max() > 0.1 for k in range(5))  # 3-D


def test_a_tiny_run_of_every_family(bench, tmp_path, capsys):
    bench.main(["--n", "3", "--t-end", "0.3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for family in ("masses", "hierarchical", "free-fall"):
        assert f"#### family {family}" in out and (tmp_path / f"other_{family}_symmetrized.npz").is_file()
    assert out.count("end early under every controller") == 3 and "RL policy_residual_cem_b05" in out
    with pytest.raises(SystemExit, match="unknown"):
        bench.main(["--family", "moons", "--out", str(tmp_path)])
