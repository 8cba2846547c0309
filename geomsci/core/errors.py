"""Errors that mean "the input was wrong", as opposed to a bug in geomsci.

The command line (``geomsci ...``) reports an input error as one line on stderr and exit code 2,
and lets everything else through as a traceback, because an unexpected exception is a bug to be
reported, not a message for the user. Counted as input errors:

- :class:`InputError` (a ``ValueError``, so Python callers can keep catching ``ValueError``);
- ``ValueError`` raised by geomsci's own code (its validation messages name the argument, the
  value and what to do); a ``ValueError`` raised deep inside torch or numpy is not;
- file-system errors about the user's paths: ``FileNotFoundError``, ``FileExistsError``,
  ``IsADirectoryError``, ``NotADirectoryError``, ``PermissionError``.

``--traceback`` on the command line, or ``GEOMSCI_DEBUG=1``, shows the full traceback of any error.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

__all__ = ["InputError", "is_input_error", "debug_enabled"]

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


class InputError(ValueError):
    """Bad input (an argument, a file, an option): reported on the command line as one line, exit 2.

    >>> try:
    ...     raise InputError("--resolution must be at least 4, got 2")
    ... except ValueError as e:
    ...     print(e)
    --resolution must be at least 4, got 2
    """


def _raised_in_geomsci(exc: BaseException) -> bool:
    """True when the innermost frame of ``exc``'s traceback is a geomsci source file."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    return str(Path(frames[-1].filename).resolve()).startswith(_PACKAGE_DIR)


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` reports bad input (see the module docstring) rather than a bug.

    >>> is_input_error(InputError("bad"))
    True
    >>> is_input_error(KeyError("x"))
    False
    """
    if isinstance(exc, (InputError, *_FILE_ERRORS)):
        return True
    return isinstance(exc, ValueError) and _raised_in_geomsci(exc)


def debug_enabled() -> bool:
    """``GEOMSCI_DEBUG`` set to anything but '', '0', 'false' or 'no' (case-insensitive)."""
    return os.environ.get("GEOMSCI_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
