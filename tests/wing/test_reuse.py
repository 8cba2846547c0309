"""Trained things and tables are reusable: `wing predict` on a saved model, conditions.csv rows rebuild their wing,
old checkpoints keep their predictions under the current curvature sign, and outputs are never overwritten."""

import pytest
import torch

import geomsci
from geomsci.wing import Wing, wing_grid
from geomsci.wing.dataset import FEATURE_NAMES, load_dataset
from geomsci.wing.train import _flip_curvature_sign, load_cp_model, predict_cp, save_cp_model, train_cp_model
from tests.wing.cli_runner import run_wing_cli


def test_conditions_rows_rebuild_their_wings(tiny):
    """Every section string the dataset writes (NACA or cst:...) is accepted by Wing and gives the same grid."""
    from geomsci.core.io import read_table

    t = read_table(tiny / "conditions.csv")
    d = load_dataset(tiny)
    for k in range(len(t["wing"])):
        wing = Wing(
            str(t["section"][k]),
            span=float(t["span"][k]),
            taper=float(t["taper"][k]),
            sweep=float(t["sweep"][k]),
            dihedral=float(t["dihedral"][k]),
            twist=float(t["twist"][k]),
        )
        assert wing.to_dict()["section"] == str(t["section"][k])
        X = wing_grid(wing, 6, 3, 2).reshape(-1, 3).float()
        # the table rounds the CST weights to 4 digits: the grid agrees to that precision
        assert torch.allclose(X, d.points[int(t["wing"][k])], atol=2e-4)


def test_cst_string_round_trip_and_bad_sections_fail_at_construction():
    w = Wing(("cst", (0.2, 0.15, 0.18, 0.2), (-0.1, -0.12, -0.08, -0.1)))
    assert Wing(w.to_dict()["section"]) == w
    with pytest.raises(ValueError, match="bad section 'foo'"):
        Wing("foo")
    with pytest.raises(ValueError, match="even, non-zero number of weights"):
        Wing("cst:0.1;0.2;-0.1")
    with pytest.raises(ValueError, match="naca4"):
        Wing("naca2400")


def test_legacy_checkpoint_gives_identical_predictions(tiny, tmp_path):
    """A model trained when H was -1/R on an outward sphere predicts the same Cp after loading (converted)."""
    d = load_dataset(tiny)
    net, norm = train_cp_model(d, "mlp", ("curvature", "metric"), epochs=1, seed=0, hidden=16)
    legacy = d.features.clone()
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    legacy[..., col["H"]] = -d.features[..., col["H"]]
    legacy[..., col["k1"]], legacy[..., col["k2"]] = -d.features[..., col["k2"]], -d.features[..., col["k1"]]
    from geomsci.wing.dataset import WingData

    old_data = WingData(d.points, legacy, d.feature_names, d.cp, d.conditions, d.split)
    old_net, old_norm = train_cp_model(
        old_data, "mlp", ("curvature", "metric"), epochs=1, seed=0
    )  # default size: old files have no model_kw
    torch.save(
        {"model": "mlp", "groups": ("curvature", "metric"), "state": old_net.state_dict(), "norm": old_norm.__dict__},
        tmp_path / "old.pt",
    )
    expected = predict_cp(old_net, old_norm, old_data)
    net2, norm2, ck = load_cp_model(tmp_path / "old.pt")
    assert ck["curvature_sign"] == "positive on an outward sphere"
    assert torch.allclose(predict_cp(net2, norm2, d), expected, atol=1e-5)
    # a current checkpoint loads unchanged
    save_cp_model(tmp_path / "new.pt", net, norm, "mlp", ("curvature", "metric"), {"hidden": 16})
    net3, norm3, _ = load_cp_model(tmp_path / "new.pt")
    assert torch.equal(predict_cp(net3, norm3, d), predict_cp(net, norm, d))
    assert _flip_curvature_sign(_flip_curvature_sign(ck))["norm"]["mean"].equal(ck["norm"]["mean"])


def test_shipped_model_is_package_data():
    from geomsci.wing.demo import pretrained_cp_model_path

    path = pretrained_cp_model_path()
    assert path.is_file() and "geomsci" in path.parts and "assets" not in path.parts
    net, norm, ck = load_cp_model(path)
    assert ck["groups"] == ("metric", "christoffel", "curvature")


def test_predict_command_and_no_overwrite(tiny, tmp_path, capsys):
    model = tmp_path / "cp.pt"
    code, out, err = run_wing_cli(capsys, "train", str(tiny), "--epochs", "1", "-o", str(model), "--threads", "1")
    assert code == 0 and model.exists(), err
    before = model.read_bytes()
    code, _, err = run_wing_cli(capsys, "train", str(tiny), "--epochs", "1", "-o", str(model))
    assert code == 2 and "--force" in err and model.read_bytes() == before  # refused before training
    pred = tmp_path / "pred.vtu"
    code, out, err = run_wing_cli(
        capsys, "predict", str(model), str(tiny / "wing_000.vtu"), "--alpha", "4", "--mach", "0.3", "-o", str(pred)
    )
    assert code == 0 and "Cp predicted" in out, err
    m = geomsci.load(pred)
    net, norm, _ = load_cp_model(model)
    d = load_dataset(tiny)
    from geomsci.wing.dataset import WingData

    ref = predict_cp(
        net,
        norm,
        WingData(d.points[:1], d.features[:1], d.feature_names, d.cp[:1, :1], torch.tensor([[[4.0, 0.3]]]), d.split[:1]),
    )[0, 0]
    assert torch.allclose(m.point_data["cp_predicted"].float(), ref, atol=1e-4)
    for args, msg in (
        (["--alpha", "4", "--mach", "1.5"], "--mach must be in [0, 1)"),
        (["--alpha", "4", "--mach", "0.3"], "exists; pass --force"),
    ):
        code, _, err = run_wing_cli(capsys, "predict", str(model), str(tiny / "wing_000.vtu"), *args, "-o", str(pred))
        assert code == 2 and msg in err and err.count("\n") == 1
    code, _, err = run_wing_cli(
        capsys,
        "predict",
        str(tiny / "wing_000.vtu"),
        str(tiny / "wing_000.vtu"),
        "--alpha",
        "4",
        "--mach",
        "0.3",
        "-o",
        str(tmp_path / "x.vtu"),
    )
    assert code == 2 and "is not a Cp model" in err


def test_make_dataset_refuses_a_used_folder_before_work(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run_wing_cli(capsys, "make-dataset", "-o", str(tmp_path), "--wings", "2", "--test", "1")
    assert code == 2 and "--force" in err and not (tmp_path / "conditions.csv").exists()
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run_wing_cli(capsys, "make-dataset", "-o", str(f), "--wings", "2", "--test", "1")
    assert code == 2 and "is a file" in err and f.read_text() == "x"
