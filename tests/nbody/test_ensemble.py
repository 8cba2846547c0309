"""Ensembles streamed to disk: the same bits serially, resumed, or over a dask cluster."""

import pytest
import torch

from geomsci.nbody import integrate, integrate_ensemble, load_ensemble, paper_triple

TIMES = [0.2, 0.4]
OPTS = {"mu": 0.05, "symmetric": 1}


def test_ensemble_equals_one_batch_and_resumes(tmp_path):
    out = integrate_ensemble(paper_triple, 7, TIMES, tmp_path / "ens", chunk_size=3, progress=False, **OPTS)
    ens = load_ensemble(out)
    ref = integrate([paper_triple(s) for s in range(7)], TIMES, **OPTS)
    assert torch.equal(ens["x"], ref.x) and torch.equal(ens["n_force"], ref.n_force)
    assert torch.equal(ens["relative_energy_error"], ref.relative_energy_error)
    # an interrupted run: one chunk missing and a half-written file left behind; rerunning finishes only that chunk
    chunks = sorted(out.glob("chunk_*.pt"))
    assert len(chunks) == 3
    keep = {c: c.stat().st_mtime_ns for c in chunks[:2]}
    chunks[2].unlink()
    (out / "chunk_000002.pt.part123").write_bytes(b"half")
    with pytest.raises(ValueError, match="chunks missing"):
        load_ensemble(out)
    integrate_ensemble(paper_triple, 7, TIMES, out, chunk_size=3, progress=False, **OPTS)
    assert all(c.stat().st_mtime_ns == t for c, t in keep.items()) and not list(out.glob("*.part*"))
    assert torch.equal(load_ensemble(out)["x"], ref.x)


def test_ensemble_refuses_a_different_ensemble_in_the_folder(tmp_path):
    integrate_ensemble(paper_triple, 2, TIMES, tmp_path, chunk_size=2, progress=False, **OPTS)
    with pytest.raises(ValueError, match=r"different ensemble \(differs in \['options'\]\)"):
        integrate_ensemble(paper_triple, 2, TIMES, tmp_path, chunk_size=2, progress=False, mu=0.1)
    integrate_ensemble(paper_triple, 2, TIMES, tmp_path, chunk_size=2, progress=False, force=True, mu=0.1)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        integrate_ensemble(paper_triple, 2, TIMES, other, progress=False)
    with pytest.raises(ValueError, match="mu must be positive"):
        integrate_ensemble(paper_triple, 2, TIMES, tmp_path / "new", progress=False, mu=-1.0)
    assert not (tmp_path / "new").exists()  # refused before anything was written


def test_dask_local_cluster_gives_the_serial_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = load_ensemble(integrate_ensemble(paper_triple, 6, TIMES, tmp_path / "serial", chunk_size=2, progress=False, **OPTS))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            path = integrate_ensemble(
                paper_triple, 6, TIMES, tmp_path / "dask", chunk_size=2, scheduler=client, progress=False, **OPTS
            )
            workers = len(client.scheduler_info()["workers"])
    assert workers == 2
    spread = load_ensemble(path)
    for key in ("x", "v", "energy", "n_force", "stalled"):
        assert torch.equal(spread[key], serial[key]), key
