"""The `geomsci` command line.

Protocol shared by every subpackage:

- ``geomsci/<pkg>/cli.py`` defines ``app``, a ``typer.Typer`` (the ``geomsci <pkg> ...`` command
  group); it is imported only when that group runs, so ``geomsci --help`` answers without torch;
- ``geomsci/<pkg>/demo.py`` defines ``demo(out_dir: Path) -> str``, one step of ``geomsci demo``
  that writes its outputs under ``out_dir`` and returns a one-line summary;
- bad input (see :mod:`geomsci.core.errors`) exits with code 2 and one line on stderr; anything else
  is a bug and shows its traceback; ``--traceback`` or ``GEOMSCI_DEBUG=1`` shows it for every error;
- commands that do work take ``--threads`` (:mod:`geomsci.core.threads`) and never overwrite an
  existing output without ``--force``.
"""

from __future__ import annotations

import importlib
import sys
import time
import warnings
from pathlib import Path

import typer
from typer.core import TyperGroup

from geomsci import __version__
from geomsci.core.errors import InputError, debug_enabled, is_input_error

# Method subpackages, in the order their demo steps run, with the one-line help of their command
# group (the same text as each group's ``typer.Typer(help=...)``, checked by tests/core/test_cli.py),
# so that the root help lists them without importing them.
SUBPACKAGES = {
    "deepmesh": "Differentiable iso-surface extraction (marching cubes, DeepMesh).",
    "mmgp": "Mesh-morphing Gaussian-process surrogates (MMGP): fields and scalars on meshes of varying shape.",
    "pig": "Physics-Informed Gaussians: solve PDE problems with PIG or a PINN baseline.",
    "gshell": "Ghost-on-the-Shell: open and watertight surfaces from an SDF and a manifold SDF.",
    "nbody": "N-body integrators and learned time-step control (AU, yr, Msun; G = 4 pi^2).",
    "wing": "Riemannian surface features, wing panel-method Cp data and Cp learning.",
}
DEMO_STEPS = ["core", *SUBPACKAGES]

_options = {"traceback": False}


class LazyGroup(TyperGroup):
    """The root command group: subpackage groups are imported on first use, not at start-up."""

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands) + [name for name in SUBPACKAGES if name not in self.commands]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands and cmd_name in SUBPACKAGES:
            module = importlib.import_module(f"geomsci.{cmd_name}.cli")
            group = typer.main.get_group(module.app)
            for command in [group, *getattr(group, "commands", {}).values()]:
                command.rich_markup_mode = None  # plain help like the root's (and no rich import)
            self.commands[cmd_name] = group
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, cmd.get_short_help_str(120)) for name, cmd in self.commands.items() if not cmd.hidden]
        rows += [(name, help_) for name, help_ in SUBPACKAGES.items() if name not in self.commands]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="geomsci",
    cls=LazyGroup,
    help="Geometry and scientific machine learning on meshes and PDE surrogates.",
    epilog="Commands that compute take --threads N (default: $GEOMSCI_THREADS, else half the cores, at most 8) and "
    "refuse to overwrite an existing output without --force. Bad input: one line on stderr, exit code 2.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"geomsci {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="print the version and exit"),
    traceback: bool = typer.Option(False, "--traceback", help="show the full traceback of any error (also: GEOMSCI_DEBUG=1)"),
) -> None:
    """Geometry and scientific machine learning on meshes and PDE surrogates."""
    _options["traceback"] = traceback


_THREADS_HELP = "torch threads (default: $GEOMSCI_THREADS, else half the cores, at most 8)"


@app.command()
def info(
    path: Path = typer.Argument(..., help="mesh file to describe"),
    threads: int = typer.Option(None, "--threads", help=_THREADS_HELP),
):
    """Print points, cells, fields, bounding box and topology (watertight, manifold, genus, boundary loops)."""
    from geomsci.core.io import load
    from geomsci.core.summary import describe
    from geomsci.core.threads import limit_threads

    with limit_threads(threads):
        mesh = load(path)
        for key, value in describe(mesh).items():
            typer.echo(f"{key:>18}: {value}")


@app.command()
def convert(
    src: Path = typer.Argument(..., help="input mesh file"),
    dst: Path = typer.Argument(..., help="output mesh file"),
    force: bool = typer.Option(False, "--force", help="overwrite DST if it exists"),
    threads: int = typer.Option(None, "--threads", help=_THREADS_HELP),
):
    """Convert a mesh file to another format (the extension picks it), keeping fields the format can hold."""
    from geomsci.core.cli_checks import output_file
    from geomsci.core.io import load, save
    from geomsci.core.threads import limit_threads

    output_file(dst, force, "DST", example=src.name)
    with limit_threads(threads):
        mesh = load(src)
        save(mesh, dst)
    typer.echo(f"wrote {dst} ({mesh.n_points} points, {mesh.n_cells} {mesh.cell_type or ''} cells)")


