"""MMGPRegressor: fits and predicts, analytic variance = Monte-Carlo variance, save/load, validation
errors that name the sample, dask executor gives the serial result."""

import numpy as np
import pytest
import torch

from geomsci.core.mesh import Mesh
from geomsci.mmgp.gp import BatchedGP, SharedGP
from geomsci.mmgp.metrics import q2, rrmse_field
from geomsci.mmgp.regressor import MMGPRegressor


def outputs_of(meshes, scalars, fields=("u2",)):
    out = {f: [m.point_data[f] for m in meshes] for f in fields}
    out["max_top_u2"] = scalars[:, 1]
    return out


def test_batched_gp_learns_and_picks_best_restart():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 2, generator=g, dtype=torch.float64) * 2 - 1
    f = lambda x: torch.stack([torch.sin(3 * x[:, 0]), x[:, 0] * x[:, 1] + x[:, 1]], 1)  # noqa: E731
    xt = torch.rand(50, 2, generator=g, dtype=torch.float64) * 2 - 1
    gp1 = BatchedGP(n_restarts=1, n_iter=80).fit(x, f(x))
    gp3 = BatchedGP(n_restarts=3, n_iter=80).fit(x, f(x))
    mean, var = gp3.predict(xt)
    assert mean.shape == (50, 2) and var.shape == (50, 2) and bool((var > 0).all())
    assert q2(f(xt)[:, 0], mean[:, 0]) > 0.999 and q2(f(xt)[:, 1], mean[:, 1]) > 0.999
    assert bool((gp3.mll_ >= gp1.mll_ - 1e-6).all())  # restart 0 of gp3 is gp1's run
    again = BatchedGP.from_state(gp3.state()).predict(xt)
    assert torch.equal(again[0], mean) and torch.equal(again[1], var)


def test_fit_predict_shapes_and_accuracy(small_data, small_model):
    _, (mte, xte, yte) = small_data
    mean, std = small_model.predict(mte, xte, return_std=True)
    assert [len(m) for m in mean["u2"]] == [m.n_points for m in mte]
    assert mean["max_top_u2"].shape == (4,) and bool((std["max_top_u2"] > 0).all())
    truth = [m.point_data["u2"] for m in mte]
    # 16 coarse training plates: the surrogate explains most of the variation
    assert rrmse_field(truth, mean["u2"]) < 0.2
    assert small_model.score(mte, xte, {"u2": truth}) > 0.8
    assert all(bool((s >= 0).all()) for s in std["u2"])


def _check_monte_carlo(model, mte, xte):
    _, std = model.predict(mte, xte, return_std=True)
    xs, Qs = model.predict_coefficients(mte, xte)
    gp = model.field_gps_["u2"]
    scale = model.field_scales(xte)["u2"]  # (n,) power-law amplitudes
    torch.manual_seed(0)
    draws = gp.posterior(xs).sample(torch.Size([4000]))  # (S, k, n_test) standardised
    for j, Q in enumerate(Qs):
        coeffs = draws[:, :, j] * gp.y_std_ + gp.y_mean_  # (S, k)
        fields = model.reconstruct("u2", Q, coeffs, scale[j])  # (S, N_j)
        # plus the POD truncation variance, an independent term added analytically to both sides' sum
        mc = fields.var(0) + scale[j] ** 2 * torch.sparse.mm(Q, model.field_resvar_["u2"][:, None])[:, 0]
        an = (std["u2"][j] / model.std_scale_["u2"]) ** 2  # the analytic variance, before the CV interval factor
        big = an > 1e-6 * an.max()
        assert float(((mc[big] / an[big]) - 1).abs().max()) < 6 * (2 / 3999) ** 0.5


def test_variance_propagation_matches_monte_carlo(small_data, small_model):
    """Var[u_j] = v_j diag(B C B^T) + Q_j sigma^2, B = Q_j Phi: compare with the sample variance of
    fields built from 4000 joint draws of the GP posterior over the POD coefficients (correlated
    across modes through C), pushed through the same reconstruction Q_j (mean + Phi a), plus the
    independent POD-truncation term. Relative standard error of a variance from S draws:
    sqrt(2 / (S - 1)) = 2.2%; allow 6 of them at the worst node."""
    _, (mte, xte, _) = small_data
    _check_monte_carlo(small_model, mte, xte)


