"""tbreport: static reports from TensorBoard run directories.

``read_logdir(path)`` reads every run under a logdir into numpy arrays; the ``tbreport`` command
builds Jekyll posts and standalone HTML reports from them.
"""

from __future__ import annotations

from tbreport.model import DataWarning, Logdir, Run, Series, TagCount

__version__ = "0.1.0"
__all__ = ["DataWarning", "Logdir", "Run", "Series", "TagCount", "read_logdir", "__version__"]


def read_logdir(path, *, restarts: str = "replace", verify_crc: bool = True) -> Logdir:  # noqa: ANN001
    """Read every run under ``path``; see :func:`tbreport.reader.read_logdir`."""
    from tbreport.reader import read_logdir as _read

    return _read(path, restarts=restarts, verify_crc=verify_crc)
