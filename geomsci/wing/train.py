"""Training and evaluation of the Cp models, with or without Riemannian feature groups.

Inputs per point: coordinates (3), flight condition (angle of attack, Mach) and the chosen feature
fields. Features span many decades (metric and Christoffel symbols blow up where the grid
parametrization degenerates, e.g. at the closed tip's leading edge), so each is squashed as
asinh(f / s) with s its median |f| on the training wings, clipped to +-8, then every input column is
standardized with training statistics. Cp is standardized for the loss; MSE is reported in Cp units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm import tqdm

from geomsci.wing.dataset import WingData
from geomsci.wing.fundamental_forms import FEATURE_GROUPS
from geomsci.wing.models import MODELS

INPUT_GROUPS = dict(FEATURE_GROUPS, normal=["normal_x", "normal_y", "normal_z"])


def feature_columns(data: WingData, groups) -> list[int]:
    """Column indices in ``data.features`` of the named groups: ``"metric"``, ``"christoffel"``,
    ``"curvature"`` (the Riemannian features) and ``"normal"`` (the unit normal)."""
    if isinstance(groups, str):
        raise TypeError(f"feature_columns: groups must be a sequence of group names such as ({groups!r},), not a string")
    cols = []
    for g in groups:
        if g not in INPUT_GROUPS:
            raise ValueError(f"feature_columns: unknown feature group {g!r}; expected one of {sorted(INPUT_GROUPS)}")
        cols += [data.feature_names.index(n) for n in INPUT_GROUPS[g]]
    return cols


@dataclass
class Normalizer:
    """Input/target scaling learned on the training wings (see the module docstring)."""

    cols: list
    feat_scale: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    cp_mean: float
    cp_std: float

    def inputs(self, data: WingData) -> torch.Tensor:
        """(W, C, N, D) inputs for every wing and condition."""
        W, C, N = data.cp.shape
        parts = [
            data.points.unsqueeze(1).expand(W, C, N, 3),
            (data.conditions * torch.tensor([1 / 10.0, 1.0])).unsqueeze(2).expand(W, C, N, 2),
        ]
        if self.cols:
            f = torch.asinh(data.features[..., self.cols] / self.feat_scale).clamp(-8, 8)
            parts.append(f.unsqueeze(1).expand(W, C, N, len(self.cols)))
        x = torch.cat(parts, -1)
        return (x - self.mean) / self.std

    @classmethod
    def fit(cls, data: WingData, cols: list) -> Normalizer:
        scale = data.features[..., cols].abs().flatten(0, 1).median(0).values.clamp_min(1e-8) if cols else torch.ones(0)
        tmp = cls(cols, scale, torch.zeros(1), torch.ones(1), 0.0, 1.0)
        x = tmp.inputs(data).flatten(0, 2)
        return cls(cols, scale, x.mean(0), x.std(0).clamp_min(1e-6), float(data.cp.mean()), float(data.cp.std()))


def train_cp_model(
    data: WingData,
    model: str = "mlp",
    groups=(),
    *,
    epochs: int = 30,
    batch: int = 8,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = False,
    **model_kw,
):
    """Train ``model`` ("mlp" or "attention") on the training wings of ``data``.

    Every run gets the same budget: ``epochs`` passes over the (wing, condition) samples in batches
    of ``batch`` samples (all points of a sample at once), AdamW with a cosine learning rate.
    Returns (model, normalizer).
    """
    if model not in MODELS:
        raise ValueError(f"train_cp_model: model must be one of {sorted(MODELS)}, got {model!r}")
    if epochs < 1 or batch < 1:
        raise ValueError(f"train_cp_model: need epochs >= 1 and batch >= 1, got epochs={epochs}, batch={batch}")
    if not 0 < lr < math.inf:
        raise ValueError(f"train_cp_model: lr must be positive and finite, got {lr}")
    train = data.subset("train")
    if train.cp.shape[0] == 0:
        raise ValueError("train_cp_model: the dataset has no training wings")
    cols = feature_columns(data, groups)
    norm = Normalizer.fit(train, cols)
    x = norm.inputs(train).flatten(0, 1)  # (S, N, D)
    y = ((train.cp - norm.cp_mean) / norm.cp_std).flatten(0, 1)  # (S, N)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # parameter initialization (nn.Module has no generator argument)
    net = MODELS[model](x.shape[-1], **model_kw)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(x.shape[0] / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    bar = tqdm(total=steps, desc=f"train {model}", disable=not progress)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], batch):
            idx = perm[i : i + batch]
            loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
    bar.close()
    net.eval()
    return net, norm


@torch.no_grad()
def predict_cp(net, norm: Normalizer, data: WingData) -> torch.Tensor:
    """Predicted Cp (W, C, N) for every wing and condition of ``data``."""
    if not isinstance(norm, Normalizer):
        raise TypeError(
            f"predict_cp: norm must be the Normalizer returned with the model by train_cp_model, got {type(norm).__name__}"
        )
    x = norm.inputs(data)  # (W, C, N, D)
    W, C, N, D = x.shape
    out = torch.cat([net(chunk) for chunk in x.reshape(W * C, N, D).split(16)])
    return (out * norm.cp_std + norm.cp_mean).reshape(W, C, N)


def cp_mse(net, norm: Normalizer, data: WingData, which: str = "test") -> float:
    """Mean squared Cp error over all points and conditions of the ``which`` wings."""
    sub = data.subset(which)
    if sub.cp.shape[0] == 0:
        raise ValueError(f"cp_mse: the dataset has no {which} wings to evaluate on")
    return float(((predict_cp(net, norm, sub) - sub.cp) ** 2).mean())


#: How H, k1, k2 are signed in checkpoints written by :func:`save_cp_model` (docs/conventions.md).
CURVATURE_SIGN = "positive on an outward sphere"


def save_cp_model(path, net, norm: Normalizer, model: str, groups, model_kw: dict | None = None) -> None:
    """Write a trained Cp model (``train_cp_model``'s result) to ``path`` (.pt) for :func:`load_cp_model`;
    ``model_kw`` are the size arguments given to ``train_cp_model`` (e.g. ``hidden=32``), if any."""
    torch.save(
        {
            "model": model,
            "groups": tuple(groups),
            "state": net.state_dict(),
            "norm": norm.__dict__,
            "model_kw": dict(model_kw or {}),
            "curvature_sign": CURVATURE_SIGN,
        },
        path,
    )


def _flip_curvature_sign(ck: dict) -> dict:
    """A checkpoint trained with the old sign (H = -1/R on an outward sphere) made to give identical
    predictions on features with the current sign: H -> -H and (k1, k2) -> (-k2, -k1) are undone in the
    input normalization and the first layer (asinh and the clipping are odd, so negation passes through)."""
    from geomsci.wing.dataset import FEATURE_NAMES

    norm = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in ck["norm"].items()}
    state = {k: v.clone() for k, v in ck["state"].items()}
    first = next(k for k in state if k.endswith("weight"))  # the layer that reads the inputs
    old_w, old = state[first].clone(), {k: v.clone() for k, v in norm.items() if isinstance(v, torch.Tensor)}
    pos = {FEATURE_NAMES[c]: i for i, c in enumerate(norm["cols"])}
    offset = 5  # coordinates (3) and the flight condition (2) come before the features
    for new, src in (("H", "H"), ("k1", "k2"), ("k2", "k1")):
        if new not in pos:
            continue
        i, j = pos[new], pos[src]
        norm["feat_scale"][i] = old["feat_scale"][j]
        norm["mean"][offset + i] = -old["mean"][offset + j]
        norm["std"][offset + i] = old["std"][offset + j]
        state[first][:, offset + i] = -old_w[:, offset + j]
    return {**ck, "norm": norm, "state": state, "curvature_sign": CURVATURE_SIGN}


def load_cp_model(path):
    """(model, normalizer, checkpoint dict) from a file written by :func:`save_cp_model` or ``geomsci wing
    train -o``; checkpoints from before the curvature-sign convention are converted on the fly."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_cp_model: {path}: no such file")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and format errors all mean: not a Cp model file
        raise ValueError(
            f"load_cp_model: {path} is not a Cp model saved by `geomsci wing train -o` ({type(e).__name__})"
        ) from None
    if not isinstance(ck, dict) or not {"model", "groups", "state", "norm"} <= set(ck):
        raise ValueError(f"load_cp_model: {path} is not a Cp model saved by `geomsci wing train -o` (keys missing)")
    if ck["model"] not in MODELS:
        raise ValueError(f"load_cp_model: {path} holds an unknown model {ck['model']!r}; expected one of {sorted(MODELS)}")
    if ck.get("curvature_sign") != CURVATURE_SIGN:
        ck = _flip_curvature_sign(ck)
    norm = Normalizer(**ck["norm"])
    net = MODELS[ck["model"]](norm.mean.numel(), **ck.get("model_kw", {}))
    net.load_state_dict(ck["state"])
    net.eval()
    return net, norm, ck