def test_variance_propagation_independent_gps(small_data):
    """The same check with one gpytorch GP per POD mode (different variances per mode)."""
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    model = MMGPRegressor(n_corners=4, n_shape_modes=3, field_modes=4, n_restarts=1, n_iter=30, gp="independent")
    model.fit(mtr, xtr, outputs_of(mtr, ytr))
    _check_monte_carlo(model, mte[:2], xte[:2])


def test_save_load_roundtrip(tmp_path, small_data, small_model):
    _, (mte, xte, _) = small_data
    path = small_model.save(tmp_path / "m.pt")
    loaded = MMGPRegressor.load(path)
    a, sa = small_model.predict(mte, xte, return_std=True)
    b, sb = loaded.predict(mte, xte, return_std=True)
    for k in a:
        if k == "max_top_u2":
            assert torch.allclose(a[k], b[k]) and torch.allclose(sa[k], sb[k])
        else:
            assert all(torch.allclose(u, v) for u, v in zip(a[k], b[k]))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a saved MMGP model"):
        MMGPRegressor.load(tmp_path / "junk.pt")


def test_errors_name_the_sample(small_data, small_model):
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    with pytest.raises(RuntimeError, match="before predict"):
        MMGPRegressor().predict(mte, xte)
    out = outputs_of(mtr[:4], ytr[:4])
    out["u2"][2] = out["u2"][2][:-1]
    with pytest.raises(ValueError, match=r"field 'u2' of sample 'c' \(index 2\) has \d+ values, its mesh has"):
        MMGPRegressor().fit(mtr[:4], xtr[:4], out, ids=["a", "b", "c", "d"])
    annulus = Mesh(
        torch.tensor([[0, 0], [3, 0], [3, 3], [0, 3], [1, 1], [2, 1], [2, 2], [1, 2]], dtype=torch.float64),
        torch.tensor([[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]]),
    )
    with pytest.raises(ValueError, match=r"sample '1' \(index 1\) has 2 boundary loops"):
        small_model.predict([mte[0], annulus], xte[:2])
    bad = xte.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"inputs of sample '3' \(index 3\) are not finite"):
        small_model.predict(mte, bad)
    with pytest.raises(ValueError, match="one row per mesh"):
        small_model.predict(mte, xte[:2])


def test_dask_executor_same_result(small_data):
    distributed = pytest.importorskip("distributed")
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    kw = dict(n_corners=4, n_shape_modes=2, field_modes=3, n_restarts=1, n_iter=10)
    out = outputs_of(mtr[:8], ytr[:8])
    serial = MMGPRegressor(**kw).fit(mtr[:8], xtr[:8], out).predict(mte[:2], xte[:2])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        par = MMGPRegressor(**kw, scheduler=cluster.scheduler_address).fit(mtr[:8], xtr[:8], out).predict(mte[:2], xte[:2])
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(serial["u2"], par["u2"]))
    assert torch.allclose(serial["max_top_u2"], par["max_top_u2"], atol=1e-10)


@pytest.mark.gpu
def test_cuda_matches_cpu(small_data, small_model):
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    cuda = [m.to("cuda") for m in mtr]
    kw = dict(n_corners=4, n_shape_modes=3, field_energy=0.999, n_restarts=2, n_iter=40, seed=0)
    model = MMGPRegressor(**kw).fit(cuda, xtr, outputs_of(cuda, ytr, ("u1", "u2")))
    a = model.predict([m.to("cuda") for m in mte], xte)
    b = small_model.predict(mte, xte)
    assert a["u2"][0].device.type == "cuda"
    assert all(torch.allclose(u.cpu(), v, rtol=1e-4, atol=1e-6 * float(v.abs().max())) for u, v in zip(a["u2"], b["u2"]))


def test_rbf_morphing_variant(small_data):
    """morphing='rbf': samples are morphed onto the common plate through their boundary loops; the
    pipeline then runs in physical space and still explains most of u2."""
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    model = MMGPRegressor(morphing="rbf", n_shape_modes=3, field_energy=0.999, n_restarts=1, n_iter=60)
    model.fit(mtr, xtr, outputs_of(mtr, ytr))
    truth = [m.point_data["u2"] for m in mte]
    mean = model.predict(mte, xte)
    assert q2(truth, mean["u2"]) > 0.8


