"""Options: one object built once from the command line and an optional config file.

The config file is ``tbreport.toml`` (top-level keys) or the ``[tool.tbreport]`` table of
``pyproject.toml`` in the working directory, or a file given with ``--config``. Keys are the
long option names (``exclude-tags`` or ``exclude_tags``); command-line flags win.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from tbreport.errors import TbreportError

FORMATS = ("html", "jekyll", "markdown")
X_AXES = ("step", "relative", "wall")
IMAGE_FORMATS = ("png", "svg")
DIRECTIONS = ("min", "max", "none")


class ConfigError(TbreportError):
    """A config file or option value is wrong."""


@dataclass(frozen=True)
class Options:
    """Every build option, with its default."""

    runs_dir: str = "runs"
    out: str = "site"
    format: str = "html"
    title: str | None = None
    date: dt.datetime | None = None
    smoothing: float = 0.6
    x_axis: str = "step"
    log_y: str | None = None
    tags: str | None = None
    exclude_tags: str | None = None
    runs: str | None = None
    exclude_runs: str | None = None
    templates: str | None = None
    image_format: str = "png"
    strict: bool = False
    quiet: bool = False
    restarts: str = "replace"
    ignore_outliers: bool = True
    #: points drawn per line at most; longer series are thinned keeping extremes
    max_points: int = 1000
    #: Jekyll front matter
    layout: str = "post"
    categories: str = "ml reports"
    permalink: str | None = None
    #: ordered (tag regex, "min"|"max"|"none") pairs that override the guessed direction
    directions: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    jobs: int | None = None
    #: a logdir, or a regex on run names, whose runs are the baseline
    baseline: str | None = None
    #: relative change within which a tag counts as unchanged
    tolerance: float = 0.01
    #: ordered (tag regex, tolerance) pairs: tags that fail --fail-on-regression when worse
    gates: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    fail_on_regression: bool = False
    #: Markdown output: where the chart images will be hosted (no images without it)
    image_base_url: str | None = None
    #: Markdown output for $GITHUB_STEP_SUMMARY (1 MiB cap, appended) instead of a PR comment
    job_summary: bool = False
    #: ID in the hidden marker line, so CI can find and update its earlier comment
    marker_id: str = "report"
    #: replace files tbreport wrote that were edited since (never anyone else's)
    force: bool = False


_ALIASES = {f.name.replace("_", "-"): f.name for f in fields(Options)}


def _parse_date(value: object, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
            except ValueError:
                raise ConfigError(
                    f"{where}: cannot read date {text!r}. Use 'YYYY-MM-DD', "
                    "'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DD HH:MM:SS +HHMM'."
                ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the machine's timezone, made explicit
    return parsed.replace(microsecond=0)


def _tolerance(value: object, where: str) -> float:
    try:
        tol = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: tolerance must be a number such as 0.01 (1%).") from None
    if not 0 <= tol < 10:
        raise ConfigError(f"{where}: tolerance {tol} is out of range; use e.g. 0.01 for 1%.")
    return tol


def _check_regex(value: str | None, name: str) -> None:
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as err:
        raise ConfigError(
            f"--{name}: {value!r} is not a valid regular expression ({err})."
        ) from None


def _coerce(name: str, value: Any, where: str) -> Any:
    """Check and convert one option value (from the CLI or a config file)."""
    if value is None:
        return None
    if name == "date":
        return _parse_date(value, where)
    if name == "smoothing":
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: smoothing must be a number from 0 to 0.999.") from None
        if not 0 <= weight <= 0.999:
            raise ConfigError(
                f"{where}: smoothing {weight} is out of range; use 0 (none) to 0.999, "
                "as TensorBoard's slider."
            )
        return weight
    choices = {
        "format": FORMATS,
        "x_axis": X_AXES,
        "image_format": IMAGE_FORMATS,
        "restarts": ("replace", "keep-all"),
    }
    if name in choices:
        if value not in choices[name]:
            raise ConfigError(
                f"{where}: {name.replace('_', '-')} must be one of {', '.join(choices[name])}, "
                f"not {value!r}."
            )
        return value
    if name in ("log_y", "tags", "exclude_tags", "runs", "exclude_runs"):
        _check_regex(str(value), name.replace("_", "-"))
        return str(value)
    if name == "directions":
        if isinstance(value, Mapping):
            pairs = list(value.items())
        else:
            pairs = [tuple(p) for p in value]
        out = []
        for pattern, direction in pairs:
            _check_regex(str(pattern), "directions")
            if direction not in DIRECTIONS:
                raise ConfigError(
                    f"{where}: direction for {pattern!r} must be min, max or none, "
                    f"not {direction!r}."
                )
            out.append((str(pattern), str(direction)))
        return tuple(out)
    if name == "tolerance":
        return _tolerance(value, where)
    if name == "gates":
        pairs = list(value.items()) if isinstance(value, Mapping) else [tuple(p) for p in value]
        out_gates = []
        for pattern, tol in pairs:
            _check_regex(str(pattern), "gates")
            out_gates.append((str(pattern), _tolerance(tol, f"{where} {pattern!r}")))
        return tuple(out_gates)
    if name == "marker_id":
        text = str(value)
        if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", text):
            raise ConfigError(
                f"{where}: marker id {text!r} may use only letters, digits and . _ : - "
                "(it goes inside an HTML comment)."
            )
        return text
    if name == "image_base_url":
        text = str(value)
        if not re.match(r"https?://[^\s<>()\[\]\"']+$", text):
            raise ConfigError(
                f"{where}: image base URL must be an http(s) URL without spaces, quotes or "
                f"brackets, not {text!r}."
            )
        return text.rstrip("/") + "/"
    if name in ("strict", "quiet", "ignore_outliers", "fail_on_regression", "job_summary", "force"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {name.replace('_', '-')} must be true or false.")
        return value
    if name in ("max_points", "jobs"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}: {name.replace('_', '-')} must be a positive integer.")
        if name == "max_points" and value < 4:
            raise ConfigError(f"{where}: max-points must be at least 4.")
        return value
    return str(value)


def find_config(explicit: str | None, cwd: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The settings of the config file in force, and its path (None when there is none)."""
    cwd = cwd or Path.cwd()
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"Config file '{explicit}' does not exist.")
        data = _load_toml(path)
        if path.name == "pyproject.toml":
            return data.get("tool", {}).get("tbreport", {}), str(path)
        return data, str(path)
    own = cwd / "tbreport.toml"
    if own.is_file():
        return _load_toml(own), str(own)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = _load_toml(pyproject).get("tool", {}).get("tbreport")
        if table is not None:
            return table, str(pyproject)
    return {}, None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Config file '{path}' is not valid TOML: {err}.") from None


def make_options(cli: Mapping[str, Any], config: Mapping[str, Any], source: str | None) -> Options:
    """Options from config-file values overlaid with the flags given on the command line."""
    values: dict[str, Any] = {}
    for key, value in config.items():
        name = _ALIASES.get(key, key)
        if name not in _ALIASES.values():
            known = ", ".join(sorted(_ALIASES))
            raise ConfigError(f"{source}: unknown setting {key!r}. Known settings: {known}.")
        values[name] = _coerce(name, value, f"{source}: {key}")
    for name, value in cli.items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    return replace(Options(), **values)
