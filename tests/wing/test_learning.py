"""Dataset generation, the Cp models and the `geomsci wing` command line, on tiny sizes."""

import pytest
import torch

from geomsci.wing.dataset import FEATURE_NAMES, load_dataset, make_dataset, random_wing
from geomsci.wing.models import AttentionCpNet, PointMLP
from geomsci.wing.panel import panel_to_points, solve_panels
from geomsci.wing.planform import wing_grid
from geomsci.wing.train import cp_mse, feature_columns, predict_cp, train_cp_model
from tests.wing.cli_runner import run_wing_cli


def test_dataset_files_and_cp_match_a_direct_solve(tiny):
    from geomsci.core.io import read_table

    t = read_table(tiny / "conditions.csv")
    assert len(t["alpha"]) == 8 and set(t["split"]) == {"train", "test"}
    assert ((t["alpha"] >= -2) & (t["alpha"] <= 12)).all() and ((t["mach"] >= 0.1) & (t["mach"] <= 0.7)).all()
    d = load_dataset(tiny)
    assert d.points.shape == (4, 13 * 6, 3) and d.features.shape == (4, 78, len(FEATURE_NAMES))
    assert d.cp.shape == (4, 2, 78) and d.split.tolist() == [0, 0, 0, 1]
    # wing 0 again, from the same generator stream
    g = torch.Generator().manual_seed(3)
    wing = random_wing(g)
    X = wing_grid(wing, 6, 3, 2)
    sol = solve_panels(X, d.conditions[0, :, 0].double(), float(d.conditions[0, 0, 1]))
    assert torch.allclose(panel_to_points(sol.cp).reshape(2, -1).float(), d.cp[0], atol=1e-4)


def test_models_shapes_and_attention_is_permutation_equivariant():
    x = torch.randn(2, 50, 7)
    assert PointMLP(7)(x).shape == (2, 50)
    net = AttentionCpNet(7).eval()
    perm = torch.randperm(50)
    with torch.no_grad():
        assert torch.allclose(net(x)[:, perm], net(x[:, perm]), atol=1e-5)
        # and not point-wise: changing one point changes the others' predictions
        y = x.clone()
        y[:, 0] += 1
        assert (net(y)[:, 1:] - net(x)[:, 1:]).abs().max() > 1e-6
    with pytest.raises(ValueError, match="heads"):
        AttentionCpNet(7, d=30, heads=4)


@pytest.mark.parametrize("model", ["mlp", "attention"])
def test_training_reduces_error_and_groups_select_columns(tiny, model):
    d = load_dataset(tiny)
    assert len(feature_columns(d, ("metric",))) == 7 and len(feature_columns(d, ("christoffel", "curvature"))) == 10
    with pytest.raises(ValueError, match="unknown feature group"):
        feature_columns(d, ("torsion",))
    kw = dict(d=16, latents=8) if model == "attention" else dict(hidden=32)
    net, norm = train_cp_model(d, model, ("metric", "christoffel", "curvature"), epochs=40, batch=2, seed=0, **kw)
    train = d.subset("train")
    assert cp_mse(net, norm, d, "train") < 0.5 * float(train.cp.var())
    assert predict_cp(net, norm, d).shape == d.cp.shape


def test_cli_features_train_and_errors(tiny, tmp_path, capsys):
    import geomsci

    out = tmp_path / "f.vtu"
    code, stdout, err = run_wing_cli(capsys, "features", str(tiny / "wing_000.vtu"), "-o", str(out))
    assert code == 0, err
    m = geomsci.load(out)
    assert {"K", "H", "Gamma1_12", "det_g"} <= set(m.point_data)
    code, stdout, err = run_wing_cli(
        capsys, "train", str(tiny), "--model", "mlp", "--features", "curvature", "--epochs", "2", "-o", str(tmp_path / "m.pt")
    )
    assert code == 0 and "held-out Cp MSE" in stdout, err
    code, _, err = run_wing_cli(capsys, "features", str(tmp_path / "missing.vtu"), "-o", str(out))
    assert code == 2 and "geomsci: error" in err
    code, _, err = run_wing_cli(capsys, "train", str(tiny), "--features", "torsion")
    assert code == 2 and "unknown group" in err


def test_demo_writes_pngs_and_reports_prediction_error(tmp_path):
    from geomsci.wing.demo import demo

    summary = demo(tmp_path)
    for name in ("wing_mean_curvature", "wing_christoffel_1_11", "wing_cp_panel", "wing_cp_predicted"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert "CL" in summary and "Cp MSE" in summary
    mse = float(summary.split("Cp MSE ")[1].split()[0])
    var = float(summary.split("Cp variance ")[1].rstrip(")"))
    assert mse < 0.5 * var  # the pretrained model does far better than predicting the mean on an unseen wing


def test_models_name_a_wrong_input_width():
    with pytest.raises(ValueError, match=r"inputs must have shape \(B, N, 5\)"):
        PointMLP(5)(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"inputs must have shape \(B, N, 5\)"):
        AttentionCpNet(5, d=8, latents=4, heads=2)(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="latents >= 1"):
        AttentionCpNet(5, latents=0)


def test_training_arguments_and_unfitted_use_raise(tiny):
    d = load_dataset(tiny)
    for kw, match in ((dict(epochs=0), "epochs >= 1"), (dict(batch=0), "batch >= 1"), (dict(lr=0.0), "lr must be positive")):
        with pytest.raises(ValueError, match=match):
            train_cp_model(d, "mlp", (), **kw)
    with pytest.raises(TypeError, match="not a string"):
        feature_columns(d, "metric")
    with pytest.raises(TypeError, match="norm must be the Normalizer"):
        predict_cp(PointMLP(5), None, d)
    net, norm = train_cp_model(d, "mlp", (), epochs=1)
    with pytest.raises(ValueError, match="no test wings"):
        cp_mse(net, norm, d.subset("train"), "test")  # used to return NaN


def test_malformed_dataset_files_are_named(tiny, tmp_path):
    import shutil

    import geomsci

    def copy(name):
        dst = tmp_path / name
        shutil.copytree(tiny, dst)
        return dst

    d = copy("header_only")
    header = (d / "conditions.csv").read_text().splitlines()[0]
    (d / "conditions.csv").write_text(header + "\n")
    with pytest.raises(ValueError, match="has no rows"):
        load_dataset(d)
    d = copy("no_mach")
    lines = (d / "conditions.csv").read_text().splitlines()
    (d / "conditions.csv").write_text("\n".join(",".join(c for k, c in enumerate(l.split(",")) if k != 5) for l in lines) + "\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['mach'\]"):
        load_dataset(d)
    d = copy("no_cp")
    m = geomsci.load(d / "wing_001.vtu")
    del m.point_data["cp_0"]
    geomsci.save(m, d / "wing_001.vtu")
    with pytest.raises(ValueError, match=r"wing_001.vtu lacks the point field\(s\) \['cp_0'\]"):
        load_dataset(d)


def test_make_dataset_checks_grid_sizes_before_solving(tmp_path):
    with pytest.raises(ValueError, match="n_chord >= 2"):
        make_dataset(tmp_path, n_wings=2, n_test=1, n_mach=1, n_alpha=1, n_chord=1, progress=False)
    assert not list(tmp_path.glob("*.vtu"))


def test_cli_train_creates_the_output_folder(tiny, tmp_path, capsys):
    out = tmp_path / "new" / "m.pt"
    code, stdout, err = run_wing_cli(capsys, "train", str(tiny), "--epochs", "1", "-o", str(out))
    assert code == 0 and out.exists(), err
