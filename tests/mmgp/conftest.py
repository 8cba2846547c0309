import contextlib

import pytest
import torch

from geomsci.mmgp.datasets import make_split

H = (0.08, 0.1)  # coarse meshes (~150-250 nodes) keep the default suite fast


@contextlib.contextmanager
def one_thread():
    """Small dense algebra: extra threads only add overhead on a shared CPU (restored afterwards)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def small_data():
    """16 train and 4 test plates with fields and scalars, coarse meshes."""
    with one_thread():
        train = make_split(16, "train", seed=3, h_range=H)
        test = make_split(4, "test", seed=3, h_range=H)
    return train, test


def _outputs_of(meshes, scalars, fields=("u2",)):
    out = {f: [m.point_data[f] for m in meshes] for f in fields}
    out["max_top_u2"] = scalars[:, 1]
    return out


@pytest.fixture(scope="session")
def small_model(small_data):
    from geomsci.mmgp.regressor import MMGPRegressor

    (mtr, xtr, ytr), _ = small_data
    model = MMGPRegressor(n_corners=4, n_shape_modes=3, field_energy=0.999, n_restarts=2, n_iter=40, n_polish=30, seed=0)
    with one_thread():
        return model.fit(mtr, xtr, _outputs_of(mtr, ytr, ("u1", "u2")))
