"""Model selection for ``MMGPRegressor``: samples that scikit-learn can split, scorers, and K-fold CV.

scikit-learn's splitters index X sample by sample, so MMGP's data travel as a list of ``Sample``
(mesh, inputs, outputs, id): ``MMGPRegressor.fit/predict/score`` accept such a list in place of
``(meshes, inputs, outputs)``. For example::

    from sklearn.model_selection import GridSearchCV
    X = as_samples(meshes, inputs, {"u": fields, "u_max": u_max})
    search = GridSearchCV(MMGPRegressor(), {"kernel": ["matern52", "rbf"]}, cv=3,
                          scoring={"u": output_scorer("u"), "u_max": output_scorer("u_max")}, refit="u")
    search.fit(X)

``cross_validate_grid`` does the same without scikit-learn (``geomsci mmgp cv``): K interleaved
folds, every setting of a small grid, RRMSE and 95% coverage per output.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from geomsci.core.mesh import Mesh
from geomsci.mmgp.metrics import coverage, q2, rrmse_field, rrmse_scalar


@dataclass
class Sample:
    """One training or test sample: a mesh, its scalar inputs {name: float}, its outputs {name: field
    tensor (N,) / (N, C) or float} (may be empty for prediction) and an id."""

    mesh: Mesh
    inputs: dict
    outputs: dict = field(default_factory=dict)
    id: str = ""


class Samples(list):
    """A list of ``Sample`` with the columns MMGPRegressor takes (``meshes``, ``inputs``, ``outputs``, ``ids``)."""

    @property
    def meshes(self) -> list[Mesh]:
        return [s.mesh for s in self]

    @property
    def ids(self) -> list[str]:
        return [s.id or str(i) for i, s in enumerate(self)]

    @property
    def inputs(self) -> dict:
        names = list(self[0].inputs) if len(self) else []
        return {k: np.array([float(s.inputs[k]) for s in self]) for k in names}

    @property
    def outputs(self) -> dict:
        names = list(self[0].outputs) if len(self) else []
        out = {}
        for k in names:
            vals = [s.outputs[k] for s in self]
            out[k] = vals if isinstance(vals[0], torch.Tensor) and vals[0].dim() > 0 else np.array([float(v) for v in vals])
        return out


def as_samples(meshes: Sequence[Mesh], inputs, outputs: Mapping | None = None, ids: Sequence[str] | None = None) -> Samples:
    """Zip meshes, inputs ((n, p) array or {name: (n,)}) and outputs ({name: n fields or (n,) scalars}) into ``Samples``."""
    n = len(meshes)
    if isinstance(inputs, Mapping):
        names, cols = (
            list(inputs),
            [np.asarray(torch.as_tensor(v).cpu() if isinstance(v, torch.Tensor) else v, float) for v in inputs.values()],
        )
    else:
        arr = np.asarray(inputs.cpu() if isinstance(inputs, torch.Tensor) else inputs, float).reshape(n, -1)
        names, cols = [f"x{j}" for j in range(arr.shape[1])], list(arr.T)
    out = Samples()
    for i in range(n):
        o = {}
        for k, v in (outputs or {}).items():
            o[k] = v[i] if isinstance(v, (list, tuple)) else float(np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)[i])
        out.append(
            Sample(meshes[i], {k: float(c[i]) for k, c in zip(names, cols)}, o, str(ids[i]) if ids is not None else str(i))
        )
    return out


def to_samples(X) -> Samples | None:
    """``X`` as ``Samples`` when it is a list of ``Sample`` (what scikit-learn's splitters hand over), else None."""
    if isinstance(X, Samples):
        return X
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(s, Sample) for s in X):
        return Samples(X)
    return None


