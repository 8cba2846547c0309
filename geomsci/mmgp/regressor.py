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
loops (several loops, 3-D surfaces). ``'auto'`` (default) picks 'disk' for one loop, else 'rbf'.
Vector fields (N, C) are kept whole: one POD of the node-major (N_c C) vector, as for the coordinates.
Input checks live in ``checks.py``; interval calibration and OOD scores in ``calibration.py``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from geomsci.core.geometry import vertex_areas
from geomsci.core.mesh import Mesh
from geomsci.mmgp import calibration as cal
from geomsci.mmgp.checks import check_inputs, check_meshes, split_outputs
from geomsci.mmgp.executor import map_samples
from geomsci.mmgp.gp import KERNELS, BatchedGP, SharedGP, gp_from_state
from geomsci.mmgp.metrics import q2
from geomsci.mmgp.morphing import count_corners, disk_map, flipped_triangles, folds, least_folding_reference, rbf_boundary_morph
from geomsci.mmgp.pod import WeightedPOD, cv_residual_variance
from geomsci.mmgp.transfer import apply, transfer_operator

Z95 = 1.959963984540054
MAX_CALIBRATION = 200  # training samples whose own nodes calibrate the field intervals
MAX_REFIT_CV = 500  # up to this many samples, the scalars' interval factor refits the GP on each CV fold
FORMAT = "geomsci.mmgp/3"  # /3: generic state, resolved morphing/corners, vector fields, interval scales, OOD reference


def _sparse_parts(T: torch.Tensor):
    T = T.coalesce().cpu()
    return T.indices(), T.values(), tuple(T.shape)


def _sparse(parts, device, dtype) -> torch.Tensor:
    idx, val, shape = parts
    return torch.sparse_coo_tensor(idx, val, shape, check_invariants=False).to(device=device, dtype=dtype).coalesce()


def _prepare_sample(task: dict) -> dict:
    """Per-sample work (module level, so dask can ship it): morph, then transfer both ways.

    task: points (N, D), faces (F, 3), fields {name: (N, C)}, support (N_c, D'), support_faces,
    support_ref (common mesh in physical space, for 'rbf'), morphing, n_corners, back (bool).
    Returns coords (N_c, D) and fields {name: (N_c, C)} on the common mesh, and, when ``back``,
    the sparse parts of Q (N, N_c).
    """
    pts, faces = task["points"], task["faces"]
    if task["morphing"] == "disk":
        morphed = disk_map(pts, faces, n_corners=task["n_corners"])
    else:
        ref = Mesh(task["support_ref"], task["support_faces"], "triangle")
        morphed = rbf_boundary_morph(Mesh(pts, faces, "triangle"), ref, corner_angle=task["corner_angle"]).points
    P, _ = transfer_operator(Mesh(morphed, faces, "triangle"), task["support"])  # (N_c, N)
    out = {"coords": apply(P, pts), "fields": {k: apply(P, v) for k, v in task["fields"].items()}}
    # the Floater disk map is a bijection (convex boundary); the RBF morph may turn triangles over
    out["folded"] = 0 if task["morphing"] == "disk" else int(flipped_triangles(morphed, faces, reference=pts).numel())
    if task["back"]:
        Q, _ = transfer_operator(Mesh(task["support"], task["support_faces"], "triangle"), morphed)  # (N, N_c)
        out["back"] = _sparse_parts(Q)
    return out


