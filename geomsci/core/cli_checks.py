"""Checks every ``geomsci`` command makes before it computes: outputs it must not overwrite, numbers out of range.

A command checks its outputs first, so a run of minutes never ends in "cannot write", and it never
replaces a user's file unless ``--force`` is given. The wording is the same in every subpackage
(docs/bad_input.md lists the messages); each check raises :class:`~geomsci.core.errors.InputError`,
which the command line reports as one line and exit code 2.

>>> from pathlib import Path
>>> output_file(Path("/nonexistent-dir/out.csv"), force=False)
PosixPath('/nonexistent-dir/out.csv')
>>> at_least("--resolution", 2, 4)
Traceback (most recent call last):
...
geomsci.core.errors.InputError: --resolution must be at least 4, got 2
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

__all__ = ["output_file", "mesh_output_file", "output_files", "output_folder", "at_least"]


def output_files(paths: Iterable[Path], force: bool, option: str = "-o/--out") -> None:
    """Refuse when any of ``paths`` exists and ``force`` is false (the files a command will write)."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not force:
        if len(existing) == 1:
            raise InputError(f"{option} {existing[0]} exists; pass --force to overwrite it, or choose another path")
        raise InputError(f"{option}: {', '.join(existing)} exist; pass --force to overwrite them, or choose another path")


def output_file(path: Path, force: bool, option: str = "-o/--out", example: str = "out") -> Path:
    """``path`` as a ``Path`` if a file may be written there: not a folder, not an existing file unless ``force``.

    ``example`` is the file name suggested when ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name, e.g. {path / example}")
    output_files([path], force, option)
    return path


def mesh_output_file(path: Path, force: bool, option: str = "-o/--out", example: str = "mesh.vtu") -> Path:
    """``output_file`` for a mesh: also refuses an extension ``geomsci.core.io.save`` cannot write, before any work."""
    from .io import MESH_EXTENSIONS  # here, not at the top: this module stays free of torch

    path = Path(path)
    if path.suffix.lower() not in MESH_EXTENSIONS:
        raise InputError(
            f"{option} {path}: unknown mesh format {path.suffix or '(no extension)'!r}; use one of {', '.join(MESH_EXTENSIONS)}"
        )
    return output_file(path, force, option, example)


def output_folder(path: Path, force: bool, option: str = "-o/--out") -> Path:
    """``path`` as a ``Path`` if a command may write its files into it: not a file, and empty unless ``force``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file, not a folder; give a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise InputError(
            f"{option} {path} already holds files; pass --force to write into it (files of the same name are replaced), "
            "or choose an empty folder"
        )
    return path


def at_least(option: str, value: float, minimum: float, unit: str = "") -> None:
    """Refuse ``value`` below ``minimum``; ``unit`` (e.g. ``" seconds"``) is appended to the bound."""
    if value < minimum:
        raise InputError(f"{option} must be at least {minimum}{unit}, got {value}")
