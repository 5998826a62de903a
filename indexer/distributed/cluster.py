"""Connecting the driver to Ray: an existing cluster (``auto`` or an address) or a local one for the run."""

from __future__ import annotations

import logging
import os

__all__ = ["RayUnavailable", "connect"]


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def connect(address: str | None) -> None:
    """``ray.init`` quietly: no dashboard, Ray Data's own progress bars off (the indexer shows one)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailable("indexing on Ray needs Ray Data: pip install 'latentspace[ray]'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return
    kwargs = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RayUnavailable(f"cannot start or reach {where}: {exc}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