class MMGPRegressor:
    """Mesh-morphing GP surrogate, scikit-learn style (``get_params``/``set_params``, ``clone`` and
    ``GridSearchCV`` work; see ``geomsci.mmgp.selection`` for sample lists and scorers).

    Parameters
    ----------
    morphing : ``'auto'`` (default: ``'disk'`` when every training mesh has one boundary loop, else
        ``'rbf'``; the choice is stored in ``morphing_``), ``'disk'`` (Floater map onto the unit disk;
        one boundary loop) or ``'rbf'`` (RBF morph onto the common mesh driven by its boundary loops)
    n_corners : for ``'disk'``, boundary corners pinned at equally spaced angles. ``'auto'`` (default)
        pins the corners the boundaries have: nodes whose turning angle exceeds ``corner_angle``, when
        every training mesh has the same number (else none, with a warning). An integer asks for that
        many; if a training boundary has fewer corners, a warning says so and the number is clipped
        to what every boundary has (pinning arbitrary nodes of a smooth boundary spoils the model).
        Resolved value: ``n_corners_``
    corner_angle : turning angle (degrees) above which a boundary node counts as a corner (30); for
        ``'rbf'``, paired boundary loops with as many corners map corner to corner
    common_mesh : index of the training mesh used as common mesh, or a ``Mesh`` (in physical space) to
        use instead, or ``None``: for ``'disk'`` the training mesh with most nodes; for ``'rbf'``, whose
        morph may turn triangles over, the mesh of the finer half onto which the fewest training samples
        fold (`geomsci.mmgp.morphing.least_folding_reference`). Resolved index: ``common_mesh_index_``;
        training samples that fold: ``n_folded_`` (a warning names them, in ``fit`` and ``predict``)
    n_shape_modes : POD modes of the coordinates used as GP inputs (clipped, with a warning, to the
        n - 1 that n training samples support)
    field_energy : POD energy threshold for each output field (ignored when ``field_modes`` given)
    field_modes : fixed number of POD modes per field, or ``None`` (clipped like ``n_shape_modes``)
    gp : ``'shared'`` (one multi-output GP per field: modes share kernel and noise, one Cholesky;
        the original MMGP choice) or ``'independent'`` (a gpytorch batch of one GP per mode)
    n_restarts, n_iter, lr, n_polish : GP hyperparameter optimisation: restarts, Adam iterations and
        step size on the log hyperparameters, then L-BFGS iterations (see ``SharedGP`` / ``BatchedGP``)
    kernel : ``'matern52'`` (default, as in MMGP), ``'matern32'`` or ``'rbf'``, ARD in every case
    calibration : output covariance of a field's shared GP, ``'loo'`` (default: estimated from the
        leave-one-out residuals) or ``'none'`` (all modes share one standardised variance)
    interval_calibration : ``'cv'`` (default) multiplies each output's std by a factor measured by
        cross-validation on the training set so that mean +- 1.96 std covers 95% of held-out values
        (``geomsci.mmgp.calibration``; factors in ``std_scale_``); ``'none'``: the analytic std as is
    field_scaling : ``'power'`` (default) divides each field by a power law of the positive scalar
        inputs, fitted by least squares to the log of each training field's mass-weighted L2 norm;
        ``'none'``: no scaling
    amplitude_shape_modes : k_a >= 0; the amplitude law also takes the first k_a standardised shape
        modes as regressors (default 0: inputs only)
    log_transform : regress on log x for scalar inputs, and log y for scalar outputs, positive in all
        training samples; a log-output's prediction is the log-normal mean exp(m + v/2)
    pod_residual : add the (5-fold cross-validated) variance of the POD truncation error to the
        nodal predictive variance (default True)
    ood_threshold : ``predict`` warns about samples whose out-of-distribution score
        (``ood_scores``) exceeds it (default 2: twice the 95% quantile of the training set's own
        leave-one-out distances and shape residuals; held-out samples of the training families
        scored at most 1.8 on one draw and up to 3.1 over eight, plates' wedges 2.6 and ellipses 7-25)
    scheduler : ``None`` (serial) or a dask scheduler address / ``distributed.Client`` for the
        per-sample morphing and transfer
    progress : show tqdm bars for the per-sample work and the GP fits; seed : GP restarts
    """

    def __init__(
        self,
        *,
        morphing: str = "auto",
        n_corners="auto",
        corner_angle: float = 30.0,
        common_mesh=None,
        n_shape_modes: int = 8,
        field_energy: float = 0.99999,
        field_modes: int | None = None,
        n_restarts: int = 2,
        n_iter: int = 300,
        lr: float = 0.1,
        n_polish: int = 100,
        kernel: str = "matern52",
        calibration: str = "loo",
        interval_calibration: str = "cv",
        gp: str = "shared",
        field_scaling: str = "power",
        amplitude_shape_modes: int = 0,
        log_transform: bool = True,
        pod_residual: bool = True,
        ood_threshold: float = 2.0,
        scheduler=None,
        progress: bool = False,
        seed: int = 0,
    ):
        self.morphing, self.n_corners, self.corner_angle, self.common_mesh = morphing, n_corners, corner_angle, common_mesh
        self.n_shape_modes, self.field_energy, self.field_modes = n_shape_modes, field_energy, field_modes
        self.n_restarts, self.n_iter, self.lr, self.gp = n_restarts, n_iter, lr, gp
        self.n_polish, self.kernel, self.calibration = n_polish, kernel, calibration
        self.interval_calibration = interval_calibration
        self.field_scaling, self.log_transform, self.pod_residual = field_scaling, log_transform, pod_residual
        self.amplitude_shape_modes, self.ood_threshold = amplitude_shape_modes, ood_threshold
        self.scheduler, self.progress, self.seed = scheduler, progress, seed

    # -- scikit-learn estimator protocol ----------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments (scikit-learn's contract: ``clone`` rebuilds the estimator from them)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> MMGPRegressor:
        """Set constructor arguments; an unknown name is a ValueError listing the valid ones."""
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"MMGPRegressor.set_params: unknown parameter {k!r}; valid parameters are {valid}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        default = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values() if p.kind == p.KEYWORD_ONLY
        }
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not (v is default[k] or (isinstance(v, (int, float, str)) and v == default[k]))
        ]
        return f"MMGPRegressor({', '.join(changed)})"

    def __sklearn_tags__(self):  # scikit-learn >= 1.6 asks estimators for their tags
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=False))

    # -- validation -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name, value, allowed in (
            ("morphing", self.morphing, ("auto", "disk", "rbf")),
            ("kernel", self.kernel, KERNELS),
            ("field_scaling", self.field_scaling, ("power", "none")),
            ("gp", self.gp, ("shared", "independent")),
            ("calibration", self.calibration, ("loo", "none")),
            ("interval_calibration", self.interval_calibration, ("cv", "none")),
        ):
            if value not in allowed:
                raise ValueError(f"MMGPRegressor: {name} must be one of {list(allowed)}, got {value!r}")
        for name, value, lo in (
            ("n_shape_modes", self.n_shape_modes, 1),
            ("field_modes", self.field_modes, 1),
            ("n_corners", self.n_corners, 0),
            ("amplitude_shape_modes", self.amplitude_shape_modes, 0),
        ):
            if (value is None and name == "field_modes") or (value == "auto" and name == "n_corners"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                extra = " or 'auto'" if name == "n_corners" else ""
                raise ValueError(f"MMGPRegressor: {name} must be an integer >= {lo}{extra}, got {value!r}")
        if not 0.0 < self.field_energy <= 1.0:
            raise ValueError(f"MMGPRegressor: field_energy must lie in (0, 1], got {self.field_energy!r}")
        if not 0.0 < float(self.corner_angle) < 180.0:
            raise ValueError(f"MMGPRegressor: corner_angle must lie in (0, 180) degrees, got {self.corner_angle!r}")
        if not float(self.ood_threshold) > 0:
            raise ValueError(f"MMGPRegressor: ood_threshold must be > 0, got {self.ood_threshold!r}")
        if not (
            self.common_mesh is None
            or isinstance(self.common_mesh, Mesh)
            or (isinstance(self.common_mesh, (int, np.integer)) and not isinstance(self.common_mesh, bool))
        ):
            raise ValueError(
                f"MMGPRegressor: common_mesh must be None, a training-mesh index or a Mesh, got {type(self.common_mesh).__name__}"
            )
        if self.amplitude_shape_modes and self.field_scaling != "power":
            raise ValueError("MMGPRegressor: amplitude_shape_modes needs field_scaling='power'")
        gkw = self._gp_kwargs()
        SharedGP(**gkw, calibration=self.calibration), BatchedGP(**gkw)  # the optimiser settings, before any work

    def _gp_kwargs(self) -> dict:
        return dict(
            n_restarts=self.n_restarts, n_iter=self.n_iter, lr=self.lr, seed=self.seed, kernel=self.kernel, n_polish=self.n_polish
        )

    def _resolve_morphing(self, loops: list[int], ids: list[str]) -> str:
        if len(set(loops)) > 1:
            i = next(i for i, n in enumerate(loops) if n != loops[0])
            raise ValueError(
                f"MMGPRegressor: sample {ids[i]!r} (index {i}) has {loops[i]} boundary loops, sample "
                f"{ids[0]!r} has {loops[0]}; all training meshes need the same number (one shape family)"
            )
        if loops[0] == 0:
            raise ValueError(
                f"MMGPRegressor: sample {ids[0]!r} has no boundary (a closed surface); MMGP needs meshes with a boundary"
            )
        if self.morphing == "auto":
            return "disk" if loops[0] == 1 else "rbf"
        if self.morphing == "disk" and loops[0] != 1:
            raise ValueError(
                f"MMGPRegressor: sample {ids[0]!r} (index 0) has {loops[0]} boundary loops; morphing='disk' "
                "needs exactly one (use morphing='rbf' or 'auto' for domains with holes)"
            )
        return self.morphing

    def _resolve_corners(self, meshes, ids, common: Mesh) -> int:
        if self.morphing_ != "disk":
            if self.n_corners not in ("auto", 0):
                warnings.warn(f"MMGPRegressor: n_corners={self.n_corners} is ignored by morphing='rbf'", stacklevel=3)
            return 0
        counts = [count_corners(m.points, m.cells, self.corner_angle) for m in meshes]
        least = min(counts)
        i_least = counts.index(least)
        if self.n_corners == "auto":
            if len(set(counts)) == 1:
                return least
            warnings.warn(
                f"MMGPRegressor: the training boundaries have different numbers of corners (turning angle > "
                f"{self.corner_angle:g} deg): {min(counts)} to {max(counts)} (e.g. sample {ids[i_least]!r}); "
                "no corners are pinned (set corner_angle or n_corners)",
                stacklevel=3,
            )
            return 0
        if self.n_corners > least:
            warnings.warn(
                f"MMGPRegressor: n_corners={self.n_corners} asks for more corners than sample {ids[i_least]!r} has "
                f"({least} boundary nodes turn by more than {self.corner_angle:g} deg); pinning {least}. Pinned "
                "nodes that are not corners make the morphing arbitrary",
                stacklevel=3,
            )
            return least
        return int(self.n_corners)

    def _check_new_meshes(self, meshes, ids):
        ids, loops = check_meshes(meshes, ids)
        for i, (m, n) in enumerate(zip(meshes, loops)):
            where = f"sample {ids[i]!r} (index {i})"
            if n != self.n_loops_:
                raise ValueError(f"MMGPRegressor: {where} has {n} boundary loops, the training meshes have {self.n_loops_}")
            if m.dim != self.dim_:
                raise ValueError(f"MMGPRegressor: {where} has {m.dim}-D points, the training meshes are {self.dim_}-D")
        if self.morphing_ == "disk" and self.n_corners_:
            few = [
                (sid, c)
                for sid, m in zip(ids, meshes)
                if (c := count_corners(m.points, m.cells, self.corner_angle)) < self.n_corners_
            ]
            if few:
                warnings.warn(
                    f"MMGPRegressor: {len(few)} sample(s) have fewer than the {self.n_corners_} boundary corners of the "
                    f"training set (e.g. {few[0][0]!r}: {few[0][1]}); their morphing pins arbitrary nodes",
                    stacklevel=3,
                )
        return ids

    def _clip_modes(self, name: str, value, n: int):
        if value is not None and value > n - 1:
            warnings.warn(
                f"MMGPRegressor: {name}={value} exceeds the {n - 1} modes that {n} training samples support; using {n - 1}",
                stacklevel=3,
            )
            return n - 1
        return value

    # -- common pipeline ------------------------------------------------------------------------
    def _prepare(self, meshes, fields, back, desc: str):
        """Morph + transfer every sample; ``back``: True, False or the set of indices that also need Q_j."""
        dt = self.dtype_
        tasks = []
        for i, m in enumerate(meshes):
            tasks.append(
                {
                    "points": m.points.detach().cpu().to(dt),
                    "faces": m.cells.cpu(),
                    "fields": {k: v[i].detach().cpu().to(dt) for k, v in fields.items()},
                    "support": self.support_.cpu(),
                    "support_faces": self.common_faces_.cpu(),
                    "support_ref": None if self.morphing_ == "disk" else self.common_points_.cpu(),
                    "morphing": self.morphing_,
                    "n_corners": self.n_corners_,
                    "corner_angle": float(self.corner_angle),
                    "back": back if isinstance(back, bool) else i in back,
                }
            )
        return map_samples(_prepare_sample, tasks, scheduler=self.scheduler, desc=desc, progress=self.progress)

    def fold_counts(self, meshes) -> torch.Tensor:
        """Triangles of each mesh that the morph onto the common mesh turns over, (n,) long.

        0 means the morph is a bijection on that mesh; always 0 for ``'disk'`` (Floater's map). A sample
        with folds gets its fields transferred with large errors (``predict`` warns about it)."""
        self._check_fitted()
        if self.morphing_ == "disk":
            return torch.zeros(len(meshes), dtype=torch.long)
        ref = Mesh(self.common_points_.cpu(), self.common_faces_.cpu(), "triangle")
        counts = [
            folds(Mesh(m.points.detach().cpu().to(self.dtype_), m.cells.cpu(), "triangle"), ref, self.corner_angle)
            for m in meshes
        ]
        return torch.tensor(counts, dtype=torch.long)

    def _warn_folded(self, prep, ids, what: str, where: str) -> int:
        """Warn about samples whose morph onto the common mesh turned triangles over; return their number."""
        folded = [(sid, p["folded"]) for sid, p in zip(ids, prep) if p.get("folded", 0)]
        if folded:
            fix = (
                "pass common_mesh= the index of another training mesh (fit chooses the one onto which fewest fold "
                "when common_mesh is None)"
                if where == "fit" or self.common_mesh is not None
                else "refit with more samples like these"
            )
            warnings.warn(
                f"MMGPRegressor.{where}: {len(folded)} of {len(ids)} {what} fold when morphed onto the common mesh "
                f"(e.g. {folded[0][0]!r}: {folded[0][1]} triangles turned over); their fields transfer with large "
                f"errors. To fix: {fix}",
                stacklevel=3,
            )
        return len(folded)

    def _log_inputs(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.log_inputs_.any()):
            return x
        if bool((x[:, self.log_inputs_] <= 0).any()):
            raise ValueError(
                "MMGPRegressor: an input that was positive in every training sample is <= 0 here; refit with log_transform=False"
            )
        return torch.where(self.log_inputs_.to(x.device), x.clamp_min(1e-300).log(), x)

    def _scale_features(self, x: torch.Tensor) -> torch.Tensor:
        """Centred log of the inputs positive in every training sample, (n, p_+), for the amplitude law."""
        pos = self.scale_inputs_.to(x.device)
        if bool((x[:, pos] <= 0).any()):
            raise ValueError(
                "MMGPRegressor: an input that was positive in every training sample is <= 0 here; refit with field_scaling='none'"
            )
        return x[:, pos].clamp_min(1e-300).log()

    def field_scales(self, inputs, meshes: Sequence[Mesh] | None = None) -> dict[str, torch.Tensor]:
        """Amplitude s_f(x_j) of every field for n samples' inputs, {name: (n,)} (ones when not scaled).
        ``meshes`` (the samples' meshes) are needed when the law uses shape modes (``amplitude_shape_modes``)."""
        self._check_fitted()
        n = len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)
        x = self._inputs(inputs, n, [str(i) for i in range(n)])
        xs = None
        if self.amplitude_shape_modes:
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

    def _inputs(self, inputs, n, ids) -> torch.Tensor:
        return check_inputs(inputs, n, ids, self.input_names_, self.n_inputs_)

    # -- estimator API ----------------------------------------------------------------------------
    def fit(self, meshes, inputs=None, outputs: Mapping | None = None, ids: Sequence[str] | None = None) -> MMGPRegressor:
        """Learn the surrogate.

        Parameters
        ----------
        meshes : n triangle meshes (2-D, or 3-D surface patches), any node counts; or a
            ``geomsci.mmgp.selection.Samples`` list (then ``inputs``/``outputs`` come from it)
        inputs : (n, p) array of scalar inputs, or a mapping name -> (n,) values
        outputs : mapping name -> either n nodal fields (each (N_i,) or (N_i, C)) or (n,) scalars
        ids : optional sample names used in error messages
        """
        from geomsci.mmgp.selection import to_samples

        if (samples := to_samples(meshes)) is not None:
            meshes, inputs, outputs, ids = samples.meshes, samples.inputs, samples.outputs, samples.ids
        self._check_params()
        for attr in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, attr)  # a refit starts clean
        ids, loops = check_meshes(meshes, ids)
        n = len(meshes)
        if n < 2:
            raise ValueError(f"MMGPRegressor.fit: needs at least 2 training samples, got {n}")
        cm = self.common_mesh
        if not (cm is None or isinstance(cm, Mesh) or -n <= cm < n):
            raise ValueError(f"MMGPRegressor: common_mesh={cm} is not an index of the {n} training meshes")
        dims = {m.dim for m in meshes}
        if len(dims) > 1:
            raise ValueError(f"MMGPRegressor: the training meshes mix {sorted(dims)}-D points")
        self.input_names_ = list(inputs) if isinstance(inputs, Mapping) else None
        self.n_inputs_ = None
        x = check_inputs(inputs, n, ids, self.input_names_)
        fields, scalars, comps = split_outputs(outputs, meshes, ids)
        self.morphing_ = self._resolve_morphing(loops, ids)
        self.n_loops_, self.dim_, self.n_inputs_ = loops[0], meshes[0].dim, x.shape[1]
        self.device_, self.dtype_ = meshes[0].device, torch.float64
        self.field_names_, self.scalar_names_, self.field_components_ = list(fields), list(scalars), comps
        n_shape = self._clip_modes("n_shape_modes", self.n_shape_modes, n)
        n_field = self._clip_modes("field_modes", self.field_modes, n)
        # Common mesh: a training mesh or a given one; its morphed image is the support. By default the one with
        # most nodes for 'disk' (every sample lands on the unit disk), and for 'rbf', whose morph onto it may
        # fold, the finer mesh onto which the fewest training samples fold (`least_folding_reference`).
        if cm is None and self.morphing_ == "rbf":
            cm_index = least_folding_reference(meshes, corner_angle=self.corner_angle)[0]
        elif cm is None:
            cm_index = int(np.argmax([m.n_points for m in meshes]))
        else:
            cm_index = None if isinstance(cm, Mesh) else int(cm) % n
        self.common_mesh_index_ = cm_index
        common = cm if isinstance(cm, Mesh) else meshes[cm_index]
        self.n_corners_ = self._resolve_corners(meshes, ids, common)
        self.common_points_ = common.points.detach().to(self.device_, self.dtype_)
        self.common_faces_ = common.cells.to(self.device_)
        support = (
            disk_map(self.common_points_, self.common_faces_, n_corners=self.n_corners_)
            if self.morphing_ == "disk"
            else self.common_points_
        )
        self.support_ = support.to(self.device_)
        w = vertex_areas(self.support_, self.common_faces_)  # (N_c,) lumped mass
        # Calibration samples (at most MAX_CALIBRATION, evenly spread): their back-transfer Q_i lets the CV
        # interval factor and the transfer-error variance be measured on the samples' own nodes.
        calib = sorted(set(np.linspace(0, n - 1, min(n, MAX_CALIBRATION)).round().astype(int).tolist()))
        need_back = set(calib) if self.field_names_ and self.interval_calibration == "cv" else set()
        prep = self._prepare(meshes, fields, back=need_back, desc="mmgp: morph+transfer (fit)")
        self.n_folded_ = self._warn_folded(prep, ids, "training samples", "fit")
        coords = torch.stack([p["coords"].reshape(-1) for p in prep]).to(self.device_)  # (n, N_c D)
        w_coords = w.repeat_interleave(self.dim_)
        self.shape_pod_ = WeightedPOD(n_modes=n_shape).fit(coords, w_coords)
        if not 0 <= self.amplitude_shape_modes <= self.shape_pod_.n_components_:
            raise ValueError(
                f"MMGPRegressor: amplitude_shape_modes must lie in [0, {self.shape_pod_.n_components_}] "
                f"(the shape modes), got {self.amplitude_shape_modes}"
            )
        x = x.to(coords)
        self.log_inputs_ = (x > 0).all(0) if self.log_transform else torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
        xin = torch.cat([self.shape_pod_.transform(coords), self._log_inputs(x)], 1)  # (n, k_s + p)
        self.x_mean_ = xin.mean(0)
        self.x_std_ = xin.std(0).clamp_min(1e-12)
        xs = (xin - self.x_mean_) / self.x_std_
        self.scale_inputs_ = (
            (x > 0).all(0) if self.field_scaling == "power" else torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
        )
        self.scale_center_ = self._scale_features(x).mean(0)
        feats = self._amp_features(x, xs)  # (n, p_+ + k_a), centred
        self.field_pods_, self.field_gps_, self.field_beta_, self.field_resvar_, self.std_scale_ = {}, {}, {}, {}, {}
        gkw = self._gp_kwargs()
        steps = len(self.field_names_) + bool(self.scalar_names_)
        bar = tqdm(total=steps, desc="mmgp: POD + GP fits", disable=not self.progress, leave=False)
        for name in self.field_names_:
            bar.set_postfix_str(name)
            snaps = torch.stack([p["fields"][name].reshape(-1) for p in prep]).to(self.device_)  # (n, N_c C), node-major
            wf = w.repeat_interleave(max(comps[name], 1))
            if feats.shape[1] > 0:  # power-law amplitude: least squares on log ||u_i||_W = c + beta . f_i
                norm = (snaps**2 @ wf).sqrt()
                logn = norm.clamp_min(1e-12 * float(norm.max()) + 1e-300).log()
                A = torch.cat([torch.ones_like(logn)[:, None], feats], 1)
                beta = torch.linalg.lstsq(A, logn[:, None]).solution[1:, 0]  # (p_+ + k_a,)
                self.field_beta_[name] = beta
                snaps = snaps / (feats @ beta).exp()[:, None]
            pod = WeightedPOD(n_modes=n_field, energy=self.field_energy).fit(snaps, wf)
            self.field_pods_[name] = pod
            self.field_resvar_[name] = (
                cv_residual_variance(snaps, wf, pod.n_components_) if self.pod_residual else torch.zeros_like(wf)
            )  # (N_c C,)
            own = []  # (index, Q_i, field on its own nodes / s_i) of the calibration samples
            if need_back:
                amp = (feats @ self.field_beta_[name]).exp() if name in self.field_beta_ else torch.ones(n, dtype=snaps.dtype)
                own = [
                    (
                        i,
                        _sparse(prep[i]["back"], self.device_, self.dtype_),
                        fields[name][i].to(self.device_, self.dtype_) / amp[i],
                    )
                    for i in calib
                ]
                # Round-trip transfer error (sample -> common mesh -> sample), a variance the POD cannot see.
                self.field_resvar_[name] = self.field_resvar_[name] + cal.transfer_variance(own, snaps, max(comps[name], 1))
            gp = SharedGP(**gkw, calibration=self.calibration) if self.gp == "shared" else BatchedGP(**gkw)
            self.field_gps_[name] = gp.fit(xs, pod.transform(snaps))
            self.std_scale_[name] = (
                cal.field_interval_scale(gp, xs, snaps, wf, pod.n_components_, self.field_resvar_[name], own, max(comps[name], 1))
                if own and isinstance(gp, SharedGP)
                else 1.0
            )
            bar.update()
        self.scalar_gp_ = None
        if self.scalar_names_:
            bar.set_postfix_str("scalars")
            y = torch.stack([scalars[k] for k in self.scalar_names_], 1).to(xs)
            self.log_outputs_ = (
                (y > 0).all(0) if self.log_transform else torch.zeros(y.shape[1], dtype=torch.bool, device=y.device)
            )
            y = torch.where(self.log_outputs_, y.clamp_min(1e-300).log(), y)
            self.scalar_gp_ = BatchedGP(**gkw).fit(xs, y)
            if self.interval_calibration == "none":
                sc = torch.ones(y.shape[1])
            elif n <= MAX_REFIT_CV:
                features = cal.fold_gp_inputs(coords, w_coords, self.shape_pod_.n_components_, self._log_inputs(x))
                sc = cal.scalar_interval_scales_cv(lambda: BatchedGP(**gkw), features, y, self.log_outputs_)
            else:
                sc = cal.scalar_interval_scales(self.scalar_gp_, self.log_outputs_)
            self.std_scale_.update({k: float(sc[c]) for c, k in enumerate(self.scalar_names_)})
            bar.update()
        bar.close()
        # Out-of-distribution reference: the training set's own leave-one-out distances and shape residuals.
        self.ood_x_train_ = xs
        self.ood_distance_ref_ = torch.stack(
            [cal.nearest_distances(xs, xs, ls, exclude_self=True).quantile(0.95) for ls in cal.gp_metrics(self._gps())]
        ).clamp_min(1e-12)
        self.ood_shape_ref_ = cal.cv_shape_residual_norms(coords, w_coords, self.shape_pod_.n_components_).quantile(0.95)
        self.ood_shape_ref_ = self.ood_shape_ref_.clamp_min(1e-9 * float((coords * coords * w_coords).sum(1).sqrt().mean()))
        return self

    def _gps(self) -> list:
        return list(self.field_gps_.values()) + ([self.scalar_gp_] if self.scalar_gp_ is not None else [])

    def _check_fitted(self):
        if not hasattr(self, "shape_pod_"):
            raise RuntimeError("MMGPRegressor: call fit (or load) before predict")

    def _morph_new(self, meshes, inputs, ids):
        self._check_fitted()
        ids = self._check_new_meshes(meshes, ids)
        x = self._inputs(inputs, len(meshes), ids)
        prep = self._prepare(meshes, {}, back=True, desc="mmgp: morph+transfer (predict)")
        self._warn_folded(prep, ids, "samples", "predict")
        coords = torch.stack([p["coords"].reshape(-1) for p in prep]).to(self.device_)
        Qs = [_sparse(p["back"], self.device_, self.dtype_) for p in prep]
        folded = torch.tensor([p["folded"] for p in prep], dtype=torch.long)  # (n,) triangles turned over
        return ids, x.to(coords), coords, Qs, folded

    def predict_coefficients(self, meshes, inputs, ids=None):
        """GP inputs and per-sample back-transfer operators: ``(x (n, d) standardised, [Q_j sparse (N_j, N_c)])``."""
        _, x, coords, Qs, _ = self._morph_new(meshes, inputs, ids)
        return self._gp_inputs(coords, x), Qs

    def reconstruct(self, name: str, Q: torch.Tensor, coeffs: torch.Tensor, scale=1.0) -> torch.Tensor:
        """Field ``name`` on a sample's nodes from POD coefficients: s Q (mean + Phi a); coeffs (k,) or (S, k) ->
        (N,) or (S, N) for a scalar field, (N, C) or (S, N, C) for a C-component field; ``scale``: the sample's
        amplitude s (``field_scales``; 1 without field scaling)."""
        pod, C = self.field_pods_[name], max(self.field_components_[name], 1)
        common = pod.inverse_transform(coeffs.reshape(-1, pod.n_components_))  # (S, N_c C)
        S = common.shape[0]
        common = common.reshape(S, -1, C).permute(1, 0, 2).reshape(-1, S * C)  # (N_c, S C)
        out = (torch.sparse.mm(Q, common) * scale).reshape(Q.shape[0], S, C).permute(1, 0, 2)  # (S, N, C)
        out = out[..., 0] if self.field_components_[name] == 0 else out
        return out[0] if coeffs.dim() == 1 else out

    def ood_scores(self, xs: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Out-of-distribution score (n,) of samples with GP inputs ``xs`` and common-mesh coordinates
        ``coords`` (``geomsci.mmgp.calibration``): about 1 or below inside the training distribution."""
        dist = (
            torch.stack(
                [
                    cal.nearest_distances(xs, self.ood_x_train_, ls) / ref
                    for ls, ref in zip(cal.gp_metrics(self._gps()), self.ood_distance_ref_)
                ]
            )
            .max(0)
            .values
        )
        shape = cal.shape_residual_norms(self.shape_pod_, coords) / self.ood_shape_ref_
        return torch.maximum(dist, shape)

    def predict(
        self,
        meshes,
        inputs=None,
        return_std: bool = False,
        ids: Sequence[str] | None = None,
        return_ood: bool = False,
        return_folds: bool = False,
    ):
        """Predict every fitted output.

        Returns ``mean`` (or ``(mean, std)`` with ``return_std``; ``ood`` (n,) appended with
        ``return_ood``; then ``folds`` (n,), the triangles each mesh's morph turned over as in
        `fold_counts`, with ``return_folds``): dicts mapping each field name to a list of (N_j,)
        tensors ((N_j, C) for a C-component field) on the given meshes and each scalar name to an
        (n,) tensor. The 95%
        interval is mean +- 1.96 std (``Z95``). With ``interval_calibration='cv'`` the std includes
        each output's cross-validated factor ``std_scale_``. Samples whose OOD score exceeds
        ``ood_threshold`` trigger a warning.
        """
        from geomsci.mmgp.selection import to_samples

        if (samples := to_samples(meshes)) is not None:
            meshes, inputs, ids = samples.meshes, samples.inputs, samples.ids
        ids, x, coords, Qs, folded = self._morph_new(meshes, inputs, ids)
        xs = self._gp_inputs(coords, x)
        scales = self._field_scales(x, xs)
        mean, std = {}, {}
        for name in self.field_names_:
            gp = self.field_gps_[name]
            if isinstance(gp, SharedGP):  # Cov[a | x_j] = v_j C  ->  Var u_j = v_j diag(B C B^T)
                mu, v = gp.predict_shared(xs)  # (n, k), (n,)
                Cov = gp.output_cov_
            else:  # independent GPs: Cov[a | x_j] = diag(var_j)
                mu, var = gp.predict(xs)  # (n, k) each
            nc = max(self.field_components_[name], 1)
            modes = self.field_pods_[name].modes_.reshape(-1, nc, mu.shape[1])  # (N_c, C, k)
            resvar = self.field_resvar_[name].reshape(-1, nc)  # (N_c, C)
            mean[name], std[name] = [], []
            for j, Q in enumerate(Qs):
                s = scales[name][j]
                mean[name].append(self.reconstruct(name, Q, mu[j], s))
                comp = []
                for c in range(nc):
                    B = torch.sparse.mm(Q, modes[:, c, :])  # (N_j, k)
                    nodal = ((B @ Cov) * B).sum(1) * v[j] if isinstance(gp, SharedGP) else (B * B) @ var[j]
                    nodal = nodal + apply(Q, resvar[:, c])  # POD truncation error, independent of the GP's
                    comp.append(nodal.clamp_min(0).sqrt() * s * self.std_scale_[name])
                sd = torch.stack(comp, 1)
                std[name].append(sd[:, 0] if self.field_components_[name] == 0 else sd)
        if self.scalar_gp_ is not None:
            mu, var = self.scalar_gp_.predict(xs)  # (n, s)
            for c, name in enumerate(self.scalar_names_):
                if bool(self.log_outputs_[c]):  # log-normal moments
                    m = torch.exp(mu[:, c] + var[:, c] / 2)
                    mean[name], std[name] = m, m * torch.expm1(var[:, c]).sqrt()
                else:
                    mean[name], std[name] = mu[:, c], var[:, c].sqrt()
                std[name] = std[name] * self.std_scale_[name]
        ood = self.ood_scores(xs, coords)
        far = [(sid, float(o)) for sid, o in zip(ids, ood) if o > self.ood_threshold]
        if far:
            warnings.warn(
                f"MMGPRegressor: {len(far)} of {len(ids)} samples lie outside the training distribution (OOD score > "
                f"{self.ood_threshold:g}; e.g. {far[0][0]!r}: {far[0][1]:.1f}); their predictions and intervals "
                "are not to be trusted",
                stacklevel=2,
            )
        out = (mean, std) if return_std else (mean,)
        out = out + (ood,) if return_ood else out
        out = out + (folded,) if return_folds else out
        return out if len(out) > 1 else out[0]

    def score(self, meshes, inputs=None, outputs: Mapping | None = None, ids=None) -> float:
        """Mean Q2 (coefficient of determination) over the given outputs (all fitted ones for ``Samples``)."""
        from geomsci.mmgp.selection import to_samples

        if (samples := to_samples(meshes)) is not None:
            meshes, inputs, outputs, ids = samples.meshes, samples.inputs, samples.outputs, samples.ids
        self._check_fitted()
        unknown = [k for k in outputs if k not in self.field_names_ and k not in self.scalar_names_]
        if unknown:
            raise ValueError(
                f"MMGPRegressor.score: output {unknown[0]!r} was not fit; the model predicts "
                f"{self.field_names_ + self.scalar_names_}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pred = self.predict(meshes, inputs, ids=ids)
        return float(np.mean([q2(outputs[k] if k in self.scalar_names_ else list(outputs[k]), pred[k]) for k in outputs]))

    # -- persistence ----------------------------------------------------------------------------------
    _NOT_SAVED = ("device_", "dtype_")

    def save(self, path) -> Path:
        """Write the fitted model to ``path``: a ``torch.save`` file of the constructor arguments and
        every learned attribute (tensors, plain values, POD and GP states), read back with
        ``weights_only=True``. The file is written whole or not at all."""
        self._check_fitted()
        params = self.get_params()
        params["scheduler"], params["progress"] = None, False
        if isinstance(params["common_mesh"], Mesh):
            params["common_mesh"] = None  # its geometry is saved as common_points_ / common_faces_
        fitted = {
            k: _encode(v) for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and k not in self._NOT_SAVED
        }
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"MMGPRegressor.save: {path} is a directory; give a file name such as {path / 'model.pt'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        try:
            torch.save({"format": FORMAT, "params": params, "fitted": fitted}, tmp)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path, device=None) -> MMGPRegressor:
        """Read a model written by ``save`` (onto ``device``, default CPU)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"MMGPRegressor.load: no model file at {path}")
        try:
            s = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"MMGPRegressor.load: {path} is not a saved MMGP model ({type(e).__name__})") from None
        fmt = s.get("format") if isinstance(s, dict) else None
        if isinstance(fmt, str) and fmt.startswith("geomsci.mmgp/") and fmt != FORMAT:
            raise ValueError(
                f"MMGPRegressor.load: {path} was saved by another geomsci version (format {fmt}, "
                f"this one reads {FORMAT}); refit the model"
            )
        if fmt != FORMAT:
            raise ValueError(f"MMGPRegressor.load: {path} is not a saved MMGP model")
        dev = torch.device(device or "cpu")
        model = cls(**s["params"])
        for k, v in s["fitted"].items():
            setattr(model, k, _decode(v, dev))
        model.device_, model.dtype_ = dev, torch.float64
        return model


def _encode(value):
    """A learned attribute as plain values and CPU tensors (``torch.load(weights_only=True)`` reads it)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, WeightedPOD):
        return {"__pod__": _encode(value.state())}
    if isinstance(value, (SharedGP, BatchedGP)):
        return {"__gp__": _encode(value.state())}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        if "__pod__" in value:
            return WeightedPOD.from_state(_decode(value["__pod__"], device))
        if "__gp__" in value:
            return gp_from_state(_decode(value["__gp__"], device))
        return {k: _decode(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, device) for v in value]
    return value
