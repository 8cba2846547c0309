"""The metrics follow the PLAID benchmark definitions (see geomsci/mmgp/metrics.py), on hand-computed cases."""

import math

import pytest
import torch

from geomsci.mmgp.metrics import coverage, q2, rrmse_field, rrmse_scalar


def test_rrmse_field_matches_plaid_definition_by_hand():
    # sample 1: N=2, U=(1,-4), V=(2,-4): ||U-V||^2 = 1, N ||U||_inf^2 = 2*16  -> 1/32
    # sample 2: N=4, U=(0,0,0,2), V=(1,1,1,1): ||U-V||^2 = 4, N ||U||_inf^2 = 4*4 -> 1/4
    true = [torch.tensor([1.0, -4.0]), torch.tensor([0.0, 0.0, 0.0, 2.0])]
    pred = [torch.tensor([2.0, -4.0]), torch.tensor([1.0, 1.0, 1.0, 1.0])]
    assert math.isclose(rrmse_field(true, pred), math.sqrt((1 / 32 + 1 / 4) / 2), rel_tol=1e-12)
    # the max norm is of |U| (a negative peak counts) and the error is relative per sample
    assert math.isclose(rrmse_field([10 * true[0]], [10 * pred[0]]), rrmse_field([true[0]], [pred[0]]), rel_tol=1e-12)


def test_rrmse_scalar_q2_coverage_by_hand():
    u, v = torch.tensor([2.0, -4.0, 5.0]), torch.tensor([1.0, -4.0, 6.0])
    assert math.isclose(rrmse_scalar(u, v), math.sqrt((0.25 + 0 + 0.04) / 3), rel_tol=1e-12)
    assert math.isclose(q2(u, u), 1.0)
    assert math.isclose(q2(u, torch.full_like(u, float(u.mean()))), 0.0, abs_tol=1e-12)
    assert math.isclose(coverage(u, v, torch.tensor([0.6, 0.1, 0.4])), 2 / 3)  # |err| 1, 0, 1 vs 1.96 std


def test_mismatched_lengths_are_refused():
    u = torch.tensor([2.0, -4.0, 5.0])
    with pytest.raises(ValueError, match=r"rrmse_scalar: need the same nonzero number of values .* \[3, 1\]"):
        rrmse_scalar(u, u[:1])  # was broadcast to a silent wrong value
    with pytest.raises(ValueError, match=r"q2: .* \[3, 2\]"):
        q2(u, u[:2])
    with pytest.raises(ValueError, match=r"q2: .* \[0, 0\]"):
        q2([], [])
    with pytest.raises(ValueError, match=r"coverage: .* \[3, 3, 2\]"):
        coverage(u, u, u[:2].abs())
    with pytest.raises(ValueError, match="std must be >= 0"):
        coverage(u, u, -u.abs())
    with pytest.raises(ValueError, match="sample 0 has 3 true values but 2 predicted"):
        rrmse_field([u], [u[:2]])
    # a (N, 1) prediction is compared node by node, not broadcast to (N, N)
    assert rrmse_field([u], [u[:, None]]) == 0.0
