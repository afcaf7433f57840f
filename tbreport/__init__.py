"""tbreport: static reports from TensorBoard run directories.

``read_logdir(path)`` reads every run under a logdir into numpy arrays; ``build(Options(...))``
builds a report; the ``tbreport`` command does both. Names are imported on first use, so
``import tbreport`` (and ``tbreport --help``) stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "read_logdir": "tbreport.read",
    "to_dataframe": "tbreport.export",
    "build": "tbreport.pipeline",
    "BuildResult": "tbreport.pipeline",
    "RegressionError": "tbreport.pipeline",
    "Options": "tbreport.options",
    "TbreportError": "tbreport.errors",
    "DataWarning": "tbreport.model",
    "Logdir": "tbreport.model",
    "Run": "tbreport.model",
    "Series": "tbreport.model",
    "TagCount": "tbreport.model",
    "WarningKind": "tbreport.model",
    # notebooks: `tbreport.show(...)`, and `%load_ext tbreport` looks this up on the package
    "show": "tbreport.notebook",
    "NotebookReport": "tbreport.notebook",
    "load_ipython_extension": "tbreport.notebook",
}
__all__ = [*_EXPORTS, "__version__"]

# (tbreport.notebook is left out: it sits above the CLI, which imports this package)
if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports them
    from tbreport.errors import TbreportError  # noqa: F401
    from tbreport.export import to_dataframe  # noqa: F401
    from tbreport.model import DataWarning, Logdir, Run, Series, TagCount, WarningKind  # noqa: F401
    from tbreport.options import Options  # noqa: F401
    from tbreport.pipeline import BuildResult, RegressionError, build  # noqa: F401
    from tbreport.read import read_logdir  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tbreport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
