"""Run the ``geomsci`` command line in this process and return its exit code (shared by the mmgp CLI tests)."""

from geomsci.cli import main


def run_cli(args) -> int:
    """``geomsci ARGS`` in-process; the exit code (0 when the command returns without ``SystemExit``)."""
    try:
        main(args)
    except SystemExit as e:
        return e.code or 0
    return 0
