"""Where output formats and data kinds are found: the built-in ones and those of packages.

Names are known without importing anything (``--help`` stays instant); an entry is imported
only when it is used. Packages add theirs through the entry point groups ``tbreport.formats``
and ``tbreport.kinds`` (``name = "package.module:object"``), see docs/extending.md.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tbreport.errors import TbreportError

FORMAT_GROUP = "tbreport.formats"
KIND_GROUP = "tbreport.kinds"

#: the built-in formats, by name: "module:attribute" of an object with the Format protocol
BUILTIN_FORMATS = {
    "html": "tbreport.formats.html:FORMAT",
    "jekyll": "tbreport.formats.jekyll:FORMAT",
    "markdown": "tbreport.formats.markdown:FORMAT",
}
#: the built-in data kinds, in report order
BUILTIN_KINDS = {
    "scalars": "tbreport.kinds.scalars:KIND",
    "histograms": "tbreport.kinds.histograms:KIND",
    "text": "tbreport.kinds.text:KIND",
    "images": "tbreport.kinds.images:KIND",
    "audio": "tbreport.kinds.audio:KIND",
    "pr_curves": "tbreport.kinds.pr_curves:KIND",
    "custom_scalars": "tbreport.kinds.custom_scalars:KIND",
    "hparams": "tbreport.kinds.hparams:KIND",
}


class PluginError(TbreportError):
    """An installed format or kind cannot be loaded."""


@cache
def _installed(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in _every_entry_point().select(group=group)}


@cache
def _every_entry_point() -> Any:
    """Every installed package's entry points, read once: each read scans every installed
    package's metadata (20-30 ms), and a build asks for two groups (formats, kinds). An
    ``EntryPoints`` (3.10 and 3.11: a ``SelectableGroups``); both ``select(group=...)``."""
    return entry_points()


def _names(builtin: dict[str, str], group: str) -> tuple[str, ...]:
    extra = sorted(name for name in _installed(group) if name not in builtin)
    return (*builtin, *extra)


def format_names(installed: bool = True) -> tuple[str, ...]:
    """The built-in formats, then (``installed``) those of installed packages."""
    return _names(BUILTIN_FORMATS, FORMAT_GROUP) if installed else tuple(BUILTIN_FORMATS)


def kind_names() -> tuple[str, ...]:
    return _names(BUILTIN_KINDS, KIND_GROUP)


def _load(name: str, builtin: dict[str, str], group: str, what: str) -> Any:
    if name in builtin:
        module, _, attr = builtin[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    entry = _installed(group).get(name)
    if entry is None:
        raise PluginError(f"No {what} named {name!r}. Known: {', '.join(_names(builtin, group))}.")
    try:
        return entry.load()
    except (ImportError, AttributeError) as err:
        package = entry.dist.name if entry.dist is not None else "<the package that provides it>"
        raise PluginError(
            f"The {what} {name!r} (entry point {entry.value!r} of group {group!r}, from the "
            f"package {package!r}) cannot be loaded: {err}. Install what it needs "
            f"(`pip install {package}`) or uninstall it (`pip uninstall {package}`)."
        ) from None


@cache
def get_format(name: str) -> Any:
    """The Format object named ``name`` (see :mod:`tbreport.formats`)."""
    return _load(name, BUILTIN_FORMATS, FORMAT_GROUP, "output format")


@cache
def get_kind(name: str) -> Any:
    """The Kind object named ``name`` (see :mod:`tbreport.kinds`)."""
    return _load(name, BUILTIN_KINDS, KIND_GROUP, "data kind")
