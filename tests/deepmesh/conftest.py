import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The deepmesh tests are many small ops: one intra-op thread is fastest and kind to neighbours."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
