"""Read stage: a logdir path in, a :class:`~tbreport.model.Logdir` of numpy series out.

``discover`` finds the runs, ``records`` the TFRecord framing and checksums, ``events`` decodes
the records, ``runs`` applies the run-level rules (plugins, restarts, sub-runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tbreport.read.runs import read_logdir, read_run

__all__ = ["read_logdir", "read_run"]


def __getattr__(name: str) -> Any:
    # the decoders only when something reads: a rebuild from the build cache reads nothing
    if name in __all__:
        from tbreport.read import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'tbreport.read' has no attribute {name!r}")