def output_metrics(name: str, truth, mean, std=None) -> dict:
    """RRMSE, Q2 and (with ``std``) 95% coverage of one output: fields as lists of per-sample tensors."""
    field_like = isinstance(truth, (list, tuple)) and isinstance(truth[0], torch.Tensor) and truth[0].dim() > 0
    out = {"rrmse": rrmse_field(truth, mean) if field_like else rrmse_scalar(truth, mean), "q2": q2(truth, mean)}
    if std is not None:
        out["cover95"] = coverage(truth, mean, std)
    return out


def output_scorer(name: str, metric: str = "rrmse"):
    """A scikit-learn scorer ``f(estimator, X, y=None)`` for one output (greater is better):
    ``'rrmse'`` -> -RRMSE, ``'q2'`` -> Q2, ``'coverage'`` -> -|cover95 - 0.95|."""
    if metric not in ("rrmse", "q2", "coverage"):
        raise ValueError(f"output_scorer: metric must be 'rrmse', 'q2' or 'coverage', got {metric!r}")

    def score(estimator, X, y=None) -> float:
        samples = to_samples(X)
        if samples is None:
            raise ValueError("output_scorer: X must be a list of geomsci.mmgp.selection.Sample (see as_samples)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mean, std = estimator.predict(samples, return_std=True)
        truth = samples.outputs[name]
        m = output_metrics(name, truth, mean[name], std[name])
        return {"rrmse": -m["rrmse"], "q2": m["q2"], "coverage": -abs(m["cover95"] - 0.95)}[metric]

    score.__name__ = f"{metric}_{name}"
    return score


def cross_validate_grid(estimator, samples: Samples, grid: Mapping[str, Sequence], folds: int = 5, progress: bool = False):
    """K-fold CV (interleaved folds) of every combination of ``grid`` (parameter -> values).

    Returns ``(rows, best)``: one row per setting ``{"params": {...}, "<output>": {"rrmse", "q2",
    "cover95"}, "score": geometric mean of the outputs' RRMSE}`` (metrics pooled over the held-out
    samples of all folds), and the params of the row with the lowest score.
    """
    from tqdm.auto import tqdm

    from geomsci.mmgp.regressor import MMGPRegressor

    n = len(samples)
    if not 2 <= folds <= n // 2:
        raise ValueError(
            f"cross_validate_grid: folds must lie in [2, {n // 2}] for {n} samples (each fold keeps >= 2), got {folds}"
        )
    for k in grid:
        if k not in estimator.get_params():
            raise ValueError(f"cross_validate_grid: {k!r} is not a parameter of MMGPRegressor")
    names = list(samples[0].outputs)
    combos = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())]
    rows = []
    for params in tqdm(combos, desc="mmgp cv: settings", disable=not progress):
        pooled = {k: {"truth": [], "mean": [], "std": []} for k in names}
        for f in range(folds):
            train = Samples(s for i, s in enumerate(samples) if i % folds != f)
            test = Samples(s for i, s in enumerate(samples) if i % folds == f)
            model = MMGPRegressor(**{**estimator.get_params(), **params, "progress": False})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model.fit(train)
                mean, std = model.predict(test, return_std=True)
            truth = test.outputs
            for k in names:
                t, m, s = truth[k], mean[k], std[k]
                pooled[k]["truth"] += list(t) if isinstance(t, list) else [float(v) for v in t]
                pooled[k]["mean"] += list(m) if isinstance(m, list) else [float(v) for v in m]
                pooled[k]["std"] += list(s) if isinstance(s, list) else [float(v) for v in s]
        row = {"params": params}
        for k in names:
            p = pooled[k]
            if isinstance(p["truth"][0], torch.Tensor):
                row[k] = output_metrics(k, p["truth"], p["mean"], p["std"])
            else:
                row[k] = output_metrics(k, torch.tensor(p["truth"]), torch.tensor(p["mean"]), torch.tensor(p["std"]))
        row["score"] = math.exp(float(np.mean([math.log(max(row[k]["rrmse"], 1e-300)) for k in names])))
        rows.append(row)
    best = min(rows, key=lambda r: r["score"])["params"]
    return rows, best
