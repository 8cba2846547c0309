"""Every Python snippet of README.md and docs/*.md runs, at small settings, on every test run: the docs cannot drift.

Each snippet is executed as written except for the size substitutions in ``SMALL`` (grid resolutions, sample
counts, time budgets); a substitution that no longer matches any snippet fails the suite, so the table cannot
rot either. Files a snippet writes ("name.png", "name.vtu") must exist afterwards; every print must print.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# (pattern, replacement): the same code at sizes that run in about a second
SMALL = [
    (r"resolution=47", "resolution=15"),
    (r"tet_grid\(64\)", "tet_grid(16)"),
    (r"resolution=32, steps=150", "resolution=8, steps=2"),
    (r"make_split\(60,", "make_split(5,"),
    (r"make_split\(10,", "make_split(2,"),
    (r"make_split\(40, \"train\"\)", 'make_split(6, "train")'),
    (r"cv=5,", "cv=2,"),
    (r"MMGPRegressor\(\)", "MMGPRegressor(n_restarts=1, n_iter=20, n_polish=0, interval_calibration='none')"),
    (r"budget=20,", "budget=0.5,"),
    (r"n_collocation=1000, lbfgs_points=4000", "n_collocation=100, lbfgs_points=200"),
    (r"n_gaussians=100", "n_gaussians=16"),
    (r"range\(64\)\], \[1.0, 2.0\], mu=1e-2", "range(2)], [0.05, 0.1], mu=1e-1"),
    (r"\[FIGURE_EIGHT_PERIOD\], mu=3e-3", "[0.1 * FIGURE_EIGHT_PERIOD], mu=3e-2"),
    (r"\[FIGURE_EIGHT_PERIOD\], mu=6e-3", "[0.1 * FIGURE_EIGHT_PERIOD], mu=3e-2"),
    (r"paper_triple, 100_000, \[30.0\], \"runs/paper\", chunk_size=8192", 'paper_triple, 6, [0.05], "runs/paper", chunk_size=4'),
    (r"n_chord=20, n_span=10", "n_chord=8, n_span=4"),
]


def snippets():
    out = []
    for page in PAGES:
        blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)
        out += [pytest.param(page, code, id=f"{page.relative_to(ROOT)}#{i}") for i, code in enumerate(blocks)]
    return out


SNIPPETS = snippets()


def shrink(code: str) -> str:
    for pattern, replacement in SMALL:
        code = re.sub(pattern, replacement, code)
    return code


def test_every_substitution_is_used():
    for pattern, _ in SMALL:
        assert any(re.search(pattern, p.values[1]) for p in SNIPPETS), f"no snippet matches {pattern!r} any more"


@pytest.mark.filterwarnings("ignore:MMGPRegressor.*exceeds the .* modes")  # the small settings above, not the docs'
@pytest.mark.parametrize("page, code", SNIPPETS)
def test_snippet_runs(page, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stdout = io.StringIO()
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(stdout):
            exec(compile(shrink(code), f"{page.name} snippet", "exec"), {"__name__": "__snippet__"})
    finally:
        torch.set_num_threads(threads)  # a snippet may set it (the PIG one does)
    printed = [line for line in stdout.getvalue().splitlines() if line.strip()]
    assert len(printed) >= code.count("print("), stdout.getvalue()
    for name in re.findall(r"[\"']([\w.-]+\.(?:png|vtu|ply|obj))[\"']", code):
        assert (tmp_path / name).stat().st_size > 0, f"{name} was not written"
