"""`geomsci deepmesh extract`: files in, mesh out; one-line errors for bad volumes."""

import numpy as np
import pytest

import geomsci
from geomsci.cli import main
from geomsci.core import geometry


@pytest.fixture
def sphere_volume():
    x = np.linspace(-1, 1, 24)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    return np.sqrt(X**2 + Y**2 + Z**2) - 0.6


def run(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr()


def test_extract_npy(tmp_path, sphere_volume, capsys):
    np.save(tmp_path / "v.npy", sphere_volume)
    main(["deepmesh", "extract", str(tmp_path / "v.npy"), "--level", "0", "-o", str(tmp_path / "s.ply")])
    mesh = geomsci.load(tmp_path / "s.ply")
    assert geometry.is_watertight(mesh.cells)
    assert "watertight" in capsys.readouterr().out


def test_extract_npz_with_spacing_and_key(tmp_path, sphere_volume):
    np.savez(tmp_path / "v.npz", phi=sphere_volume, other=sphere_volume, origin=[-1, -1, -1], spacing=2 / 23)
    main(["deepmesh", "extract", str(tmp_path / "v.npz"), "--key", "phi", "-o", str(tmp_path / "s.obj")])
    mesh = geomsci.load(tmp_path / "s.obj")
    r = mesh.points.norm(dim=1)
    assert (r - 0.6).abs().max() < 0.02  # world coordinates from the file's origin/spacing


def test_extract_meshio_lattice(tmp_path, sphere_volume):
    import meshio

    x = np.linspace(-1, 1, 24)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1)
    perm = np.random.default_rng(0).permutation(len(pts))  # any point order
    meshio.write(
        tmp_path / "v.vtu",
        meshio.Mesh(pts[perm], [("vertex", np.arange(len(pts))[:, None])], point_data={"phi": sphere_volume.ravel()[perm]}),
    )
    main(["deepmesh", "extract", str(tmp_path / "v.vtu"), "-o", str(tmp_path / "s.ply")])
    mesh = geomsci.load(tmp_path / "s.ply")
    assert (mesh.points.norm(dim=1) - 0.6).abs().max() < 0.02


@pytest.mark.parametrize(
    "case,msg",
    [
        ("2d", "must be 3-D"),
        ("nan", "NaN"),
        ("level", "outside the volume's value range"),
        ("missing", "not found"),
        ("ambiguous", "pick one with --key"),
    ],
)
def test_extract_errors(tmp_path, sphere_volume, capsys, case, msg):
    path = tmp_path / "v.npy"
    level = "0"
    if case == "2d":
        np.save(path, sphere_volume[0])
    elif case == "nan":
        v = sphere_volume.copy()
        v[3, 4, 5] = np.nan
        np.save(path, v)
    elif case == "level":
        np.save(path, sphere_volume)
        level = "7"
    elif case == "ambiguous":
        path = tmp_path / "v.npz"
        np.savez(path, a=sphere_volume, b=sphere_volume)
    code, out = run(["deepmesh", "extract", str(path), "--level", level, "-o", str(tmp_path / "o.ply")], capsys)
    assert code == 2
    assert msg in out.err and out.err.count("\n") == 1


@pytest.mark.parametrize(
    "case,msg",
    [
        ("thin", "at least 2 nodes per axis"),
        ("garbage", "is not a numpy .npy file"),
        ("origin", "'origin' must hold 3 finite numbers"),
        ("spacing", "'spacing' must be one or 3 positive finite"),
        ("only_meta", "holds no volume array"),
        ("renamed", "not an .npz archive"),
        ("inf_spacing", "--spacing must be"),
    ],
)
def test_extract_bad_files_and_options(tmp_path, sphere_volume, capsys, case, msg):
    path, extra = tmp_path / "v.npz", []
    if case == "thin":  # used to be reported as "level ... outside the value range"
        path = tmp_path / "v.npy"
        np.save(path, sphere_volume[:1])
    elif case == "garbage":  # numpy's own message suggests unpickling the file
        path = tmp_path / "v.npy"
        path.write_bytes(b"not an array")
    elif case == "origin":  # used to be numpy's "cannot reshape array of size 2"
        np.savez(path, a=sphere_volume, origin=[0.0, 1.0])
    elif case == "spacing":  # a NaN spacing used to end as "Mesh: points contain NaN or inf"
        np.savez(path, a=sphere_volume, spacing=np.nan)
    elif case == "only_meta":  # used to say "holds arrays []; pick one with --key"
        np.savez(path, origin=[0.0, 0.0, 0.0])
    elif case == "renamed":
        np.save(tmp_path / "x.npy", sphere_volume)
        (tmp_path / "x.npy").rename(path)
    elif case == "inf_spacing":
        path = tmp_path / "v.npy"
        np.save(path, sphere_volume)
        extra = ["--spacing", "inf"]
    code, out = run(["deepmesh", "extract", str(path), "-o", str(tmp_path / "o.ply"), *extra], capsys)
    assert code == 2
    assert msg in out.err and out.err.count("\n") == 1


def test_demo(tmp_path):
    from geomsci.deepmesh.demo import demo

    summary = demo(tmp_path)
    assert "genus 1" in summary and "dL/dr = 1.0000" in summary
    assert (tmp_path / "torus_fitted.ply").exists()