def test_field_pod_reconstructs_training_fields_to_threshold(small_data, small_model):
    """The fitted model's POD of u2 (energy 0.999) on the common mesh: the transferred training
    fields come back with at most 0.1% of their centred energy (mass-weighted) lost."""
    (mtr, _, _), _ = small_data
    prep = small_model._prepare(mtr, {"u2": [m.point_data["u2"] for m in mtr]}, back=False, desc="")
    snaps = torch.stack([p["fields"]["u2"] for p in prep])  # (n, N_c)
    pod = small_model.field_pods_["u2"]
    rec = pod.inverse_transform(pod.transform(snaps))
    w = pod.weights_
    lost = float((((snaps - rec) ** 2) * w).sum() / (((snaps - pod.mean_) ** 2) * w).sum())
    assert lost <= 1 - 0.999 + 1e-12
    assert pod.n_components_ < len(mtr) - 1  # a real reduction


def test_power_law_field_scaling_finds_p_over_e(small_data):
    """Fields u = (p / E) g (1 + (nu - 0.3) / 4) on one mesh: the fitted amplitude law has exponents
    1 for the pressure and -1 for Young's modulus, and makes the field far easier to regress than
    without scaling (the GP then only sees the small Poisson-driven part)."""
    (mtr, xtr, _), _ = small_data
    mesh, g = mtr[0], mtr[0].point_data["u2"].double()
    gen = torch.Generator().manual_seed(1)
    x = torch.stack(
        [
            1 + 4 * torch.rand(24, generator=gen, dtype=torch.float64),
            70 + 60 * torch.rand(24, generator=gen, dtype=torch.float64),
            0.2 + 0.2 * torch.rand(24, generator=gen, dtype=torch.float64),
        ],
        1,
    )
    u = [(xi[0] / xi[1]) * g * (1 + (xi[2] - 0.3) / 4) for xi in x]
    err = {}
    for scaling in ("power", "none"):
        model = MMGPRegressor(n_shape_modes=1, field_modes=2, n_restarts=1, n_iter=60, field_scaling=scaling)
        model.fit([mesh] * 16, x[:16], {"u": u[:16]})
        if scaling == "power":
            beta = model.field_beta_["u"]
            assert abs(float(beta[0]) - 1) < 0.02 and abs(float(beta[1]) + 1) < 0.02, beta
        err[scaling] = rrmse_field(u[16:], model.predict([mesh] * 8, x[16:])["u"])
    assert err["power"] < 1e-3 and err["power"] < err["none"] / 10, err


def test_shared_gp_loo_output_covariance_gives_each_output_its_own_variance():
    """One kernel for both outputs, but a smooth output and a noisy one: with calibration='loo' the
    predictive variances follow each output's leave-one-out error (both calibrated: mean z^2 near 1),
    with 'none' they are equal in standardised units."""
    from geomsci.mmgp.gp import SharedGP

    g = torch.Generator().manual_seed(1)
    x = torch.rand(150, 2, generator=g, dtype=torch.float64) * 2 - 1
    xt = torch.rand(400, 2, generator=g, dtype=torch.float64) * 2 - 1

    def f(x, gen):
        smooth = torch.sin(2 * x[:, 0]) + x[:, 1]
        return torch.stack([smooth, 0.3 * smooth + 0.2 * torch.randn(len(x), generator=gen, dtype=torch.float64)], 1)

    y, yt = f(x, g), f(xt, g)
    loo = SharedGP(n_restarts=1, n_iter=100, lr=0.1).fit(x, y)
    mean, var = loo.predict(xt)
    z2 = ((yt - mean) ** 2 / var).mean(0)
    assert bool((z2 > 0.6).all()) and bool((z2 < 1.6).all()), z2
    none = SharedGP(n_restarts=1, n_iter=100, lr=0.1, calibration="none").fit(x, y)
    _, var0 = none.predict_standardized(xt)
    assert torch.allclose(var0[:, 0], var0[:, 1])
    assert float(loo.C_[1, 1] / loo.C_[0, 0]) > 10  # the noisy output's LOO errors are far larger


