"""``MMGPRegressor``: mesh-morphing Gaussian-process regression of fields and scalars (Casenave et al. 2023).

    fit:   mesh_i --morph--> support_i --P_i--> common mesh      (P_i: P1 transfer, sparse (N_c, N_i))
           shape    x_i = P_i X_i (physical coordinates as a field)  --POD--> shape modes z_i (k_s,)
           field f  u_i = P_i U_i                                    --POD--> coefficients a_i^f (k_f,)
           amplitude  (optional) u_i = s_f(x_i) v_i with the power law log s_f = beta_f . (log x_i - mean)
                      (+ gamma_f . z_i[:k_a], the first shape modes, if amplitude_shape_modes = k_a > 0),
                      fitted by least squares to log ||u_i||_W over the training set; POD and GP see v_i
           GP inputs  [z_i, scalar inputs]  (standardised);  one batched GP per field (its k_f modes)
           and one per scalar output
    predict on mesh j:  the shared GP of field f gives a^f ~ N(mu, v(x_j) C^f) (C^f: output covariance
           from leave-one-out residuals; independent GPs give C = diag(var)), u_j = s_j Q_j (mean^f + Phi^f a^f + e)
           with Q_j (N_j, N_c) the transfer from the common mesh back to mesh j's morphed nodes and e the
           POD truncation error (independent, per-node variance sigma_f^2 from a cross-validated POD), so
           E[u_j] = s_j Q_j (mean^f + Phi^f mu)  and
           Var[u_j] = s_j^2 [ v(x_j) diag(B C^f B^T) + Q_j sigma_f^2 ],  B = Q_j Phi^f,  s_j = s_f(x_j)
           (deterministic given the inputs; analytic, no sampling).

Morphing ``'disk'``: Floater mean-value map onto the unit disk (one boundary loop, 2-D or 3-D patch).
Morphing ``'rbf'``: RBF morph of each mesh onto the common mesh's geometry, driven by its boundary
loops (several loops, 3-D surfaces).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from geomsci.core.geometry import boundary_loops, vertex_areas
from geomsci.core.mesh import Mesh
from geomsci.mmgp.executor import map_samples
from geomsci.mmgp.gp import KERNELS, BatchedGP, SharedGP, gp_from_state
from geomsci.mmgp.metrics import q2
from geomsci.mmgp.morphing import disk_map, rbf_boundary_morph
from geomsci.mmgp.pod import WeightedPOD, cv_residual_variance
from geomsci.mmgp.transfer import apply, transfer_operator

Z95 = 1.959963984540054
FORMAT = "geomsci.mmgp/2"  # /2: log-parametrised GP hyperparameters, kernel choice, LOO output covariance


def _sparse_parts(T: torch.Tensor):
    T = T.coalesce().cpu()
    return T.indices(), T.values(), tuple(T.shape)


def _sparse(parts, device, dtype) -> torch.Tensor:
    idx, val, shape = parts
    return torch.sparse_coo_tensor(idx, val, shape, check_invariants=False).to(device=device, dtype=dtype).coalesce()


def _morph(points, faces, morphing, n_corners, reference):
    mesh = Mesh(points, faces, "triangle")
    if morphing == "disk":
        return disk_map(points, faces, n_corners=n_corners)
    return rbf_boundary_morph(mesh, reference).points


def _prepare_sample(task: dict) -> dict:
    """Per-sample work (module level, so dask can ship it): morph, then transfer both ways.

    task: points (N, D), faces (F, 3), fields {name: (N,)}, support (N_c, D'), support_faces,
    support_ref (common mesh in physical space, for 'rbf'), morphing, n_corners, back (bool).
    Returns coords (N_c, D) and fields {name: (N_c,)} on the common mesh, and, when ``back``,
    the sparse parts of Q (N, N_c).
    """
    pts, faces = task["points"], task["faces"]
    ref = None if task["support_ref"] is None else Mesh(task["support_ref"], task["support_faces"], "triangle")
    morphed = _morph(pts, faces, task["morphing"], task["n_corners"], ref)
    P, _ = transfer_operator(Mesh(morphed, faces, "triangle"), task["support"])  # (N_c, N)
    out = {"coords": apply(P, pts), "fields": {k: apply(P, v) for k, v in task["fields"].items()}}
    if task["back"]:
        Q, _ = transfer_operator(Mesh(task["support"], task["support_faces"], "triangle"), morphed)  # (N, N_c)
        out["back"] = _sparse_parts(Q)
    return out


class MMGPRegressor:
    """Mesh-morphing GP surrogate, scikit-learn style.

    Parameters
    ----------
    morphing : ``'disk'`` (Floater map onto the unit disk; one boundary loop) or ``'rbf'``
    n_corners : for ``'disk'``, boundary corners pinned at equally spaced angles (0: pure arc length)
    common_mesh : index of the training mesh used as common mesh, or ``None`` for the one with most
        nodes, or a ``Mesh`` (in physical space) to use instead
    n_shape_modes : POD modes of the coordinates used as GP inputs
    field_energy : POD energy threshold for each output field (ignored when ``field_modes`` given)
    field_modes : fixed number of POD modes per field, or ``None``
    gp : ``'shared'`` (one multi-output GP per field: modes share kernel and noise, one Cholesky;
        the original MMGP choice) or ``'independent'`` (a gpytorch batch of one GP per mode)
    n_restarts, n_iter, lr, n_polish : GP hyperparameter optimisation: restarts, Adam iterations and
        step size on the log hyperparameters, then L-BFGS iterations (see ``SharedGP`` / ``BatchedGP``)
    kernel : ``'matern52'`` (default, as in MMGP), ``'matern32'`` or ``'rbf'``, ARD in every case
    calibration : output covariance of a field's shared GP, ``'loo'`` (default: estimated from the
        leave-one-out residuals, so each POD mode gets its own variance and the modes' error
        correlations enter the nodal variance) or ``'none'`` (all modes share one standardised
        variance); see ``SharedGP``
    field_scaling : ``'power'`` (default) divides each field by a power law of the positive scalar
        inputs, s(x) = prod_d x_d^beta_d, with beta fitted by least squares to the log of each training
        field's mass-weighted L2 norm (for linear elasticity it finds u ~ p / E by itself); POD and GP
        then learn the remaining, shape-driven variation. ``'none'``: no scaling. Needs inputs positive
        in every training sample (others are left out of the law; with none, s = 1)
    amplitude_shape_modes : k_a >= 0; the amplitude law also takes the first k_a standardised shape
        modes z as regressors, log s_f = beta . (log x - mean) + gamma . z_{1..k_a} (default 0: inputs
        only). The shape modes are known at prediction time, so s stays deterministic and the
        variance analytic. Chosen by cross-validation on the training set in the benchmark
    log_transform : regress on log x for scalar inputs positive in all training samples, and on
        log y for scalar outputs positive in all training samples (multiplicative laws such as
        u ~ p / E become additive); a log-output's prediction is the log-normal mean
        exp(m + v/2) with std mean * sqrt(exp(v) - 1)
    pod_residual : add the variance of the POD truncation error to the nodal predictive variance
        (default True): a per-node field sigma_f^2 on the common mesh, estimated by 5-fold
        cross-validation of the POD on the training snapshots (``cv_residual_variance``), carried to
        mesh j by Q_j and scaled by s_f(x_j)^2. It is independent of the GP's coefficient error.
    scheduler : ``None`` (serial) or a dask scheduler address / ``distributed.Client`` for the
        per-sample morphing and transfer
    progress : show tqdm bars; seed : GP restarts
    """

    def __init__(self, *, morphing: str = "disk", n_corners: int = 0, common_mesh=None, n_shape_modes: int = 8,
                 field_energy: float = 0.99999, field_modes: int | None = None, n_restarts: int = 2, n_iter: int = 300,
                 lr: float = 0.1, n_polish: int = 100, kernel: str = "matern52", calibration: str = "loo", gp: str = "shared",
                 field_scaling: str = "power", amplitude_shape_modes: int = 0, log_transform: bool = True,
                 pod_residual: bool = True, scheduler=None, progress: bool = False, seed: int = 0):
        self.morphing, self.n_corners, self.common_mesh = morphing, n_corners, common_mesh
        self.n_shape_modes, self.field_energy, self.field_modes = n_shape_modes, field_energy, field_modes
        self.n_restarts, self.n_iter, self.lr, self.gp = n_restarts, n_iter, lr, gp
        self.n_polish, self.kernel, self.calibration = n_polish, kernel, calibration
        self.field_scaling, self.log_transform, self.pod_residual = field_scaling, log_transform, pod_residual
        self.amplitude_shape_modes = amplitude_shape_modes
        self.scheduler, self.progress, self.seed = scheduler, progress, seed

    # -- validation ---------------------------------------------------------------------------
    def _check_meshes(self, meshes, ids):
        if isinstance(meshes, Mesh) or not isinstance(meshes, Sequence) or len(meshes) == 0:
            raise ValueError("MMGPRegressor: meshes must be a non-empty list of Mesh objects")
        ids = list(ids) if ids is not None else [str(i) for i in range(len(meshes))]
        if len(ids) != len(meshes):
            raise ValueError(f"MMGPRegressor: got {len(ids)} ids for {len(meshes)} meshes")
        want_loops = getattr(self, "n_loops_", None)
        for i, (m, sid) in enumerate(zip(meshes, ids)):
            where = f"sample {sid!r} (index {i})"
            if not isinstance(m, Mesh) or m.cell_type != "triangle":
                kind = m.cell_type if isinstance(m, Mesh) else type(m).__name__
                raise ValueError(f"MMGPRegressor: {where} must be a triangle Mesh, got {kind}")
            n_loops = len(boundary_loops(m.cells))
            if self.morphing == "disk" and n_loops != 1:
                raise ValueError(f"MMGPRegressor: {where} has {n_loops} boundary loops; morphing='disk' needs exactly one")
            if want_loops is not None and n_loops != want_loops:
                raise ValueError(f"MMGPRegressor: {where} has {n_loops} boundary loops, the training meshes have {want_loops}")
            if hasattr(self, "dim_") and m.dim != self.dim_:
                raise ValueError(f"MMGPRegressor: {where} has {m.dim}-D points, the training meshes are {self.dim_}-D")
        return ids

    def _check_inputs(self, inputs, n, ids) -> torch.Tensor:
        if isinstance(inputs, Mapping):
            names = list(inputs)
            if hasattr(self, "input_names_") and self.input_names_ is not None and sorted(names) != sorted(self.input_names_):
                raise ValueError(f"MMGPRegressor: inputs have columns {names}, the model was fit on {self.input_names_}")
            names = self.input_names_ if getattr(self, "input_names_", None) else names
            cols = [_numbers(inputs[k], f"input {k!r}").reshape(-1) for k in names]
            for k, c in zip(names, cols):
                if c.shape[0] != n:
                    raise ValueError(f"MMGPRegressor: input {k!r} has {c.shape[0]} values, expected one per mesh ({n})")
            arr = np.stack(cols, 1) if names else np.zeros((n, 0))
        else:
            arr = _numbers(inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else inputs, "inputs")
            if arr.ndim == 1:
                arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != n:
            raise ValueError(f"MMGPRegressor: inputs must have one row per mesh ({n}), got shape {arr.shape}")
        if hasattr(self, "x_mean_") and arr.shape[1] != self.n_inputs_:
            raise ValueError(f"MMGPRegressor: inputs have {arr.shape[1]} columns, the model was fit on {self.n_inputs_}")
        bad = ~np.isfinite(arr).all(1)
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            raise ValueError(f"MMGPRegressor: inputs of sample {ids[i]!r} (index {i}) are not finite: {arr[i].tolist()}")
        return torch.as_tensor(arr)

    def _split_outputs(self, outputs, meshes, ids):
        if not isinstance(outputs, Mapping) or len(outputs) == 0:
            raise ValueError("MMGPRegressor: outputs must be a non-empty mapping name -> values")
        fields, scalars = {}, {}
        n = len(meshes)
        for name, val in outputs.items():
            if isinstance(val, (list, tuple)) and len(val) > 0 and all(np.ndim(v) >= 1 for v in val):
                if len(val) != n:
                    raise ValueError(f"MMGPRegressor: field {name!r} has {len(val)} nodal fields for {n} meshes; "
                                     "give one per mesh, in the order of the meshes")
                for i, (v, m) in enumerate(zip(val, meshes)):
                    v = v if isinstance(v, torch.Tensor) else torch.as_tensor(_numbers(v, f"field {name!r} of sample {ids[i]!r}"))
                    if v.dim() > 1 and not (v.dim() == 2 and v.shape[1] == 1):
                        raise ValueError(
                            f"MMGPRegressor: field {name!r} of sample {ids[i]!r} (index {i}) has shape {tuple(v.shape)}; "
                            "MMGP learns scalar nodal fields (N,), pass each component as its own output"
                        )
                    if len(v) != m.n_points:
                        raise ValueError(
                            f"MMGPRegressor: field {name!r} of sample {ids[i]!r} (index {i}) has {len(v)} values, its mesh has {m.n_points} nodes"
                        )
                    if not torch.isfinite(torch.as_tensor(v)).all():
                        raise ValueError(f"MMGPRegressor: field {name!r} of sample {ids[i]!r} (index {i}) has NaN or inf values")
                fields[name] = [torch.as_tensor(v).to(meshes[0].points).reshape(-1) for v in val]
            else:
                arr = _numbers(val.detach().cpu() if isinstance(val, torch.Tensor) else val, f"output {name!r}").reshape(-1)
                if arr.shape[0] != n:
                    raise ValueError(f"MMGPRegressor: output {name!r} must be {n} scalars or {n} nodal fields, got shape {np.shape(val)}")
                if not np.isfinite(arr).all():
                    i = int(np.nonzero(~np.isfinite(arr))[0][0])
                    raise ValueError(f"MMGPRegressor: output {name!r} of sample {ids[i]!r} (index {i}) is not finite")
                scalars[name] = torch.as_tensor(arr)
        return fields, scalars

    # -- common pipeline ------------------------------------------------------------------------
    def _prepare(self, meshes, fields, back: bool, desc: str):
        dev, dt = self.device_, self.dtype_
        tasks = []
        for i, m in enumerate(meshes):
            tasks.append({"points": m.points.detach().cpu().to(dt), "faces": m.cells.cpu(),
                          "fields": {k: v[i].detach().cpu().to(dt) for k, v in fields.items()},
                          "support": self.support_.cpu(), "support_faces": self.common_faces_.cpu(),
                          "support_ref": None if self.morphing == "disk" else self.common_points_.cpu(),
                          "morphing": self.morphing, "n_corners": self.n_corners, "back": back})
        return map_samples(_prepare_sample, tasks, scheduler=self.scheduler, desc=desc, progress=self.progress)

    def _log_inputs(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.log_inputs_.any()):
            return x
        if bool((x[:, self.log_inputs_] <= 0).any()):
            raise ValueError("MMGPRegressor: an input that was positive in every training sample is <= 0 here; "
                             "refit with log_transform=False")
        return torch.where(self.log_inputs_.to(x.device), x.clamp_min(1e-300).log(), x)

    def _scale_features(self, x: torch.Tensor) -> torch.Tensor:
        """Centred log of the inputs positive in every training sample, (n, p_+), for the amplitude law."""
        pos = (x > 0).all(0) if not hasattr(self, "scale_inputs_") else self.scale_inputs_.to(x.device)
        if bool((x[:, pos] <= 0).any()):
            raise ValueError("MMGPRegressor: an input that was positive in every training sample is <= 0 here; "
                             "refit with field_scaling='none'")
        return x[:, pos].clamp_min(1e-300).log()

    def field_scales(self, inputs, meshes: Sequence[Mesh] | None = None) -> dict[str, torch.Tensor]:
        """Amplitude s_f(x_j) of every field for n samples' inputs, {name: (n,)} (ones when not scaled).
        ``meshes`` (the samples' meshes) are needed when the law uses shape modes (``amplitude_shape_modes``)."""
        self._check_fitted()
        n = len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)
        x = self._check_inputs(inputs, n, [str(i) for i in range(n)])
        xs = None
        if getattr(self, "amplitude_shape_modes", 0):
            if meshes is None:
                raise ValueError("MMGPRegressor.field_scales: the amplitude law uses shape modes; pass the meshes too")
            xs = self.predict_coefficients(meshes, inputs)[0]
        return self._field_scales(x.to(self.device_, self.dtype_), xs)

    def _amp_features(self, x: torch.Tensor, xs: torch.Tensor | None) -> torch.Tensor:
        """Regressors of the amplitude law: centred log positive inputs (n, p_+), then the first
        ``amplitude_shape_modes`` standardised shape modes (n, k_a) from the GP inputs ``xs``."""
        f = self._scale_features(x) - self.scale_center_
        k = self.amplitude_shape_modes
        return torch.cat([f, xs[:, :k].to(f)], 1) if k else f

    def _field_scales(self, x: torch.Tensor, xs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        out = {}
        for name in self.field_names_:
            beta = self.field_beta_.get(name)
            out[name] = x.new_ones(x.shape[0]) if beta is None else (self._amp_features(x, xs) @ beta).exp()
        return out

    def _gp_inputs(self, coords: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        z = self.shape_pod_.transform(coords)  # (n, k_s)
        return (torch.cat([z, self._log_inputs(x.to(z))], 1) - self.x_mean_) / self.x_std_

    # -- estimator API ----------------------------------------------------------------------------
    def fit(self, meshes: Sequence[Mesh], inputs, outputs: Mapping, ids: Sequence[str] | None = None) -> "MMGPRegressor":
        """Learn the surrogate.

        Parameters
        ----------
        meshes : n triangle meshes (2-D, or 3-D surface patches), any node counts
        inputs : (n, p) array of scalar inputs, or a mapping name -> (n,) values
        outputs : mapping name -> either n nodal fields (each (N_i,)) or (n,) scalars
        ids : optional sample names used in error messages
        """
        if self.morphing not in ("disk", "rbf"):
            raise ValueError(f"MMGPRegressor: morphing must be 'disk' or 'rbf', got {self.morphing!r}")
        if self.field_scaling not in ("power", "none"):
            raise ValueError(f"MMGPRegressor: field_scaling must be 'power' or 'none', got {self.field_scaling!r}")
        if self.gp not in ("shared", "independent"):
            raise ValueError(f"MMGPRegressor: gp must be 'shared' or 'independent', got {self.gp!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"MMGPRegressor: kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.calibration not in ("loo", "none"):
            raise ValueError(f"MMGPRegressor: calibration must be 'loo' or 'none', got {self.calibration!r}")
        for name, value, lo in (("n_shape_modes", self.n_shape_modes, 1), ("field_modes", self.field_modes, 1),
                                ("n_corners", self.n_corners, 0), ("amplitude_shape_modes", self.amplitude_shape_modes, 0)):
            if value is None and name == "field_modes":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise ValueError(f"MMGPRegressor: {name} must be an integer >= {lo}, got {value!r}")
        if not 0.0 < self.field_energy <= 1.0:
            raise ValueError(f"MMGPRegressor: field_energy must lie in (0, 1], got {self.field_energy!r}")
        if not (self.common_mesh is None or isinstance(self.common_mesh, Mesh) or (
                isinstance(self.common_mesh, (int, np.integer)) and not isinstance(self.common_mesh, bool))):
            raise ValueError(f"MMGPRegressor: common_mesh must be None, a training-mesh index or a Mesh, "
                             f"got {type(self.common_mesh).__name__}")
        gkw = dict(n_restarts=self.n_restarts, n_iter=self.n_iter, lr=self.lr, seed=self.seed, kernel=self.kernel,
                   n_polish=self.n_polish)
        GP = (lambda: SharedGP(**gkw, calibration=self.calibration)) if self.gp == "shared" else (lambda: BatchedGP(**gkw))
        GP(), BatchedGP(**gkw)  # check the optimiser settings before the per-sample work
        for attr in ("n_loops_", "dim_", "x_mean_", "input_names_", "scale_inputs_"):
            self.__dict__.pop(attr, None)
        ids = self._check_meshes(meshes, ids)
        if len(meshes) < 2:
            raise ValueError(f"MMGPRegressor.fit: needs at least 2 training samples, got {len(meshes)}")
        cm = self.common_mesh
        if not (cm is None or isinstance(cm, Mesh) or -len(meshes) <= cm < len(meshes)):
            raise ValueError(f"MMGPRegressor: common_mesh={cm} is not an index of the {len(meshes)} training meshes")
        self.input_names_ = list(inputs) if isinstance(inputs, Mapping) else None
        x = self._check_inputs(inputs, len(meshes), ids)
        fields, scalars = self._split_outputs(outputs, meshes, ids)
        self.device_, self.dtype_ = meshes[0].device, torch.float64
        self.dim_ = meshes[0].dim
        self.n_loops_ = len(boundary_loops(meshes[0].cells))
        self.n_inputs_ = x.shape[1]
        self.field_names_, self.scalar_names_ = list(fields), list(scalars)
        # Common mesh: a training mesh (most nodes by default) or a given one; its morphed image is the support.
        cm = self.common_mesh
        if isinstance(cm, Mesh):
            common = cm
        else:
            idx = int(np.argmax([m.n_points for m in meshes])) if cm is None else int(cm)
            common = meshes[idx]
        self.common_points_ = common.points.detach().to(self.dtype_)
        self.common_faces_ = common.cells
        if self.morphing == "disk":
            self.support_ = disk_map(self.common_points_, self.common_faces_, n_corners=self.n_corners)
        else:
            self.support_ = self.common_points_
        self.support_ = self.support_.to(self.device_)
        w = vertex_areas(self.support_, self.common_faces_.to(self.device_))  # (N_c,) lumped mass
        prep = self._prepare(meshes, fields, back=False, desc="mmgp: morph+transfer (fit)")
        coords = torch.stack([p["coords"].reshape(-1) for p in prep]).to(self.device_)  # (n, N_c D)
        self.shape_pod_ = WeightedPOD(n_modes=self.n_shape_modes).fit(coords, w.repeat_interleave(self.dim_))
        x = x.to(coords)
        self.log_inputs_ = (x > 0).all(0) if self.log_transform else torch.zeros(x.shape[1], dtype=torch.bool)
        xin = torch.cat([self.shape_pod_.transform(coords), self._log_inputs(x)], 1)  # (n, k_s + p)
        self.x_mean_ = xin.mean(0)
        self.x_std_ = xin.std(0).clamp_min(1e-12)
        xs = (xin - self.x_mean_) / self.x_std_
        self.scale_inputs_ = (x > 0).all(0) if self.field_scaling == "power" else torch.zeros(x.shape[1], dtype=torch.bool)
        if self.amplitude_shape_modes and self.field_scaling != "power":
            raise ValueError("MMGPRegressor: amplitude_shape_modes needs field_scaling='power'")
        if not 0 <= self.amplitude_shape_modes <= self.shape_pod_.n_components_:
            raise ValueError(f"MMGPRegressor: amplitude_shape_modes must lie in [0, {self.shape_pod_.n_components_}] "
                             f"(the shape modes), got {self.amplitude_shape_modes}")
        self.scale_center_ = self._scale_features(x).mean(0)
        feats = self._amp_features(x, xs)  # (n, p_+ + k_a), centred
        self.field_pods_, self.field_gps_, self.field_beta_, self.field_resvar_ = {}, {}, {}, {}
        for name in tqdm(self.field_names_, desc="mmgp: POD + GP per field", disable=not self.progress, leave=False):
            snaps = torch.stack([p["fields"][name] for p in prep]).to(self.device_)  # (n, N_c)
            if feats.shape[1] > 0:  # power-law amplitude: least squares on log ||u_i||_W = c + beta . f_i
                norm = (snaps**2 @ w).sqrt()
                logn = norm.clamp_min(1e-12 * float(norm.max()) + 1e-300).log()
                F = feats
                A = torch.cat([torch.ones_like(logn)[:, None], F], 1)
                beta = torch.linalg.lstsq(A, logn[:, None]).solution[1:, 0]  # (p_+ + k_a,)
                self.field_beta_[name] = beta
                snaps = snaps / (F @ beta).exp()[:, None]
            pod = WeightedPOD(n_modes=self.field_modes, energy=self.field_energy).fit(snaps, w)
            self.field_pods_[name] = pod
            self.field_resvar_[name] = (cv_residual_variance(snaps, w, pod.n_components_) if self.pod_residual
                                        else torch.zeros_like(w))  # (N_c,)
            self.field_gps_[name] = GP().fit(xs, pod.transform(snaps))
        self.scalar_gp_ = None
        if self.scalar_names_:
            y = torch.stack([scalars[k] for k in self.scalar_names_], 1).to(xs)
            self.log_outputs_ = (y > 0).all(0) if self.log_transform else torch.zeros(y.shape[1], dtype=torch.bool)
            y = torch.where(self.log_outputs_, y.clamp_min(1e-300).log(), y)
            self.scalar_gp_ = BatchedGP(**gkw).fit(xs, y)
        return self

    def _check_fitted(self):
        if not hasattr(self, "shape_pod_"):
            raise RuntimeError("MMGPRegressor: call fit (or load) before predict")

    def predict_coefficients(self, meshes, inputs, ids=None):
        """GP inputs and per-sample back-transfer operators: ``(x (n, d) standardised, [Q_j sparse (N_j, N_c)])``."""
        self._check_fitted()
        ids = self._check_meshes(meshes, ids)
        x = self._check_inputs(inputs, len(meshes), ids)
        prep = self._prepare(meshes, {}, back=True, desc="mmgp: morph+transfer (predict)")
        coords = torch.stack([p["coords"].reshape(-1) for p in prep]).to(self.device_)
        Qs = [_sparse(p["back"], self.device_, self.dtype_) for p in prep]
        return self._gp_inputs(coords, x), Qs

    def reconstruct(self, name: str, Q: torch.Tensor, coeffs: torch.Tensor, scale=1.0) -> torch.Tensor:
        """Field ``name`` on a sample's nodes from POD coefficients: s Q (mean + Phi a); coeffs (k,) or (S, k) -> (N,) or (S, N);
        ``scale``: the sample's amplitude s (``field_scales``; 1 without field scaling)."""
        pod = self.field_pods_[name]
        common = pod.inverse_transform(coeffs.reshape(-1, pod.n_components_))  # (S, N_c)
        out = torch.sparse.mm(Q, common.T).T * scale  # (S, N)
        return out[0] if coeffs.dim() == 1 else out

    def predict(self, meshes: Sequence[Mesh], inputs, return_std: bool = False, ids: Sequence[str] | None = None):
        """Predict every fitted output.

        Returns ``mean`` (or ``(mean, std)`` with ``return_std``): dicts mapping each field name to a
        list of (N_j,) tensors on the given meshes and each scalar name to an (n,) tensor. The 95%
        interval is mean +- 1.96 std (``Z95``); std includes the GP noise variance and, for a shared
        GP, the correlation of the POD modes' errors (``calibration``).
        """
        xs, Qs = self.predict_coefficients(meshes, inputs, ids)
        scales = self._field_scales(self._check_inputs(inputs, len(meshes), ids or [str(i) for i in range(len(meshes))]).to(xs), xs)
        mean, std = {}, {}
        for name in self.field_names_:
            gp = self.field_gps_[name]
            if isinstance(gp, SharedGP):  # Cov[a | x_j] = v_j C  ->  Var u_j = v_j diag(B C B^T)
                mu, v = gp.predict_shared(xs)  # (n, k), (n,)
                C = gp.output_cov_
            else:  # independent GPs: Cov[a | x_j] = diag(var_j)
                mu, var = gp.predict(xs)  # (n, k) each
            modes = self.field_pods_[name].modes_
            mean[name], std[name] = [], []
            for j, Q in enumerate(Qs):
                s = scales[name][j]
                mean[name].append(self.reconstruct(name, Q, mu[j], s))
                B = torch.sparse.mm(Q, modes)  # (N_j, k)
                nodal = ((B @ C) * B).sum(1) * v[j] if isinstance(gp, SharedGP) else (B * B) @ var[j]
                nodal = nodal + apply(Q, self.field_resvar_[name])  # POD truncation error, independent of the GP's
                std[name].append(nodal.clamp_min(0).sqrt() * s)
        if self.scalar_gp_ is not None:
            mu, var = self.scalar_gp_.predict(xs)  # (n, s)
            for c, name in enumerate(self.scalar_names_):
                if bool(self.log_outputs_[c]):  # log-normal moments
                    m = torch.exp(mu[:, c] + var[:, c] / 2)
                    mean[name], std[name] = m, m * torch.expm1(var[:, c]).sqrt()
                else:
                    mean[name], std[name] = mu[:, c], var[:, c].sqrt()
        return (mean, std) if return_std else mean

    def score(self, meshes, inputs, outputs: Mapping, ids=None) -> float:
        """Mean Q2 (coefficient of determination) over the given outputs."""
        unknown = [k for k in outputs if k not in self.field_names_ and k not in self.scalar_names_]
        if unknown:
            raise ValueError(f"MMGPRegressor.score: output {unknown[0]!r} was not fit; the model predicts "
                             f"{self.field_names_ + self.scalar_names_}")
        pred = self.predict(meshes, inputs, ids=ids)
        return float(np.mean([q2(outputs[k] if k in self.scalar_names_ else list(outputs[k]), pred[k]) for k in outputs]))

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted model to ``path`` (a ``torch.save`` file of tensors and plain values)."""
        self._check_fitted()
        state = {
            "format": FORMAT,
            "params": {k: getattr(self, k) for k in ("morphing", "n_corners", "n_shape_modes", "field_energy", "field_modes",
                                                       "n_restarts", "n_iter", "lr", "n_polish", "kernel", "calibration", "gp",
                                                       "field_scaling", "amplitude_shape_modes", "log_transform", "pod_residual",
                                                       "seed")},
            "common_points": self.common_points_.cpu(), "common_faces": self.common_faces_.cpu(), "support": self.support_.cpu(),
            "dim": self.dim_, "n_loops": self.n_loops_, "n_inputs": self.n_inputs_, "input_names": self.input_names_,
            "field_names": self.field_names_, "scalar_names": self.scalar_names_,
            "x_mean": self.x_mean_.cpu(), "x_std": self.x_std_.cpu(), "log_inputs": self.log_inputs_.cpu(),
            "log_outputs": getattr(self, "log_outputs_", torch.zeros(0, dtype=torch.bool)).cpu(),
            "scale_inputs": self.scale_inputs_.cpu(), "scale_center": self.scale_center_.cpu(),
            "field_beta": {k: v.cpu() for k, v in self.field_beta_.items()},
            "field_resvar": {k: v.cpu() for k, v in self.field_resvar_.items()},
            "shape_pod": _cpu(self.shape_pod_.state()),
            "field_pods": {k: _cpu(v.state()) for k, v in self.field_pods_.items()},
            "field_gps": {k: _cpu(v.state()) for k, v in self.field_gps_.items()},
            "scalar_gp": None if self.scalar_gp_ is None else _cpu(self.scalar_gp_.state()),
        }
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"MMGPRegressor.save: {path} is a directory; give a file name such as {path / 'model.pt'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        return path

    @classmethod
    def load(cls, path, device=None) -> "MMGPRegressor":
        """Read a model written by ``save`` (onto ``device``, default CPU)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"MMGPRegressor.load: no model file at {path}")
        try:
            s = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"MMGPRegressor.load: {path} is not a saved MMGP model ({type(e).__name__})") from None
        if isinstance(s, dict) and s.get("format") == "geomsci.mmgp/1":
            raise ValueError(f"MMGPRegressor.load: {path} was saved by an older geomsci (format geomsci.mmgp/1, "
                             "softplus-parametrised GPs); refit the model")
        if not isinstance(s, dict) or s.get("format") != FORMAT:
            raise ValueError(f"MMGPRegressor.load: {path} is not a saved MMGP model")
        dev = torch.device(device or "cpu")
        mv = lambda st: _to(st, dev)  # noqa: E731
        model = cls(**s["params"])
        model.device_, model.dtype_ = dev, torch.float64
        model.common_points_, model.common_faces_ = s["common_points"].to(dev), s["common_faces"].to(dev)
        model.support_ = s["support"].to(dev)
        model.dim_, model.n_loops_, model.n_inputs_ = s["dim"], s["n_loops"], s["n_inputs"]
        model.input_names_, model.field_names_, model.scalar_names_ = s["input_names"], s["field_names"], s["scalar_names"]
        model.x_mean_, model.x_std_ = s["x_mean"].to(dev), s["x_std"].to(dev)
        model.log_inputs_, model.log_outputs_ = s["log_inputs"].to(dev), s["log_outputs"].to(dev)
        model.scale_inputs_ = s.get("scale_inputs", torch.zeros(model.n_inputs_, dtype=torch.bool)).to(dev)
        model.scale_center_ = s.get("scale_center", torch.zeros(0, dtype=torch.float64)).to(dev)
        model.field_beta_ = {k: v.to(dev) for k, v in s.get("field_beta", {}).items()}
        model.field_resvar_ = {k: v.to(dev) for k, v in s["field_resvar"].items()}
        model.shape_pod_ = WeightedPOD.from_state(mv(s["shape_pod"]))
        model.field_pods_ = {k: WeightedPOD.from_state(mv(v)) for k, v in s["field_pods"].items()}
        model.field_gps_ = {k: gp_from_state(mv(v)) for k, v in s["field_gps"].items()}
        model.scalar_gp_ = None if s["scalar_gp"] is None else gp_from_state(mv(s["scalar_gp"]))
        return model


def _numbers(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; a ValueError naming ``what`` for text or ragged lists."""
    if isinstance(value, torch.Tensor):  # any device
        value = value.detach().cpu()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"MMGPRegressor: {what} must be numbers ({_short(e)})") from None


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) < 120 else text[:117] + "..."


def _cpu(state):
    return _to(state, torch.device("cpu"))


def _to(state, device):
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: _to(v, device) for k, v in state.items()}
    if isinstance(state, list):
        return [_to(v, device) for v in state]
    return state
