"""Options: the one spec of every build option, and the object built once from it.

Each field of :class:`Options` carries its whole declaration (CLI flag, help, allowed values,
check) in its metadata. The click options of ``tbreport build`` and ``ls``, the config-file keys,
validation and the README's option table are all made from it, so they cannot drift apart.

The config file is ``tbreport.toml`` (top-level keys) or the ``[tool.tbreport]`` table of
``pyproject.toml`` in the working directory, or a file given with ``--config``. Keys are the
long option names (``exclude-tags`` or ``exclude_tags``); command-line flags win.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from tbreport.errors import TbreportError
from tbreport.names import did_you_mean
from tbreport.registry import format_names

X_AXES = ("step", "relative", "wall")
IMAGE_FORMATS = ("png", "svg")
DIRECTIONS = ("min", "max", "none")
RESTART_MODES = ("replace", "keep-all")
FALLBACKS = ("images", "none")
EXPORT_FORMATS = (".csv", ".jsonl", ".parquet")
CENTERS = ("mean", "median")
BANDS = ("std", "sem", "ci95", "minmax", "iqr")
GROUP_VERDICTS = ("spread", "tolerance")


class ConfigError(TbreportError):
    """A config file or option value is wrong."""


Check = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Spec:
    """How one option is given, checked and documented."""

    help: str
    #: the CLI flag; None for options set only in the config file (tables such as [gates])
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    #: "str", "float", "int", "flag" (on/off), "switch" (--x/--no-x), "choice", "table"
    type: str = "str"
    #: allowed values of a "choice"; a callable gives them lazily (formats from plugins):
    #: ``choices(installed=False)`` is the built-in ones only (for the README)
    choices: tuple[str, ...] | Callable[..., tuple[str, ...]] = ()
    #: converts and validates a value from the CLI or the config file
    check: Check | None = None
    #: README wording of the default, when the plain value would not say it
    default_text: str | None = None
    #: commands besides `build` that take this option
    commands: tuple[str, ...] = ("build",)

    def allowed(self, installed: bool = True) -> tuple[str, ...]:
        return self.choices(installed=installed) if callable(self.choices) else self.choices


def _opt(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field whose metadata declares the option (defaults are immutable)."""
    return field(default=default, metadata={"spec": Spec(help, **spec)})


# --- checks (each converts a CLI or config value; ``where`` names it in errors) -----------


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


def _weight(value: object, where: str) -> float:
    try:
        weight = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: smoothing must be a number from 0 to 0.999.") from None
    if not 0 <= weight <= 0.999:
        raise ConfigError(
            f"{where}: smoothing {weight} is out of range; use 0 (none) to 0.999, "
            "as TensorBoard's slider."
        )
    return weight


def _tolerance(value: object, where: str) -> float:
    try:
        tol = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: tolerance must be a number such as 0.01 (1%).") from None
    if not 0 <= tol < 10:
        raise ConfigError(f"{where}: tolerance {tol} is out of range; use e.g. 0.01 for 1%.")
    return tol


def _regex(value: object, where: str) -> str:
    if isinstance(value, bool | list | tuple | dict):  # str() of a list is a character class
        raise ConfigError(f"{where}: give one regular expression (text), not {value!r}.")
    text = str(value)
    try:
        re.compile(text)
    except re.error as err:
        raise ConfigError(f"{where}: {text!r} is not a valid regular expression ({err}).") from None
    return text


def _categories(value: object, where: str) -> str:
    """Jekyll's categories: words separated by spaces, or a YAML list of them (a post's
    front matter ``categories: [ml, reports]``)."""
    items = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(item, bool | list | tuple | dict) or item is None for item in items):
        raise ConfigError(
            f"{where}: categories are words (`ml reports`) or a list of them, not {value!r}."
        )
    return " ".join(str(item).strip() for item in items if str(item).strip())


