"""Fixtures shared by the wing tests."""

import pytest

from geomsci.wing.dataset import make_dataset


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A dataset of 4 random wings (1 held out) x 2 flight conditions at a coarse panel grid, made once per run."""
    folder = tmp_path_factory.mktemp("wingdata")
    make_dataset(folder, n_wings=4, n_test=1, n_mach=1, n_alpha=2, n_chord=6, n_span=3, seed=3, progress=False)
    return folder