def test_amplitude_law_with_shape_modes_roundtrips(tmp_path, small_data):
    """amplitude_shape_modes=k adds the first k shape modes to the power law; field_scales then needs
    the meshes, predictions survive save/load, and bad settings are refused."""
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    kw = dict(n_corners=4, n_shape_modes=3, field_modes=3, n_restarts=1, n_iter=20, n_polish=10)
    model = MMGPRegressor(amplitude_shape_modes=2, **kw).fit(mtr, xtr, outputs_of(mtr, ytr))
    assert model.field_beta_["u2"].shape == (3 + 2,)  # 3 positive inputs, 2 shape modes
    with pytest.raises(ValueError, match="pass the meshes"):
        model.field_scales(xte)
    s = model.field_scales(xte, mte)["u2"]
    assert s.shape == (4,) and bool((s > 0).all())
    a = model.predict(mte, xte)["u2"]
    b = MMGPRegressor.load(model.save(tmp_path / "m.pt")).predict(mte, xte)["u2"]
    assert all(torch.allclose(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match="needs field_scaling='power'"):
        MMGPRegressor(amplitude_shape_modes=1, field_scaling="none", **kw).fit(mtr, xtr, outputs_of(mtr, ytr))
    with pytest.raises(ValueError, match=r"amplitude_shape_modes must lie in \[0, 3\]"):
        MMGPRegressor(amplitude_shape_modes=5, **kw).fit(mtr, xtr, outputs_of(mtr, ytr))


def test_bad_arguments_fail_before_the_morphing(small_data, small_model, tmp_path):
    (mtr, xtr, ytr), (mte, xte, _) = small_data
    m, x, y = mtr[:3], xtr[:3], ytr[:3]
    u2 = [mm.point_data["u2"] for mm in m]
    cases = [
        ({}, x, {"y": ["a", "b", "c"]}, "output 'y' must be numbers"),
        ({}, [["a"]] * 3, {"y": y[:, 0]}, "inputs must be numbers"),
        ({}, {"p": [1.0, 2.0, 3.0], "q": [1.0]}, {"y": y[:, 0]}, "input 'q' has 1 values, expected one per mesh"),
        ({}, x, {"u2": u2[:2]}, "field 'u2' has 2 nodal fields for 3 meshes"),
        ({}, x, {"u2": [v[:, None, None].expand(-1, 2, 2) for v in u2]}, r"has shape \(\d+, 2, 2\); give \(N,\) or \(N, C\)"),
        ({"common_mesh": 7}, x, {"y": y[:, 0]}, "common_mesh=7 is not an index of the 3 training meshes"),
        ({"common_mesh": "a"}, x, {"y": y[:, 0]}, "common_mesh must be None, a training-mesh index or a Mesh"),
        ({"n_shape_modes": 0}, x, {"y": y[:, 0]}, "n_shape_modes must be an integer >= 1"),
        ({"n_corners": -1}, x, {"y": y[:, 0]}, "n_corners must be an integer >= 0 or 'auto'"),  # was accepted
        ({"field_energy": 2.0}, x, {"y": y[:, 0]}, r"field_energy must lie in \(0, 1\]"),
    ]
    for params, inputs, outputs, message in cases:
        with pytest.raises(ValueError, match=message):
            MMGPRegressor(**params).fit(m, inputs, outputs)
    with pytest.raises(ValueError, match="at least 2 training samples, got 1"):  # was a gpytorch RuntimeError
        MMGPRegressor().fit(m[:1], x[:1], {"y": y[:1, 0]})
    with pytest.raises(ValueError, match="output 'stress' was not fit"):  # was a KeyError
        small_model.score(mte, xte, {"stress": [1.0] * len(mte)})
    with pytest.raises(ValueError, match="is a directory"):
        small_model.save(tmp_path)
    assert small_model.save(tmp_path / "new" / "model.pt").is_file()  # the folder is created


def test_gps_check_their_input():
    x = torch.rand(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = x.sum(1, keepdim=True)
    for GP in (BatchedGP, SharedGP):
        with pytest.raises(TypeError, match="x must be a float tensor, got ndarray"):
            GP(n_restarts=1, n_iter=2).fit(x.numpy(), y)
        with pytest.raises(ValueError, match=r"y has NaN or inf values \(first in row 0\)"):
            GP(n_restarts=1, n_iter=2).fit(x, torch.full_like(y, float("nan")))  # SharedGP fit NaNs silently
        with pytest.raises(RuntimeError, match="call fit before predict"):
            GP().predict(x)
        gp = GP(n_restarts=1, n_iter=2, n_polish=0).fit(x, y)
        with pytest.raises(ValueError, match=r"x must be a tensor of shape \(m, 2\)"):
            gp.predict(torch.rand(3, 3, dtype=torch.float64))
