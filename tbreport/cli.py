"""Command line: parses options and calls the stages. Imports them lazily so --help is instant."""

from __future__ import annotations

import click

from tbreport import __version__

#: every command that reads a config file takes it this way
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=str),
    help="Config file (default: tbreport.toml or [tool.tbreport] in pyproject.toml).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tbreport")
def main() -> None:
    """Reports from TensorBoard runs: Jekyll posts and standalone HTML, no server."""


def spec_options(command: str, leave_out: tuple[str, ...] = ()):
    """Decorator adding the click options of ``command`` from the one option spec."""
    from tbreport.options import specs

    def decorate(fn):
        for f, spec in reversed(specs(command)):
            if spec.flag is None or f.name in leave_out:
                continue  # config-file tables
            names = [spec.flag, f.name] + ([spec.short] if spec.short else [])
            kwargs: dict = {"help": spec.help.replace("`", ""), "default": None}
            if spec.metavar:
                kwargs["metavar"] = spec.metavar
            if spec.type == "flag":
                kwargs["is_flag"] = True
            elif spec.type == "switch":
                names[0] = f"{spec.flag}/--no-{spec.flag[2:]}"
            elif spec.type == "choice":
                kwargs["type"] = click.Choice(spec.allowed())
            elif spec.type in ("int", "float"):
                kwargs["type"] = int if spec.type == "int" else float
            fn = click.option(*names, **kwargs)(fn)
        return fn

    return decorate


@main.command("ls")
@click.argument("runs_dir", default="runs", type=click.Path(file_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@spec_options("ls")
@click.option("--no-verify", is_flag=True, help="Skip data checksums (faster, less safe).")
def ls_command(runs_dir: str, as_json: bool, no_verify: bool, **flags) -> None:
    """List the runs, tags, points and data problems under RUNS_DIR (default: runs/)."""
    from tbreport.listing import to_json, to_text
    from tbreport.options import make_options
    from tbreport.read import read_logdir
    from tbreport.read.cache import decode_cache_for

    options = make_options(flags, {}, None)
    cache, problem = decode_cache_for(options.cache, options.no_cache)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    logdir = read_logdir(
        runs_dir,
        restarts=options.restarts,
        verify_crc=not no_verify,
        executor=options.executor,
        cache=cache,
    )
    click.echo(to_json(logdir) if as_json else to_text(logdir), nl=not as_json)


@main.command("export")
@click.argument("runs_dir", required=False, type=click.Path(path_type=str))
@spec_options("export")
@config_option
def export_command(runs_dir: str | None, config_path: str | None, **flags) -> None:
    """Write every point of every scalar series under RUNS_DIR as one long table: run, tag,
    step, wall time, value, smoothed value, group (CSV, JSON lines or Parquet)."""
    from tbreport.export import export
    from tbreport.options import find_config, make_options

    config, source = find_config(config_path)
    options = make_options({**flags, "runs_dir": runs_dir}, config, source)
    result = export(options)
    for problem in result.warnings:
        click.echo(f"warning: {problem}", err=True)
    from tbreport.model import WARNING

    # the data's warnings (a damaged file's points are missing from the table), not its notes
    # about how a report shows it
    _print_warnings(w for w in result.data_warnings if w.severity == WARNING)
    if result.data is not None:
        click.echo(result.data.decode("utf-8"), nl=False)
    else:
        click.echo(
            f"Exported {result.points} point(s) of {result.series} series: {options.export_file}",
            err=True,
        )


def _progress_bar(quiet: bool):
    """A progress callback drawing a bar on stderr once there is more than a moment of work."""
    if quiet:
        return None, lambda: None
    state: dict = {}

    def progress(done: int, total: int) -> None:
        if total < 8:
            return
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(
                length=total, label="Drawing charts", file=click.get_text_stream("stderr")
            )
            bar.__enter__()
            state["bar"] = bar
        bar.update(done - state.get("done", 0))
        state["done"] = done

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return progress, close


def _print_warnings(warnings) -> None:
    from tbreport.model import WARNING

    for w in warnings:
        prefix = "warning" if w.severity == WARNING else "note"
        click.echo(f"{prefix}: {w.message}", err=True)


def _report(result, quiet: bool, as_json: bool = False) -> None:
    if as_json:
        import json

        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False))
    if quiet:
        return
    _print_warnings(result.warnings)
    if result.report.comparison is not None:
        click.echo(f"Against the baseline: {result.report.comparison.headline}.", err=True)
    if result.shortened:
        click.echo(
            f"Shortened to fit GitHub's limit: left out {'; '.join(result.shortened)}.", err=True
        )
    click.echo(
        f"Built {len(result.report.charts)} chart(s) for {len(result.report.runs)} run(s): "
        f"{result.out.rstrip('/')}/{result.main}",
        err=True,
    )


