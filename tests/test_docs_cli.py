"""Every `geomsci ...` command line in docs/*.md runs, in page order, at small settings: the docs' command
examples cannot drift from the commands.

Each page's commands run in one working folder (later lines read what earlier ones wrote, as a user would
type them). A command runs as written, its trailing comment removed, with the size flags of ``SMALL``
appended (click keeps the last value of a repeated option) and the substitutions of ``REWRITE`` applied
(a GPU device becomes the CPU, paths into the repository become absolute). Lines that need a running dask
cluster are skipped and listed in ``SKIP``. Every command must exit 0.
"""

import re
import shlex
from pathlib import Path

import pytest

from geomsci.cli import main

ROOT = Path(__file__).resolve().parents[1]

# the first two words of a command -> flags appended to it
SMALL = {
    ("mmgp", "make-dataset"): "--n-train 6 --n-test 2 --n-ood 1 --h-min 0.08 --h-max 0.1",
    ("mmgp", "fit"): "--restarts 1 --iters 10 --polish 0 --interval-calibration none --shape-modes 2",
    ("mmgp", "cv"): "--restarts 1 --iters 5 --polish 0 --folds 2 --shape-modes 2 --kernels matern52 --amplitude-shape-modes 0",
    ("nbody", "run"): "--t-end 0.2",
    ("nbody", "ensemble"): "--n-systems 4 --chunk-size 2 --t-end 0.2",
    ("nbody", "train"): "--episodes 2 --parallel 2 --n-checks 3",
    ("nbody", "evaluate"): "--seeds 0-1 --t-end 0.3",
    ("pig", "solve"): "--iters 5",
    ("wing", "make-dataset"): "--wings 3 --test 1 --n-mach 1 --n-alpha 1 --n-chord 6 --n-span 4",
    ("wing", "train"): "--epochs 1",
}
REWRITE = [
    (r"--device cuda", "--device cpu"),
    (r"grid:201", "grid:5"),
    (r"(?<![\w/])assets/", str(ROOT / "assets") + "/"),
]
SKIP = ["--scheduler tcp://"]  # needs a running dask scheduler
PAGES = sorted((ROOT / "docs").glob("*.md"))


def commands(page: Path) -> list[str]:
    out = []
    for line in page.read_text().splitlines():
        line = line.strip()
        if not line.startswith("geomsci ") or any(s in line for s in SKIP):
            continue
        out.append(line.split("  #")[0].split(" # ")[0].strip())
    return out


CASES = [pytest.param(p, id=p.name) for p in PAGES if commands(p)]


def small(command: str, tmp: Path) -> list[str]:
    for pattern, replacement in REWRITE:
        command = re.sub(pattern, replacement, command)
    argv = shlex.split(command)[1:]
    argv += shlex.split(SMALL.get(tuple(argv[:2]), ""))
    return [a.replace("/tmp/", f"{tmp}/") for a in argv]


def test_every_small_setting_is_used():
    used = {tuple(shlex.split(c)[1:3]) for p in PAGES for c in commands(p)}
    assert set(SMALL) <= used, f"no docs command uses {sorted(set(SMALL) - used)} any more"


@pytest.mark.parametrize("page", CASES)
def test_docs_commands_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEOMSCI_THREADS", "1")
    for command in commands(page):
        argv = small(command, tmp_path)
        try:
            main(argv)
        except SystemExit as e:
            assert e.code in (0, None), f"`{command}` (run as {argv}) exited with {e.code}"
