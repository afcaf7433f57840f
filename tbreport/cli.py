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