def demo_step(step: str):
    """The ``demo(out_dir) -> str`` function of a demo step: ``geomsci.<step>.demo.demo``, falling back to
    ``geomsci.<step>.cli.demo`` for subpackages that still keep it there; None if the subpackage is absent."""
    for module_name in (f"geomsci.{step}.demo", f"geomsci.{step}.cli"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name in (f"geomsci.{step}", module_name):
                continue
            raise
        if hasattr(module, "demo"):
            return module.demo
    return None


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_output"), "--out", "-o", help="folder for the demo's meshes and PNGs"),
    only: str = typer.Option("", help=f"comma-separated steps to run ({','.join(DEMO_STEPS)})"),
    force: bool = typer.Option(False, "--force", help="write into OUT even if it already holds files"),
    threads: int = typer.Option(None, "--threads", help=_THREADS_HELP),
):
    """Run the showcase: one short step per subpackage, writing meshes and PNGs under OUT."""
    from geomsci.core.cli_checks import output_folder
    from geomsci.core.threads import limit_threads, resolve_threads

    chosen = [s.strip() for s in only.split(",") if s.strip()] or DEMO_STEPS
    unknown = [s for s in chosen if s not in DEMO_STEPS]
    if unknown:  # before anything is created
        raise InputError(f"--only: unknown demo step(s) {unknown}; choose from {','.join(DEMO_STEPS)}")
    n_threads = resolve_threads(threads)
    out = out.resolve()
    output_folder(out, force)
    out.mkdir(parents=True, exist_ok=True)
    typer.echo(f"geomsci demo: writing outputs to {out} ({n_threads} thread{'s' * (n_threads > 1)})")
    t_all = time.perf_counter()
    with limit_threads(n_threads):
        for step in DEMO_STEPS:
            if step not in chosen:
                continue
            run_step = demo_step(step)
            if run_step is None:
                typer.echo(f"  [{step:>8}] skipped: geomsci.{step} is not installed")
                continue
            t0 = time.perf_counter()
            step_dir = out / step
            step_dir.mkdir(exist_ok=True)
            try:
                summary = run_step(step_dir)
            except ModuleNotFoundError as e:  # an optional dependency, not a bug: say what to install
                if not e.name or e.name.split(".")[0] == "geomsci":
                    raise
                raise InputError(
                    f"the {step} demo step needs the optional package {e.name!r}: "
                    "pip install 'geomsci[demo]' (or run the other steps with --only)"
                ) from e
            typer.echo(f"  [{step:>8}] {time.perf_counter() - t0:5.1f} s  {summary}")
    typer.echo(f"done in {time.perf_counter() - t_all:.1f} s; outputs in {out}")


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as one line (category: message), without the source line that raised them."""
    return f"geomsci: {category.__name__}: {message}\n"


def main(argv=None) -> None:
    """Entry point: run the app; bad input becomes one line and exit code 2, bugs keep their traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["--help"]  # bare `geomsci`: the help, exit 0
    _options["traceback"] = "--traceback" in args  # also before the callback runs (errors while parsing)
    previous_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        app(args=args, prog_name="geomsci", standalone_mode=False)
    except Exception as e:
        # typer vendors its own click; match its exceptions by behaviour, not by class
        name = type(e).__name__
        if name == "Exit" and hasattr(e, "exit_code"):
            sys.exit(e.exit_code)
        if name == "Abort":
            sys.exit(130)
        if name == "NoArgsIsHelpError":  # `geomsci wing`: the group's help, exit 0
            typer.echo(e.format_message())
            sys.exit(0)
        if hasattr(e, "show") and hasattr(e, "exit_code"):  # usage errors: click's message
            e.show()
            sys.exit(e.exit_code)
        if _options["traceback"] or debug_enabled() or not is_input_error(e):
            raise
        if isinstance(e, OSError) and e.filename and e.strerror:
            msg = f"{e.filename}: {e.strerror}"
        else:
            msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e) or type(e).__name__
        typer.echo("geomsci: error: " + " ".join(msg.split()), err=True)
        sys.exit(2)
    finally:
        warnings.formatwarning = previous_format


if __name__ == "__main__":
    main()
