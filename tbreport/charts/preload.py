"""Charts stage, the chart workers' head start: imported by the fork server a
:class:`~tbreport.charts.ChartPool` starts, so every worker forked from it begins with
matplotlib imported and the default fonts' character maps read (most of a second, paid once
per build, in a process of its own while the logdir is read).
"""

from __future__ import annotations

from tbreport.charts import _warm_up

_warm_up(None)
