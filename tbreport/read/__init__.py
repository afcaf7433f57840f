"""Read stage: a logdir path in, a :class:`~tbreport.model.Logdir` of numpy series out.

``discover`` finds the runs, ``records`` the TFRecord framing and checksums, ``events`` decodes
the records, ``runs`` applies the run-level rules (plugins, restarts, sub-runs).
"""

from __future__ import annotations

from tbreport.read.runs import read_logdir, read_run

__all__ = ["read_logdir", "read_run"]