@main.command("build")
@click.argument("runs_dir", required=False, type=click.Path(path_type=str))
@spec_options("build")
@config_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was built as JSON (docs/json.md)."
)
def build_command(runs_dir: str | None, config_path: str | None, as_json: bool, **flags) -> None:
    """Build a report of the runs under RUNS_DIR (default: runs/)."""
    from tbreport.options import find_config, make_options
    from tbreport.pipeline import RegressionError, build

    config, source = find_config(config_path)
    options = make_options({**flags, "runs_dir": runs_dir}, config, source)
    progress, close = _progress_bar(options.quiet)
    try:
        result = build(options, progress=progress)
    except RegressionError as err:
        close()
        _report(err.result, options.quiet, as_json)
        raise
    close()
    _report(result, options.quiet, as_json)


@main.command("serve")
@click.argument("runs_dir", required=False, type=click.Path(path_type=str))
@spec_options("serve")
@config_option
def serve_command(runs_dir: str | None, config_path: str | None, **flags) -> None:
    """Preview the report of RUNS_DIR (default: runs/) live in the browser: served from memory
    on http://127.0.0.1:8000/, rebuilt and reloaded when event files grow, runs appear or the
    source changes. Writes nothing unless --out is given (then it also writes like build)."""
    from tbreport.options import find_config, make_options
    from tbreport.serve import preview_options, require_watchfiles, serve

    require_watchfiles()
    write = flags.get("out") is not None  # only --out itself: a config file's `out` is build's
    found: list[str] = []

    def options_now():
        """The options as of now: the config file (and a --source post) may have changed."""
        config, source = find_config(config_path)
        found[:] = [source] if source else []
        options = make_options({**flags, "runs_dir": runs_dir}, config, source)
        given = {name for name, value in flags.items() if value is not None} | set(config)
        return preview_options(options, given, write)

    options = options_now()
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    serve(options, write=write, log=log, reload=options_now, files=found)


@main.command("draft")
@click.argument("runs_dir", required=False, type=click.Path(path_type=str))
@spec_options("build", leave_out=("source", "out", "force", "jobs"))
@config_option
def draft_command(runs_dir: str | None, config_path: str | None, **flags) -> None:
    """Print the report `build` makes of RUNS_DIR as a Markdown post to edit: front matter,
    placeholders for your words and ```tbreport blocks. Save it, edit it, then
    `tbreport build RUNS_DIR --source post.md` (docs/authoring.md)."""
    from tbreport.options import find_config, make_options
    from tbreport.pipeline import draft

    config, source = find_config(config_path)
    options = make_options({**flags, "runs_dir": runs_dir}, config, source)
    click.echo(draft(options), nl=False)


@main.command("demo")
@click.argument(
    "directory", default="tbreport-demo", type=click.Path(file_okay=False, path_type=str)
)
@click.option(
    "--format", "format", type=click.Choice(["html", "jekyll"]), default="html", show_default=True
)
@click.option("--quiet", "-q", is_flag=True)
def demo_command(directory: str, format: str, quiet: bool) -> None:
    """Write the quick-start article's two runs to DIRECTORY/runs and build a report from them
    (the HTML one with --fallback none: its script draws the charts)."""
    from pathlib import Path

    from tbreport.demo import run_demo

    result, reused = run_demo(Path(directory), format=format, quiet=quiet)
    if reused and not quiet:
        click.echo(
            f"Using the runs already in {Path(directory, 'runs')} (from an earlier demo).", err=True
        )
    _report(result, quiet)
    if not quiet:
        click.echo(f"Open {Path(result.out, result.main).resolve().as_uri()}", err=True)


@main.command("publish")
@click.argument("site_dir", default="site/", type=click.Path(path_type=str))
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=str),
    help="Git repository to publish from (default: the one holding the current folder).",
)
@click.option(
    "--remote",
    default="origin",
    show_default=True,
    help="Remote to push to (and to read the branch from).",
)
@click.option(
    "--branch", default="gh-pages", show_default=True, help="Branch to commit the site to."
)
@click.option(
    "--message",
    "-m",
    default="Publish report with tbreport",
    show_default=True,
    help="Commit message.",
)
@click.option("--cname", metavar="DOMAIN", help="Custom domain: writes CNAME at the branch root.")
@click.option(
    "--prefix",
    metavar="PATH",
    help="Publish into this folder of the branch (e.g. pr/123), keeping everything else.",
)
@click.option(
    "--no-push", is_flag=True, help="Commit to the local branch only; do not contact the remote."
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail, publishing nothing, when a file is skipped with a warning (a symlink out of "
    "the site).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object for machines (docs/json.md)."
)
@spec_options("publish")
def publish_command(
    site_dir: str,
    repo: str | None,
    remote: str,
    branch: str,
    message: str,
    cname: str | None,
    prefix: str | None,
    no_push: bool,
    strict: bool,
    as_json: bool,
    quiet: bool | None,
) -> None:
    """Commit the built site SITE_DIR (default: site/) to the gh-pages branch and push it."""
    from tbreport.publish import describe, publish, to_json

    result = publish(
        site_dir,
        repo=repo,
        remote=remote,
        branch=branch,
        message=message,
        cname=cname,
        prefix=prefix,
        push=not no_push,
        strict=strict,
    )
    from tbreport.model import WARNING

    # --quiet: the warnings only (a file left out); --json still prints its object
    _print_warnings(w for w in result.warnings if not quiet or w.severity == WARNING)
    if as_json:
        click.echo(to_json(result))
    elif not quiet:
        click.echo(describe(result))
