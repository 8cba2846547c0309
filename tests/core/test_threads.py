"""The thread policy: explicit count, then GEOMSCI_THREADS, then half the cores; always restored."""

import pytest
import torch

from geomsci.core.threads import default_threads, limit_threads, resolve_threads


def test_explicit_count_wins_and_is_restored(monkeypatch):
    monkeypatch.setenv("GEOMSCI_THREADS", "3")
    before = torch.get_num_threads()
    with limit_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_environment_variable_then_default(monkeypatch):
    monkeypatch.setenv("GEOMSCI_THREADS", "2")
    assert resolve_threads() == 2
    monkeypatch.delenv("GEOMSCI_THREADS")
    assert resolve_threads() == default_threads() >= 1


def test_restored_after_an_exception():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with limit_threads(1):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", ["two", "0", "-1"])
def test_bad_environment_value_named(monkeypatch, bad):
    monkeypatch.setenv("GEOMSCI_THREADS", bad)
    with pytest.raises(ValueError, match="GEOMSCI_THREADS"):
        resolve_threads()


@pytest.mark.parametrize("bad", [0, 1.5, True])
def test_bad_argument_named(bad):
    with pytest.raises(ValueError, match="thread"):
        resolve_threads(bad)


def test_deterministic_algorithms_restores_the_mode():
    from geomsci.core.threads import deterministic_algorithms

    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
