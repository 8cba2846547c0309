import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The wing tests run small dense ops: one thread is faster than several on a shared CPU
    (no OpenMP barrier spinning), and the default suite then takes ~12 s instead of ~50 s."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
