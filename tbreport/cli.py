"""Command line: parses options and calls the stages. Imports them lazily so --help is instant."""

from __future__ import annotations

import click

from tbreport import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tbreport")
def main() -> None:
    """Reports from TensorBoard runs: Jekyll posts and standalone HTML, no server."""


@main.command("ls")
@click.argument("runs_dir", default="runs", type=click.Path(file_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--restarts",
    type=click.Choice(["replace", "keep-all"]),
    default="replace",
    show_default=True,
    help="replace: a record at step s replaces earlier ones at steps >= s (as TensorBoard); "
    "keep-all: keep every record.",
)
@click.option("--no-verify", is_flag=True, help="Skip data checksums (faster, less safe).")
def ls_command(runs_dir: str, as_json: bool, restarts: str, no_verify: bool) -> None:
    """List the runs, tags, points and data problems under RUNS_DIR (default: runs/)."""
    from tbreport.listing import to_json, to_text
    from tbreport.reader import read_logdir

    logdir = read_logdir(runs_dir, restarts=restarts, verify_crc=not no_verify)
    click.echo(to_json(logdir) if as_json else to_text(logdir), nl=not as_json)


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


def _report(result, quiet: bool) -> None:
    from tbreport.model import WARNING

    if quiet:
        return
    for w in result.warnings:
        prefix = "warning" if w.severity == WARNING else "note"
        click.echo(f"{prefix}: {w.message}", err=True)
    charts = len(result.report.charts)
    if result.report.comparison is not None:
        click.echo(f"Against the baseline: {result.report.comparison.headline}.", err=True)
    if result.shortened:
        click.echo(
            f"Shortened to fit GitHub's limit: left out {'; '.join(result.shortened)}.", err=True
        )
    click.echo(
        f"Built {charts} chart(s) for {len(result.report.runs)} run(s): "
        f"{result.out.rstrip('/')}/{result.main}",
        err=True,
    )


_BUILD_FLAGS = [
    "format",
    "out",
    "title",
    "date",
    "smoothing",
    "x_axis",
    "log_y",
    "tags",
    "exclude_tags",
    "runs",
    "exclude_runs",
    "templates",
    "image_format",
    "strict",
    "quiet",
    "restarts",
    "layout",
    "categories",
    "permalink",
    "jobs",
    "ignore_outliers",
    "max_points",
    "baseline",
    "tolerance",
    "fail_on_regression",
    "image_base_url",
    "job_summary",
    "marker_id",
    "force",
]


@main.command("build")
@click.argument("runs_dir", required=False, type=click.Path(path_type=str))
@click.option(
    "--format",
    "format",
    type=click.Choice(["html", "jekyll", "markdown"]),
    help=(
        "html: one self-contained index.html (default); jekyll: a post in a Jekyll site; "
        "markdown: report.md for a pull request or job summary."
    ),
)
@click.option("--out", type=click.Path(path_type=str), help="Output folder (default: site/).")
@click.option("--title", help="Report title (default: names the runs compared).")
@click.option("--date", help="Post date, e.g. '2021-05-24 20:41:00 -0400' (default: now).")
@click.option(
    "--smoothing", type=float, help="TensorBoard smoothing weight, 0 to 0.999 (default 0.6)."
)
@click.option(
    "--x-axis",
    "x_axis",
    type=click.Choice(["step", "relative", "wall"]),
    help="X axis (default: step).",
)
@click.option(
    "--log-y", "log_y", metavar="TAG_REGEX", help="Log-scale y for tags matching this regex."
)
@click.option("--tags", metavar="REGEX", help="Only tags matching this regex.")
@click.option(
    "--exclude-tags", "exclude_tags", metavar="REGEX", help="Leave out tags matching this regex."
)
@click.option("--runs", metavar="REGEX", help="Only runs matching this regex.")
@click.option(
    "--exclude-runs", "exclude_runs", metavar="REGEX", help="Leave out runs matching this regex."
)
@click.option(
    "--templates",
    type=click.Path(path_type=str),
    help="Folder of Jinja2 templates overriding the built-in ones.",
)
@click.option(
    "--image-format",
    "image_format",
    type=click.Choice(["png", "svg"]),
    help="Chart image format (default: png).",
)
@click.option("--strict", is_flag=True, default=None, help="Fail when reading produced warnings.")
@click.option(
    "--quiet", "-q", is_flag=True, default=None, help="No progress bar or notes (for CI)."
)
@click.option(
    "--restarts",
    type=click.Choice(["replace", "keep-all"]),
    help="Restart rule (default: replace, as TensorBoard).",
)
@click.option("--layout", help="Jekyll front matter layout (default: post).")
@click.option("--categories", help="Jekyll front matter categories (default: 'ml reports').")
@click.option("--permalink", help="Jekyll front matter permalink (default: none).")
@click.option("--jobs", type=int, help="Chart-drawing processes (default: all cores).")
@click.option(
    "--ignore-outliers/--no-ignore-outliers",
    "ignore_outliers",
    default=None,
    help="y range from the 5th to 95th percentile of what is drawn, as TensorBoard (default: on).",
)
@click.option(
    "--max-points",
    "max_points",
    type=int,
    help=(
        "Points drawn per line at most; longer series are thinned keeping extremes (default 1000)."
    ),
)
@click.option(
    "--baseline",
    metavar="DIR_OR_REGEX",
    help=(
        "Baseline runs: another logdir (e.g. main's), or a regex on run names. Others are "
        "candidates."
    ),
)
@click.option(
    "--tolerance",
    type=float,
    help="Relative change within which a tag counts as unchanged (default 0.01).",
)
@click.option(
    "--fail-on-regression",
    "fail_on_regression",
    is_flag=True,
    default=None,
    help="Exit 1 when a gate tag (config [gates]) is worse than the baseline.",
)
@click.option(
    "--image-base-url",
    "image_base_url",
    metavar="URL",
    help="Markdown: URL where the chart images will be hosted (no images without it).",
)
@click.option(
    "--job-summary",
    "job_summary",
    is_flag=True,
    default=None,
    help="Markdown: 1 MiB cap, and append to $GITHUB_STEP_SUMMARY when set.",
)
@click.option(
    "--marker-id",
    "marker_id",
    help="Markdown: ID in the hidden '<!-- tbreport: ID -->' line (default: report).",
)
@click.option(
    "--force",
    is_flag=True,
    default=None,
    help="Replace files tbreport wrote that were edited since (never anyone else's).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=str),
    help="Config file (default: tbreport.toml or [tool.tbreport] in pyproject.toml).",
)
def build_command(runs_dir: str | None, config_path: str | None, **flags) -> None:
    """Build a report of the runs under RUNS_DIR (default: runs/)."""
    from tbreport.build import build
    from tbreport.config import find_config, make_options

    config, source = find_config(config_path)
    cli = {name: flags.get(name) for name in _BUILD_FLAGS}
    cli["runs_dir"] = runs_dir
    options = make_options(cli, config, source)
    progress, close = _progress_bar(options.quiet)
    try:
        result = build(options, progress=progress)
    finally:
        close()
    _report(result, options.quiet)
    if options.fail_on_regression:
        from tbreport.build import check_regressions

        check_regressions(result.report)


@main.command("demo")
@click.argument(
    "directory", default="tbreport-demo", type=click.Path(file_okay=False, path_type=str)
)
@click.option(
    "--format", "format", type=click.Choice(["html", "jekyll"]), default="html", show_default=True
)
@click.option("--quiet", "-q", is_flag=True)
def demo_command(directory: str, format: str, quiet: bool) -> None:
    """Write the quick-start article's two runs to DIRECTORY/runs and build a report from them."""
    from pathlib import Path

    from tbreport.build import build
    from tbreport.config import Options
    from tbreport.demo import ARTICLE_DATE, has_quickstart_runs, write_quickstart_runs

    root = Path(directory)
    if has_quickstart_runs(root / "runs"):
        if not quiet:
            click.echo(
                f"Using the runs already in {root / 'runs'} (from an earlier demo).", err=True
            )
    else:
        write_quickstart_runs(root / "runs")
    options = Options(
        runs_dir=str(root / "runs"),
        out=str(root / "site"),
        format=format,
        title="PyTorch + Tensorboard (quick-start)",
        categories="ml general",
        date=ARTICLE_DATE,
        quiet=quiet,
    )
    result = build(options)
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
def publish_command(
    site_dir: str,
    repo: str | None,
    remote: str,
    branch: str,
    message: str,
    cname: str | None,
    prefix: str | None,
    no_push: bool,
) -> None:
    """Commit the built site SITE_DIR (default: site/) to the gh-pages branch and push it."""
    from tbreport.publish import describe, publish

    result = publish(
        site_dir,
        repo=repo,
        remote=remote,
        branch=branch,
        message=message,
        cname=cname,
        prefix=prefix,
        push=not no_push,
    )
    click.echo(describe(result))
