"""Run a function over samples: serially (default) or on a dask.distributed cluster.

Per-sample morphing and transfer are independent, so they scale out by mapping a picklable,
module-level function over the samples. Both paths return results in input order, so they give
identical results; the serial path shows a tqdm bar, the dask path one that ticks as futures finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm


def map_samples(
    fn: Callable[[Any], Any], items: Sequence[Any], *, scheduler=None, desc: str = "mmgp", progress: bool = True
) -> list:
    """``[fn(x) for x in items]``, serially or on dask.

    Parameters
    ----------
    fn : a module-level function (picklable for dask)
    items : the per-sample arguments
    scheduler : ``None`` (serial), a scheduler address such as ``'tcp://10.0.0.1:8786'``, or a
        ``distributed.Client``
    desc : progress-bar label; progress : show it
    """
    items = list(items)
    if scheduler is None:
        return [fn(x) for x in tqdm(items, desc=desc, disable=not progress, leave=False)]
    try:
        from distributed import Client, as_completed
    except ImportError as e:  # pragma: no cover - dask is an optional dependency
        raise ImportError(
            "map_samples: scheduler given but dask.distributed is not installed (pip install 'geomsci[dask]')"
        ) from e
    own = not isinstance(scheduler, Client)
    if own and not isinstance(scheduler, str):
        raise ValueError(
            f"map_samples: scheduler must be None, an address string or a distributed.Client, got {type(scheduler).__name__}"
        )
    client = Client(scheduler, timeout="10s") if own else scheduler
    try:
        futures = client.map(fn, items, pure=False)
        for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, disable=not progress, leave=False):
            pass
        return client.gather(futures)
    finally:
        if own:
            client.close()
