"""benchmarks/gpu.py --quick: every row runs (small sizes, CPU) and the outputs are well formed, so the
device benchmark cannot rot between the rare runs on a GPU."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def _load():
    spec = importlib.util.spec_from_file_location("benchmarks_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_benchmark_quick_runs_every_row(tmp_path):
    gpu = _load()
    # a generous budget: CI machines are shared
    assert gpu.main(["--quick", "--budget", "900", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "gpu_bench.json").read_text())
    rows = data["rows"]
    paths = {r["path"] for r in rows}
    for wanted in (
        "marching cubes",
        "extract_surface",
        "G-Shell",
        "Chamfer chamfer_distance",
        "torch.cdist",
        "soft render",
        "Hermite",
        "BatchedGP",
        "solve_panels",
    ):
        assert any(wanted in p for p in paths), f"no row for {wanted}"
    errors = [(r["path"], r["size"], r["error"]) for r in rows if r["error"] or "error" in r["note"].lower()]
    assert not errors, errors
    assert all(r["ms"] > 0 and r["cpu_ms"] > 0 and r["cpu_ratio"] > 0 for r in rows)
    table = (tmp_path / "performance.md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row


def test_gpu_benchmark_budget_skips_rows_and_errors_become_rows(tmp_path, monkeypatch):
    gpu = _load()

    def broken(device):
        raise RuntimeError("boom")

    specs = gpu.row_specs(True)[:2]
    specs[0] = dict(specs[0], build=broken)
    monkeypatch.setattr(gpu, "row_specs", lambda quick: specs)
    assert gpu.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "gpu_bench.json").read_text())["rows"]
    assert rows[0]["error"] == "RuntimeError: boom" and rows[1]["ms"] > 0
    assert gpu.main(["--quick", "--budget", "0", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "gpu_bench.json").read_text())["rows"]
    assert all(r["ms"] is None and "budget" in r["note"] for r in rows)


@pytest.mark.parametrize(
    "goal,row,met",
    [
        ({"ms": 5.0}, {"ms": 4.0}, True),
        ({"ms": 5.0}, {"ms": 6.0}, False),
        ({"throughput": 1e8}, {"ms": 1.0, "throughput": 2e8}, True),
        ({"ms": 50.0, "peak_mb": 2048.0}, {"ms": 10.0, "peak_mb": None}, None),
    ],
)
def test_goal_check(goal, row, met):
    assert _load()._goal_met(goal, row) is met
