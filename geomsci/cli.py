"""The `geomsci` command line.

Each method subpackage contributes a command group (``geomsci/<pkg>/cli.py`` defines ``app``, a
``typer.Typer``) and a step of ``geomsci demo`` (a function ``demo(out_dir: Path) -> str`` in the
same module that writes its outputs under ``out_dir`` and returns a one-line summary).
Bad input exits with code 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import typer

app = typer.Typer(
    name="geomsci",
    help="Geometry and scientific machine learning on meshes and PDE surrogates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Method subpackages, in the order their demo steps run.
SUBPACKAGES = ["deepmesh", "mmgp", "pig", "gshell", "nbody", "wing"]


class InputError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""


def _subpackage_cli(name: str):
    try:
        return importlib.import_module(f"geomsci.{name}.cli")
    except ModuleNotFoundError as e:
        if e.name in (f"geomsci.{name}", f"geomsci.{name}.cli"):
            return None
        raise


for _name in SUBPACKAGES:
    _mod = _subpackage_cli(_name)
    if _mod is not None and hasattr(_mod, "app"):
        app.add_typer(_mod.app, name=_name)


@app.command()
def info(path: Path = typer.Argument(..., help="mesh file to describe")):
    """Print points, cells, fields, bounding box and topology (watertight, manifold, genus, boundary loops)."""
    from geomsci.core.summary import describe

    import geomsci

    mesh = geomsci.load(path)
    for key, value in describe(mesh).items():
        typer.echo(f"{key:>18}: {value}")


@app.command()
def convert(src: Path = typer.Argument(..., help="input mesh file"), dst: Path = typer.Argument(..., help="output mesh file")):
    """Convert a mesh file to another format (the extension picks it), keeping fields the format can hold."""
    import geomsci

    mesh = geomsci.load(src)
    geomsci.save(mesh, dst)
    typer.echo(f"wrote {dst} ({mesh.n_points} points, {mesh.n_cells} {mesh.cell_type or ''} cells)")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_output"), "--out", "-o", help="folder for the demo's meshes and PNGs"),
    only: str = typer.Option("", help="comma-separated steps to run (core,deepmesh,mmgp,pig,gshell,nbody,wing)"),
):
    """Run the showcase: one short step per subpackage, writing meshes and PNGs under OUT."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    steps = ["core"] + SUBPACKAGES
    chosen = [s for s in only.split(",") if s] or steps
    unknown = set(chosen) - set(steps)
    if unknown:
        raise InputError(f"unknown demo step(s) {sorted(unknown)}; choose from {steps}")
    typer.echo(f"geomsci demo: writing outputs to {out}")
    t_all = time.perf_counter()
    for step in steps:
        if step not in chosen:
            continue
        if step == "core":
            from geomsci.core.demo import demo as run_step
        else:
            mod = _subpackage_cli(step)
            if mod is None or not hasattr(mod, "demo"):
                continue
            run_step = mod.demo
        t0 = time.perf_counter()
        step_dir = out / step
        step_dir.mkdir(exist_ok=True)
        summary = run_step(step_dir)
        typer.echo(f"  [{step:>8}] {time.perf_counter() - t0:5.1f} s  {summary}")
    typer.echo(f"done in {time.perf_counter() - t_all:.1f} s; outputs in {out}")


def main(argv=None) -> None:
    """Entry point: run the app, turning bad input into one line and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except _INPUT_ERRORS as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        typer.echo(f"geomsci: error: {msg}", err=True)
        sys.exit(2)
    except Exception as e:
        # typer vendors its own click; match its exceptions by behaviour, not by class
        name = type(e).__name__
        if name == "Exit" and hasattr(e, "exit_code"):
            sys.exit(e.exit_code)
        if name == "Abort":
            sys.exit(130)
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(2)
        raise


_INPUT_ERRORS = (InputError, ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, KeyError, PermissionError)


if __name__ == "__main__":
    main()
