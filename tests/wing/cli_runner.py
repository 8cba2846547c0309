"""Run `geomsci wing ...` in-process for the wing CLI tests."""


def run_wing_cli(capsys, *args):
    """(exit code, stdout, stderr) of ``geomsci wing *args``; SystemExit is caught, its code returned."""
    from geomsci.cli import main

    try:
        main(["wing", *args])
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err
