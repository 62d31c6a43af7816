"""Where sweep jobs run: a local spawn-started process pool or Ray tasks; both yield (job, result) as
jobs finish."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from har_edge.errors import InputError

ENGINES = ("local", "ray")


class LocalEngine:
    """A spawn-started process pool (TensorFlow is not fork-safe)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, function: Callable, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(function, *job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


def start_ray(address: str | None, workers: int, env: dict[str, str] | None = None) -> bool:
    """Connect to the cluster at ``address`` or start a local Ray with ``workers`` CPUs, unless Ray is
    already up; ``env`` goes to every worker. Ray's own log lines are kept off the terminal. Returns
    whether this call started it (the caller then shuts it down)."""
    try:
        import ray
    except ImportError as exc:
        raise InputError('--engine ray needs Ray: pip install "har-edge[ray]"') from exc
    if ray.is_initialized():
        return False
    import logging

    options = {"address": address} if address else {"num_cpus": workers}
    if env:
        options["runtime_env"] = {"env_vars": env}
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, **options)
    return True


class RayEngine:
    """Ray tasks on a cluster at ``address``, or on a local Ray started in-process (``workers`` CPUs)."""

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InputError('--engine ray needs Ray: pip install "har-edge[ray]"') from exc
        self.ray = ray
        self.workers = workers
        self.address = address

    def run(self, function: Callable, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        ray = self.ray
        started_here = start_ray(self.address, self.workers)
        try:
            remote = ray.remote(num_cpus=1)(function)
            pending = {remote.remote(*job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            if started_here:
                ray.shutdown()


def make_engine(engine: str, workers: int, address: str | None = None):
    if engine == "local":
        if address:
            raise InputError("--address is for --engine ray")
        return LocalEngine(workers)
    if engine == "ray":
        return RayEngine(workers, address)
    raise InputError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
