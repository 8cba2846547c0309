import pytest
import torch

# One thread per test process: xdist already runs one worker per core, and oversubscribed
# threads stall small-tensor ops by an order of magnitude on a 2-core machine.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def device(request):
    """Run a test on the CPU and, where present, on CUDA with the same code."""
    return torch.device(request.param)
