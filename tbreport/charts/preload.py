"""Charts stage, the chart workers' head start: imported by the fork server a
:class:`~tbreport.charts.ChartPool` starts, so every worker forked from it begins with
matplotlib imported and the default fonts' character maps read (most of a second, paid once
per build, in a process of its own while the logdir is read).
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType

from tbreport.charts import _warm_up


def _end(signum: int, frame: FrameType | None) -> None:
    """The pool is closed (SIGTERM): reap the ended workers, so their CPU time counts in this
    process's and no zombie is left, and exit without the interpreter shutdown of a process
    holding matplotlib (a quarter of a second)."""
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    os._exit(0)


_warm_up(None)
signal.signal(signal.SIGTERM, _end)  # the workers set it back (``charts._init_worker``)