def _names(value: object, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ConfigError(f"{where}: give one or more hyperparameter names, e.g. `lr,batch`.")
    return names


def _pairs(value: object) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return list(value.items())
    return [tuple(p) for p in value]  # type: ignore[attr-defined, misc]


def _directions(value: object, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for pattern, direction in _pairs(value):
        _regex(pattern, f"{where} {pattern!r}")
        if direction not in DIRECTIONS:
            raise ConfigError(
                f"{where}: direction for {pattern!r} must be min, max or none, not {direction!r}."
            )
        out.append((str(pattern), str(direction)))
    return tuple(out)


def _gates(value: object, where: str) -> tuple[tuple[str, float], ...]:
    return tuple(
        (_regex(pattern, f"{where} {pattern!r}"), _tolerance(tol, f"{where} {pattern!r}"))
        for pattern, tol in _pairs(value)
    )


def _marker_id(value: object, where: str) -> str:
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", text):
        raise ConfigError(
            f"{where}: marker id {text!r} may use only letters, digits and . _ : - "
            "(it goes inside an HTML comment)."
        )
    return text


def _base_url(value: object, where: str) -> str:
    text = str(value)
    # a folder's URL: each image's file name is appended, which a query or fragment would swallow
    if not re.match(r"https?://[^\s<>()\[\]\"'/?#]+(?:/[^\s<>()\[\]\"'?#]*)?$", text):
        raise ConfigError(
            f"{where}: image base URL must be an http(s) URL of a folder, with a host and "
            f"without spaces, quotes, brackets, query (?) or fragment (#), not {text!r}."
        )
    return text.rstrip("/") + "/"


def _max_points(value: object, where: str) -> int:
    number = _positive(value, where)
    if number < 4:
        raise ConfigError(f"{where}: max-points must be at least 4.")
    return number


def _non_negative(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: must be a whole number, 0 or more.")
    return value


def _positive(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where}: must be a positive integer.")
    return value


#: ``--executor dask://HOST:PORT``: a running Dask distributed scheduler
DASK_URL = re.compile(r"^dask://([^/\s:]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})/?$")


def _executor(value: object, where: str) -> str:
    text = str(value)
    if text == "threads" or DASK_URL.match(text):
        return text
    raise ConfigError(
        f"{where}: {text!r} is not an executor. Use 'threads' (the default) or "
        "'dask://HOST:PORT' (a running Dask scheduler, e.g. dask://127.0.0.1:8786)."
    )


#: an fsspec URL (``s3://bucket/runs``, ``memory://x``, ``file:///tmp/runs``): a logdir may be
#: one (tbreport/read/storage.py reads it); the files tbreport writes go to local folders
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL (``s3://...``) rather than a local path."""
    return bool(URL.match(os.fspath(path)))


def _local(text: str, where: str, what: str) -> None:
    if is_url(text):
        raise ConfigError(
            f"{where}: {text!r} is a URL, but tbreport writes {what} on this machine. Give a "
            "local path, then copy it (e.g. aws s3 cp --recursive, gsutil -m cp -r)."
        )


def _export_file(value: object, where: str) -> str:
    text = str(value)
    _local(text, where, "the export")
    if not text.lower().endswith(EXPORT_FORMATS):
        raise ConfigError(
            f"{where}: {text!r} should end in {', '.join(EXPORT_FORMATS)} (the format is "
            "taken from the name)."
        )
    return text


#: names that say a file, where ``--out`` takes the folder a report goes into
_FILE_SUFFIXES = (".html", ".htm", ".md", ".markdown")


def _out_folder(value: object, where: str) -> str:
    text = str(value)
    _local(text, where, "the report")
    if text.lower().endswith(_FILE_SUFFIXES) and not Path(text).is_dir():
        raise ConfigError(
            f"{where}: {text!r} looks like a file name, but the output is a folder (the report "
            f"would be {text}/index.html, {text}/report.md or a Jekyll site in it). Give a "
            "folder, e.g. site (a folder that already has that name is used as given)."
        )
    return text


def _port(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(f"{where}: must be a port number from 1 to 65535, or 0 for a free one.")
    return value


def _megabytes(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}: must be a size in MB above 0, e.g. 4 or 0.5.")
    return float(value)


# --- the spec -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Every build option, with its default and its declaration."""

    #: the logdir: the command's argument (or `runs-dir` in the config file)
    runs_dir: str = "runs"
    format: str = _opt(
        "html",
        "`html` (default): `OUT/index.html`, one file with CSS, charts and data inline, no "
        "network; opens from `file://`, fine as a CI artifact or email attachment; charts are "
        "drawn in the browser from the data in the page (docs/html-report.md), each with its "
        "static image for readers without scripts. "
        "`jekyll`: `OUT/_posts/YYYY-MM-DD-<slug>.md` and `OUT/assets/images/<slug>/`; if `OUT` "
        "is not yet a Jekyll site, a minimal GitHub Pages one is created (`_config.yml` with "
        "`theme: minima`, an index) without touching existing files. `markdown`: "
        "`OUT/report.md` for a pull request or job summary (see below).",
        flag="--format",
        type="choice",
        choices=format_names,
    )
    out: str = _opt(
        "site", "output folder", flag="--out", metavar="DIR", default_text="site/",
        check=_out_folder,
    )  # fmt: skip
    title: str | None = _opt(
        None,
        "report title (default: names the runs compared, or counts them). A Jekyll post's file "
        "name and address come from it: give one to keep them when runs come or go (a new "
        "default title makes a new post beside the old one)",
        flag="--title",
    )
    date: dt.datetime | None = _opt(
        None,
        "post date, e.g. `2021-05-24 20:41:00 -0400` (default: the time of the newest record "
        "in the runs, else now; a future date is refused because Jekyll skips future posts)",
        flag="--date",
        check=_parse_date,
        default_text="newest record",
    )
    source: str | None = _opt(
        None,
        "a Markdown post to build around the charts: your words, and code blocks with the info "
        "string `tbreport` naming what to show (charts, tables, runs, hparams, images, notes...); "
        "its front matter sets title, date, layout, categories and permalink unless given here; "
        "`tbreport draft` writes one to start from (docs/authoring.md)",
        flag="--source",
        metavar="FILE",
    )
    layout: str = _opt("post", "Jekyll front matter layout", flag="--layout")
    categories: str = _opt(
        "ml reports", "Jekyll front matter categories", flag="--categories", check=_categories
    )
    permalink: str | None = _opt(None, "Jekyll front matter permalink", flag="--permalink")
    smoothing: float = _opt(
        0.6,
        "TensorBoard's smoothing weight, 0 to 0.999; 0 draws raw values only",
        flag="--smoothing",
        metavar="W",
        type="float",
        check=_weight,
        commands=("build", "export"),
    )
    x_axis: str = _opt(
        "step", "x axis, as in TensorBoard", flag="--x-axis", type="choice", choices=X_AXES
    )
    log_y: str | None = _opt(
        None, "log-scale y for tags matching this regex", flag="--log-y", metavar="REGEX",
        check=_regex,
    )  # fmt: skip
    tags: str | None = _opt(
        None, "only tags matching this regex (`re.search`)", flag="--tags", metavar="REGEX",
        check=_regex, commands=("build", "export"),
    )  # fmt: skip
    exclude_tags: str | None = _opt(
        None, "leave out tags matching this regex", flag="--exclude-tags", metavar="REGEX",
        check=_regex, commands=("build", "export"),
    )  # fmt: skip
    runs: str | None = _opt(
        None, "only runs matching this regex", flag="--runs", metavar="REGEX", check=_regex,
        commands=("build", "export"),
    )  # fmt: skip
    exclude_runs: str | None = _opt(
        None, "leave out runs matching this regex", flag="--exclude-runs", metavar="REGEX",
        check=_regex, commands=("build", "export"),
    )  # fmt: skip
    templates: str | None = _opt(
        None,
        "folder of Jinja2 templates overriding the built-in ones "
        '(`{% extends "default/report.html.j2" %}` reaches the original)',
        flag="--templates",
        metavar="DIR",
    )
    image_format: str = _opt(
        "png", "chart image format", flag="--image-format", type="choice", choices=IMAGE_FORMATS
    )
    restarts: str = _opt(
        "replace",
        "`replace`: as TensorBoard, a record at step s replaces that series' earlier records at "
        "steps >= s; `keep-all`: keep every record. A record repeated right after itself (same "
        "step and value, as Lightning logs `epoch`) is a duplicate, not a restart: `replace` "
        "keeps one, and either mode notes the count",
        flag="--restarts",
        type="choice",
        choices=RESTART_MODES,
        commands=("build", "ls", "export"),
    )
    executor: str = _opt(
        "threads",
        "where runs are read: `threads` (local), or `dask://HOST:PORT`, the workers of a "
        "running Dask scheduler, which read the storage directly (`pip install "
        "'tbreport[dask]'`)",
        flag="--executor",
        metavar="threads|dask://HOST:PORT",
        check=_executor,
        commands=("build", "ls", "export"),
    )
    ignore_outliers: bool = _opt(
        True,
        "y range from TensorBoard's 5th to 95th percentile of the raw points, widened to hold "
        "every smoothed point and each run's last point (raw points beyond it are dotted on the "
        "edge and counted in the caption); `--no-ignore-outliers`: over all values",
        flag="--ignore-outliers",
        type="switch",
        default_text="on",
    )
    group: str | None = _opt(
        None,
        "group runs into seeds of one setting: runs whose names give the same key form a group, "
        "drawn as one centre line with a band; the key is the regex's named group `key` if it "
        "has one, else the run name with the match removed (`_seed\\d+` groups `lr0.1_seed1` "
        "and `lr0.1_seed2` as `lr0.1`)",
        flag="--group",
        metavar="REGEX",
        check=_regex,
        commands=("build", "export"),
    )
    group_by: tuple[str, ...] = _opt(
        (),
        "group hparams trials by the values of these hyperparameters (comma-separated)",
        flag="--group-by",
        metavar="HPARAM[,HPARAM]",
        check=_names,
        default_text="none",
    )
    colour_by: str | None = _opt(
        None,
        "colour each run (or group) by this numeric hyperparameter on the viridis colormap "
        "(low dark, high light; a log scale when the values are positive and span 20x or "
        "more), with a colour bar under each chart's legend; runs without it are grey. "
        "Without it: the colour-blind-safe palette while it holds the runs or groups shown, "
        "past that the rank of each one's last value of the primary metric (best darkest)",
        flag="--colour-by",
        metavar="HPARAM",
    )
    center: str = _opt(
        "mean",
        "groups: the line drawn per group and step",
        flag="--center",
        type="choice",
        choices=CENTERS,
    )
    band: str = _opt(
        "std",
        "groups: the shaded band, `std` (centre ± sample standard deviation), `sem` (± standard "
        "error), `ci95` (± Student-t 95% interval of the mean), `minmax` or `iqr` (25th to 75th "
        "percentile)",
        flag="--band",
        type="choice",
        choices=BANDS,
    )
    show_runs: bool = _opt(
        False, "groups: draw each member run faint under its group", flag="--show-runs", type="flag"
    )
    top_runs: int = _opt(
        20,
        "runs tables of more runs show these first, best first by the primary metric (the first "
        "`[gates]` tag, else the tag with a direction most runs hold; its last value gets a "
        "column) and collapse the rest under a `<details>` (Markdown: a line says how many "
        "more); the HTML report's script pages, sorts and filters the whole table",
        flag="--top-runs",
        metavar="N",
        type="int",
        check=_positive,
    )
    #: points drawn per line at most; longer series are thinned keeping extremes
    max_points: int = _opt(
        1000,
        "points drawn per line at most; longer series are thinned keeping extremes",
        flag="--max-points",
        metavar="N",
        type="int",
        check=_max_points,
    )
    image_steps: int = _opt(
        3,
        "logged images and audio: steps shown per run and tag besides the first and the last, "
        "evenly spaced",
        flag="--image-steps",
        metavar="N",
        type="int",
        check=_non_negative,
    )
    #: HTML: what a reader without scripts sees in place of each browser-drawn chart
    fallback: str = _opt(
        "images",
        "HTML: `images` keeps each chart's static image for readers without scripts (the script "
        "replaces it); `none` leaves those images out (smaller, faster; the page says the "
        "charts need scripts; the tables and the images the script does not replace remain)",
        flag="--fallback",
        type="choice",
        choices=FALLBACKS,
    )
    #: notebooks: the cap on a cell's output (the report and the static copy of its charts)
    max_size: float = _opt(
        4.0,
        "notebook (`%tbreport`, `tbreport.show`): the cell output's size cap in MB; static "
        "images that do not fit are left out and the cell says so",
        flag="--max-size",
        metavar="MB",
        type="float",
        check=_megabytes,
        commands=("notebook",),
    )
    #: HTML: today's report with static images only and no script at all
    static: bool = _opt(
        False,
        "HTML: static chart images and CSV data links only, no script at all",
        flag="--static",
        type="flag",
    )
    #: embed every point instead of --max-points per line
    full_data: bool = _opt(
        False,
        "HTML and `--interactive`: the page holds every point of every line (not thinned to "
        "`--max-points`; the images then draw every point too)",
        flag="--full-data",
        type="flag",
    )
    #: Jekyll: browser-drawn charts in the post (script and data under assets/)
    interactive: bool = _opt(
        False,
        "Jekyll: the post gets the HTML report's interactive charts (script and data under "
        "`assets/`, the images kept as fallback and for feeds)",
        flag="--interactive",
        type="flag",
    )
    cache: str | None = _opt(
        None,
        "cache folder: decoded event files (a file that grew decodes only its new bytes) and "
        "chart images, so an unchanged rebuild reads and draws nothing; made with mode 0700",
        flag="--cache",
        metavar="DIR",
        default_text="`$XDG_CACHE_HOME/tbreport`, else `~/.cache/tbreport`",
        commands=("build", "ls", "export"),
    )
    no_cache: bool = _opt(
        False,
        "neither read nor write the cache folder",
        flag="--no-cache",
        type="flag",
        commands=("build", "ls", "export"),
    )
    jobs: int | None = _opt(
        None,
        "chart-drawing processes",
        flag="--jobs",
        metavar="N",
        type="int",
        check=_positive,
        default_text="all cores",
    )
    strict: bool = _opt(False, "warnings from reading fail the build", flag="--strict", type="flag")
    force: bool = _opt(
        False,
        "replace a file tbreport wrote that was edited since (a Jekyll post changed by hand); "
        "without it the build stops and keeps the edit. Files tbreport did not write are never "
        "replaced",
        flag="--force",
        type="flag",
        commands=("build", "export"),
    )
    quiet: bool = _opt(
        False,
        "no progress bar or notes (for CI)",
        flag="--quiet",
        short="-q",
        type="flag",
        commands=("build", "publish"),
    )
    #: a logdir, or a regex on run names, whose runs are the baseline
    baseline: str | None = _opt(
        None,
        "baseline runs: another logdir (e.g. main's), or a regex on run names; see below",
        flag="--baseline",
        metavar="DIR_OR_REGEX",
    )
    #: relative change within which a tag counts as unchanged
    tolerance: float = _opt(
        0.01,
        "relative change within which a tag counts as unchanged",
        flag="--tolerance",
        type="float",
        check=_tolerance,
    )
    group_verdict: str = _opt(
        "spread",
        "groups against a baseline (candidate group vs the baseline group of the same key, on "
        "the centre of their runs' last values): `spread`, a difference within the groups' "
        "spread is unchanged, not a regression, as is one within the tolerance (std, sem, "
        "ci95: the centres differ by at most both half-widths added in quadrature; minmax, "
        "iqr: the intervals overlap); `tolerance`, only the tolerance (`--tolerance`, "
        "`[gates]`) decides",
        flag="--group-verdict",
        type="choice",
        choices=GROUP_VERDICTS,
    )
    fail_on_regression: bool = _opt(
        False,
        "exit 1 when a gate tag (config `[gates]`) is worse than the baseline",
        flag="--fail-on-regression",
        type="flag",
    )
    #: Markdown output: where the chart images will be hosted (no images without it)
    image_base_url: str | None = _opt(
        None,
        "Markdown: URL where the chart images will be hosted (no images without it)",
        flag="--image-base-url",
        metavar="URL",
        check=_base_url,
    )
    #: Markdown output for $GITHUB_STEP_SUMMARY (1 MiB cap, appended) instead of a PR comment
    job_summary: bool = _opt(
        False,
        "Markdown: 1 MiB cap, and append to `$GITHUB_STEP_SUMMARY` when set",
        flag="--job-summary",
        type="flag",
    )
    #: ID in the hidden marker line, so CI can find and update its earlier comment
    marker_id: str = _opt(
        "report",
        "Markdown: ID in the hidden `<!-- tbreport: ID -->` line",
        flag="--marker-id",
        metavar="ID",
        check=_marker_id,
    )
    #: `tbreport export`: the file written (stdout, as CSV, without it)
    export_file: str | None = _opt(
        None,
        "export: the file to write, `.csv`, `.jsonl` or `.parquet` (`pip install "
        "'tbreport[parquet]'`); CSV on stdout without it",
        flag="--out",
        metavar="FILE",
        check=_export_file,
        commands=("export",),
    )
    #: `tbreport serve`: where the live preview listens
    host: str = _opt(
        "127.0.0.1",
        "serve: the address to listen on; loopback (this machine only) unless told otherwise, "
        "`0.0.0.0` for every interface",
        flag="--host",
        metavar="ADDRESS",
        commands=("serve",),
    )
    port: int = _opt(
        8000,
        "serve: the port to listen on; 0 picks a free one (the URL is printed)",
        flag="--port",
        metavar="N",
        type="int",
        check=_port,
        commands=("serve",),
    )
    #: ordered (tag regex, "min"|"max"|"none") pairs that override the guessed direction
    directions: tuple[tuple[str, str], ...] = _opt(
        (),
        "config only, `[directions]`: tag regex = `min`, `max` or `none`, which way is better",
        type="table",
        check=_directions,
    )
    #: ordered (tag regex, tolerance) pairs: tags that fail --fail-on-regression when worse
    gates: tuple[tuple[str, float], ...] = _opt(
        (),
        "config only, `[gates]`: tag regex = tolerance, the tags `--fail-on-regression` checks "
        "(a regex that matches no scalar tag is a `gate-no-match` warning)",
        type="table",
        check=_gates,
    )


#: `serve` previews a build, so it takes every `build` option but these (CI gates and the
#: Markdown format's, which it does not preview)
SERVE_SKIPS = frozenset({"fail_on_regression", "job_summary", "marker_id", "image_base_url"})


def _takes(command: str, f: Field[Any]) -> bool:
    spec: Spec = f.metadata["spec"]
    if command in spec.commands:
        return True
    return command == "serve" and "build" in spec.commands and f.name not in SERVE_SKIPS


def specs(command: str = "build") -> list[tuple[Field[Any], Spec]]:
    """The declared options of ``command``, in declaration order."""
    return [
        (f, f.metadata["spec"])
        for f in fields(Options)
        if "spec" in f.metadata and _takes(command, f)
    ]


#: config-file key -> field (the logdir too: `runs-dir`)
_ALIASES = {f.name.replace("_", "-"): f.name for f in fields(Options)}


def coerce(name: str, value: Any, where: str) -> Any:
    """Check and convert one option value (from the CLI or a config file)."""
    if value is None:
        return None
    spec: Spec | None = next(f.metadata.get("spec") for f in fields(Options) if f.name == name)
    if spec is None:  # the logdir
        return str(value)
    if spec.check is not None:
        return spec.check(value, where)
    if spec.type == "choice":
        allowed = spec.allowed()
        if value not in allowed:
            raise ConfigError(
                f"{where}: {name.replace('_', '-')} must be one of {', '.join(allowed)}, "
                f"not {value!r}."
            )
        return value
    if spec.type in ("flag", "switch"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {name.replace('_', '-')} must be true or false.")
        return value
    if spec.type == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: must be a number.") from None
    return str(value)


def find_config(explicit: str | None, cwd: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The settings of the config file in force, and its path (None when there is none)."""
    cwd = cwd or Path.cwd()
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"Config file '{explicit}' {what}.")
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
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"Config file '{path}' is not UTF-8 text (byte {err.start}); save it as UTF-8."
        ) from None


def make_options(cli: Mapping[str, Any], config: Mapping[str, Any], source: str | None) -> Options:
    """Options from config-file values overlaid with the flags given on the command line."""
    values: dict[str, Any] = {}
    for key, value in config.items():
        name = _ALIASES.get(key, key)
        if name not in _ALIASES.values():
            raise ConfigError(f"{source}: unknown setting {key!r}{_known(key, _ALIASES)}.")
        values[name] = coerce(name, value, f"{source}: {key}")
    post = cli.get("source") or values.get("source")
    if post and Path(str(post)).is_file():  # a missing one is the build's error to report
        values.update(_front_matter_options(str(post)))
    flags = {f.name: f.metadata["spec"].flag for f in fields(Options) if f.metadata.get("spec")}
    for name, value in cli.items():
        if value is not None:
            # errors name the flag as typed (`export --out`, not the field's `--export-file`)
            flag = flags.get(name) or f"--{name.replace('_', '-')}"
            values[name] = coerce(name, value, flag)
    return replace(Options(), **values)


def _known(key: object, known: Iterable[str]) -> str:
    """After "unknown setting 'x'": the nearest setting if one is close, else all of them."""
    names = sorted(known)
    hint = did_you_mean(key, names)
    return hint if hint else f". Known settings: {', '.join(names)}"


#: front matter keys of a --source post that are options (the rest is the post's own)
FRONT_MATTER_OPTIONS = ("title", "date", "layout", "categories", "permalink")


#: options a post cannot set for itself: where it is and where it goes
_NOT_IN_A_POST = ("source", "runs_dir", "out")


def _front_matter_options(path: str) -> dict[str, Any]:
    """The options a --source post's front matter sets: its Jekyll keys, and any build option
    under its ``tbreport:`` key. The config file gives way to them, the command line does not."""
    from tbreport.source import read_source

    source = read_source(path)
    front = source.front_matter
    values: dict[str, Any] = {}
    for key in FRONT_MATTER_OPTIONS:
        if front.get(key) is not None:
            values[key] = coerce(key, front[key], f"{source.where(key)}: front matter {key}")
    table = front.get("tbreport") or {}
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{source.where('tbreport')}: front matter tbreport must be build options "
            "(`smoothing: 0.8`)."
        )
    # build options only: a post (perhaps someone else's) cannot move `serve`'s address
    # (`host: 0.0.0.0` would show the report to the network) or set another command's options
    in_a_post = {f.name for f, _ in specs("build")} - set(_NOT_IN_A_POST)
    for key, value in table.items():
        name = _ALIASES.get(str(key), str(key))
        if name in _ALIASES.values() and name not in in_a_post:
            raise ConfigError(
                f"{source.where('tbreport', key)}: {key!r} cannot be set in a post: its "
                "front matter sets build options only (not where the build reads or writes, "
                "`serve`'s address or another command's options). Give it on the command line."
            )
        if name not in in_a_post:
            allowed = [k for k, n in _ALIASES.items() if n in in_a_post]
            raise ConfigError(
                f"{source.where('tbreport', key)}: unknown setting {key!r} in the front "
                f"matter's tbreport key{_known(key, allowed)}."
            )
        where = f"{source.where('tbreport', key)}: front matter tbreport.{key}"
        values[name] = coerce(name, value, where)
    return values


def readme_table() -> str:
    """The README's table of build options, made from the spec."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for f, spec in specs():
        if spec.flag is None:
            name = f"`[{f.name}]` (config)"
        elif spec.type == "switch":
            name = f"`{spec.flag}`, `--no-{spec.flag[2:]}`"
        else:
            value = (
                "|".join(spec.allowed(installed=False)) if spec.type == "choice" else spec.metavar
            )
            name = f"`{spec.flag} {value}`" if value else f"`{spec.flag}`"
            if spec.short:
                name += f", `{spec.short}`"
        if spec.default_text is not None:
            default = spec.default_text
        elif spec.type in ("flag", "table") or f.default is None:
            default = "–"
        else:
            default = f"`{f.default}`"
        cell = spec.help.replace("|", "\\|")
        rows.append(f"| {name.replace('|', chr(92) + '|')} | {default} | {cell} |")
    return "\n".join(rows) + "\n"


def report_date(
    options: Options, latest: float | None = None, now: dt.datetime | None = None
) -> dt.datetime:
    """A report's date, to the second: ``--date``; else ``latest``, the newest record's wall
    time (in this machine's timezone), so the same runs give the same report; else (no record
    has a time) or when that is in the future (a writer's clock ahead), ``now``."""
    if options.date is not None:
        return options.date
    current = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
    if latest is None:
        return current
    try:
        newest = dt.datetime.fromtimestamp(latest, dt.timezone.utc).astimezone()
    except (OverflowError, OSError, ValueError):
        return current
    return min(newest.replace(microsecond=0), current)
