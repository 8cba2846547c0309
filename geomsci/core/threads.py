"""How many CPU threads torch uses: one policy for the command line, the demo and the examples.

torch's default (one thread per core) oversubscribes a shared or busy machine: the small dense
algebra in geomsci (GP fits, PIG steps, marching cubes at moderate sizes) then runs several times
slower than on one thread, and reductions split over a varying number of threads round differently,
so seeded runs stop being repeatable. Everything that geomsci starts itself runs inside
``limit_threads()``; library calls leave the caller's setting alone.

The count comes from, in order: an explicit argument (``--threads`` on the command line), the
``GEOMSCI_THREADS`` environment variable, then :func:`default_threads`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

ENV_VAR = "GEOMSCI_THREADS"


def default_threads() -> int:
    """Half the cores this process may use, at least 1 and at most 8 (1 on a 2-core machine).

    Half leaves room for the interpreter, data loading and whatever else shares the machine; past 8
    the small kernels in geomsci stop scaling.
    """
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n_cpu = os.cpu_count() or 1
    return max(1, min(8, n_cpu // 2))


def resolve_threads(threads: int | None = None) -> int:
    """The thread count to use: ``threads`` if given, else ``$GEOMSCI_THREADS``, else the default.

    Raises ``ValueError`` naming the source when the value is not a positive integer.
    """
    if threads is None:
        raw = os.environ.get(ENV_VAR, "").strip()
        if not raw:
            return default_threads()
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(f"{ENV_VAR}={raw!r} is not an integer; set it to a thread count such as 1 or 4") from None
        source = f"{ENV_VAR}={raw}"
    else:
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        source = f"threads={threads}"
    if threads < 1:
        raise ValueError(f"{source}: the thread count must be at least 1")
    return threads


@contextlib.contextmanager
def limit_threads(threads: int | None = None) -> Iterator[int]:
    """Run a block with torch's intra-op thread count set, and restore the caller's count after.

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with limit_threads(1) as n:
    ...     torch.get_num_threads() == n == 1
    True
    >>> torch.get_num_threads() == before
    True
    """
    import torch

    n = resolve_threads(threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """Run a block with torch's deterministic algorithms on (warn-only), restoring the caller's mode after.

    On the CPU with more than one thread the backward of advanced indexing (``x[idx]`` becomes
    ``index_put_`` with accumulation) adds repeated indices in a racy order, so a seeded fit whose
    topology follows thresholds (G-Shell's nu, component clean-up) gave a different mesh on every run.
    The deterministic kernels cost nothing measurable there. Also usable as a decorator.
    """
    import torch

    was_on = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_on, warn_only=was_warn_only)
