"""Where a batch's runs execute: in this process, a local process pool, or Dask.

Every executor maps one picklable function over run tasks and yields each outcome as
it completes. A run is a pure function of its task (scenario, overrides, seed, years,
scale), so results are identical whichever executor or however many workers run it;
only the order of completion differs, and the store is keyed, not ordered.

* ``inprocess``: one run after another in this process (debugging, profiling).
* ``pool``: a local process pool, all cores by default (``spawn`` start method, so
  workers never inherit a half-built parent state).
* ``dask``: a Dask ``distributed`` cluster: ``--scheduler ADDRESS`` connects to a
  running one (e.g. started by dask-jobqueue on an HPC cluster); otherwise a
  ``LocalCluster`` with one single-threaded worker process per core is started and
  stopped with the batch. Workers write results themselves, so remote workers need
  the results folder on a shared filesystem.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from sim.errors import SimInputError

EXECUTORS = ("inprocess", "pool", "dask")
Outcome = tuple[Any, Any, BaseException | None]
"""(task, the function's return value or None, the exception if the worker itself died)."""


def available_cores() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in a batch job)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Executor:
    """Runs ``fn`` over tasks, yielding ``(task, result, error)`` as each completes."""

    name = "executor"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or available_cores()

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def close(self) -> None:
        """Release workers; an executor is also a context manager."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Runs each task here, in order: tracebacks and debuggers work as usual."""

    name = "inprocess"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(1)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        for task in tasks:
            yield task, fn(task), None


class PoolExecutor(Executor):
    """A local process pool (``concurrent.futures``), one run per worker at a time."""

    name = "pool"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(workers)
        self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                         mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], None if error else future.result(), error

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Dask distributed: a running scheduler, or a LocalCluster started for the batch."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 processes: bool = True) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - dask is a dependency
            raise SimInputError(f"--executor dask: dask.distributed is not installed ({err}); "
                                "pip install 'dask[distributed]'") from None
        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as err:
                raise SimInputError(f"--scheduler: cannot connect to {scheduler!r} ({err}); "
                                    "allowed the address of a running Dask scheduler, e.g. "
                                    "tcp://10.0.0.5:8786") from None
            n = len(self._client.scheduler_info().get("workers", {}))
            super().__init__(workers or max(n, 1))
        else:
            super().__init__(workers)
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=processes, dashboard_address=None,
                                         silence_logs=logging.CRITICAL)
            self._client = Client(self._cluster)

    def describe(self) -> str:
        where = self.scheduler or "LocalCluster"
        return f"dask ({where}, {self.workers} worker{'s' if self.workers != 1 else ''})"

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        from distributed import as_completed as dask_completed

        tasks = list(tasks)
        futures = [self._client.submit(fn, task, pure=False, key=f"run-{task.key}")
                   for task in tasks]
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for future in dask_completed(futures):
            task = by_key[future.key]
            try:
                yield task, future.result(), None
            except Exception as err:  # the worker died (e.g. KilledWorker): record it
                yield task, None, err

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str | None = None, workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """An executor by name (default: the local pool, or Dask when a scheduler is given)."""
    if name is None:
        name = "dask" if scheduler else "pool"
    if name not in EXECUTORS:
        raise SimInputError(f"--executor: unknown executor {name!r} (allowed: "
                            f"{', '.join(EXECUTORS)})")
    if scheduler and name != "dask":
        raise SimInputError(f"--scheduler: only used with --executor dask (got --executor "
                            f"{name})")
    if workers is not None and workers < 1:
        raise SimInputError(f"--workers: {workers} is out of range; allowed a whole number >= 1")
    if name == "inprocess":
        return InProcessExecutor()
    if name == "pool":
        return PoolExecutor(workers)
    return DaskExecutor(workers, scheduler)
