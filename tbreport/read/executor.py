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
            try:
                _check_workers(self._client, self.spec)
            except BaseException:
                self._client.close()
                self._client = None
                raise
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
            try:
                return list(self._client.gather(futures))
            except TbreportError as err:
                # a problem of the workers' environment (their credentials, their network):
                # said as such, since this process may not have it
                address = self.spec[len("dask://") :].rstrip("/")
                raise type(err)(f"On the Dask workers of {address}: {err.message}") from None
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


#: what each worker evaluates before it is sent any task: the version of its tbreport's read
#: stage (a builtin's call: nothing of tbreport is pickled, so a worker without tbreport
#: answers with the ImportError, where a task it cannot unpickle ends the worker, and the
#: scheduler waits for another without a word)
_PROBE = "__import__('tbreport.read.cache', fromlist=['code_version']).code_version('read')"


def _check_workers(client: Any, spec: str) -> None:
    """Raise ExecutorError unless the scheduler has workers that read as this process does."""
    from tbreport.read.cache import code_version

    address = spec[len("dask://") :].rstrip("/")
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise ExecutorError(
            f"The Dask scheduler at {address} has no workers (none joined in "
            f"{CONNECT_TIMEOUT} s). Start some (dask worker tcp://{address}) or leave out "
            "--executor to read with local threads."
        ) from None
    try:
        theirs = client.run(eval, _PROBE)
    except ImportError as err:
        raise ExecutorError(
            f"The Dask workers of {address} cannot import tbreport ({err}). Install tbreport, "
            "the same version as here, where the workers run (pip install "
            "'tbreport[dask]'), then restart them."
        ) from None
    ours = code_version("read")
    other = sorted({str(v) for v in theirs.values()} - {ours})
    if other:
        raise ExecutorError(
            f"The Dask workers of {address} run another tbreport ({', '.join(other)}) than this "
            f"one ({ours}); their reads could differ. Install this version where the workers "
            "run, then restart them."
        )
