"""Read stage, executor: where the reading tasks run, local threads or a Dask cluster.

Reading is a map over groups of runs (files in, compact arrays out). Locally the tasks run in
threads (numpy releases the GIL in the bulk work); ``dask://HOST:PORT`` sends them to the
workers of a running Dask distributed scheduler, which read from the storage themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from tbreport.errors import TbreportError
from tbreport.options import _executor

T = TypeVar("T")
R = TypeVar("R")

#: seconds to wait for the Dask scheduler to answer
CONNECT_TIMEOUT = 10


class ExecutorError(TbreportError):
    """The executor given cannot be used."""


class Executor:
    """Runs a function over items, in order, on threads or on a Dask cluster."""

    def __init__(self, spec: str | None = None) -> None:
        self.spec = spec or "threads"
        _executor(self.spec, "--executor")  # a ConfigError for a malformed value
        self._client: Any = None
        self.workers = os.cpu_count() or 1

    def __enter__(self) -> Executor:
        if self.spec != "threads":
            self._client = _connect(self.spec)
            self.workers = max(1, sum(self._client.nthreads().values()))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        items = list(items)
        if self._client is not None:
            futures = self._client.map(fn, items, pure=False)
            return list(self._client.gather(futures))
        workers = min(len(items), self.workers)
        if workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))


def _connect(spec: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError(
            f"--executor {spec} needs Dask distributed: pip install 'tbreport[dask]'."
        ) from None
    address = "tcp://" + spec[len("dask://") :].rstrip("/")
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except OSError as err:
        raise ExecutorError(
            f"Cannot reach the Dask scheduler at {address} ({err}). Start one (dask scheduler, "
            "then dask worker) or leave out --executor to read with local threads."
        ) from None
