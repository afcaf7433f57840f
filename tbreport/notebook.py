"""Notebooks: the HTML report in a cell's output (``%tbreport runs/``, ``tbreport.show(...)``).

The report runs in a sandboxed ``<iframe srcdoc>`` (no same-origin), so its scripts and CSP stay
inside; beside it, a copy of the static chart images for viewers that drop iframes and scripts
(GitHub's notebook view, untrusted notebooks). IPython is imported only by the magic.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
from markupsafe import Markup, escape

from tbreport.cli import build_command, spec_options
from tbreport.errors import TbreportError
from tbreport.formats.html import MIME, data_uri
from tbreport.options import ConfigError, Options, find_config, make_options
from tbreport.pipeline import Rendering, render

__all__ = ["NotebookReport", "load_ipython_extension", "show"]

MB = 1_000_000

#: the static copy shows only where the frame is gone: a renderer that keeps <style> but drops
#: iframes (a sanitizer) leaves the selector unmatched; one that drops both shows the copy too
_STYLE = (
    "<style>.tbreport-nb>iframe+.tbreport-nb-static{display:none}"
    ".tbreport-nb-static figure{margin:0 0 1em}"
    ".tbreport-nb-static img{max-width:100%;height:auto}</style>"
)


@dataclass(frozen=True, repr=False)
class NotebookReport:
    """A report ready to show in a notebook: ``_repr_html_`` for the cell, ``save`` for a file."""

    #: the standalone report, the file ``tbreport build`` writes
    html: str
    #: the cell output: the frame, the static copy of the charts and the notes
    output: str
    #: what was left out to fit the size cap, one phrase each (the cell says it too)
    left_out: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        return self.output

    def __repr__(self) -> str:
        # the cell's text/plain, saved in the notebook beside the HTML: not the report again
        return f"<tbreport report: {_size(self.html):,} bytes of HTML; .save(path) writes it>"

    def save(self, path: str | Path) -> Path:
        """Write the standalone report (one HTML file) to ``path``."""
        target = Path(path)
        target.write_text(self.html, encoding="utf-8")
        return target


def show(logdir: str | Path = "runs", **options: Any) -> NotebookReport:
    """The report of the runs under ``logdir``; ``options`` are build options by field name
    (``tags="loss"``, ``smoothing=0.9``, ``max_points=200``, ``max_size=2``), the config file
    of the working folder applying as for ``tbreport build``."""
    known = {f.name for f in Options.__dataclass_fields__.values()} - {"runs_dir"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"show() got unexpected option(s) {', '.join(unknown)}")
    return _show({**options, "runs_dir": str(logdir)}, None)


def _show(flags: dict[str, Any], config_path: str | None) -> NotebookReport:
    if flags.get("out") is not None:
        raise ConfigError(
            "A notebook writes no folder; --out is for `tbreport build` "
            "(tbreport.show(...).save('report.html') writes the report's file)."
        )
    config, source = find_config(config_path)
    # the config file's format is build's (a blog's `format = "jekyll"`): the cell shows HTML
    options = make_options({"format": "html", **_given(flags)}, config, source)
    if options.format != "html":
        raise ConfigError(
            f"A notebook shows the HTML report; --format {options.format} is for `tbreport build`."
        )
    options = replace(options, quiet=True)
    return _notebook_report(render(options), options)


def _given(flags: dict[str, Any]) -> dict[str, Any]:
    """The flags given (click passes the others as None)."""
    return {name: value for name, value in flags.items() if value is not None}


def _notebook_report(done: Rendering, options: Options) -> NotebookReport:
    html = done.rendered.files[0].data.decode("utf-8")
    title = escape(done.report.title)
    # srcdoc is an attribute: escape() turns & < > " ' into references, so no run name, tag
    # or text in the report can end the attribute or the iframe
    frame = Markup(
        '<iframe class="tbreport-nb-frame" sandbox="allow-scripts" title="{}" '
        'style="width:100%;height:85vh;min-height:480px;border:0" srcdoc="{}"></iframe>'
    ).format(title, html)
    cap = int(options.max_size * MB)
    if _size(frame) + len(_STYLE) > cap:
        raise TbreportError(
            f"The report of '{options.runs_dir}' is {_size(frame) / MB:.1f} MB, over the "
            f"notebook's cap of {options.max_size:g} MB. Show fewer points (--max-points), "
            "fewer tags (--tags) or no static images (--fallback none), or raise --max-size."
        )
    budget = cap - _size(frame) - len(_STYLE) - 2000  # the notes and wrapper
    figures, dropped, drawn = [], 0, 0
    for element, image in zip(done.report.charts, done.artifacts.images, strict=True):
        if image is None:
            continue
        drawn += 1
        # one tag can have several elements (a histogram's two views): the kind tells them apart
        caption = element.tag if element.kind == "scalars" else f"{element.tag} ({element.kind})"
        figure = Markup(
            '<figure><img alt="{}" src="{}"><figcaption>{}</figcaption></figure>'
        ).format(caption, data_uri(MIME[options.image_format], image), caption)
        if _size(figure) > budget:
            dropped += 1
            continue
        budget -= _size(figure)
        figures.append(figure)
    left_out = []
    if dropped:
        left_out.append(
            f"the static images of {dropped} of {drawn} charts, to stay under "
            f"{options.max_size:g} MB (--max-size, --max-points)"
        )
    if not drawn and done.report.charts and options.fallback == "none":
        left_out.append("the static chart images (--fallback none)")
    notes = Markup("").join(
        Markup('<p class="tbreport-nb-note">tbreport left out {}: viewers without scripts or '
               "frames (GitHub) show only what is here.</p>").format(item)
        for item in left_out
    )  # fmt: skip
    static = Markup(
        '<div class="tbreport-nb-static"><p><strong>{}</strong> (static charts; the interactive '
        "report needs a viewer that runs its frame)</p>{}</div>"
    ).format(title, Markup("").join(figures))
    output = Markup('{}<div class="tbreport-nb">{}{}{}</div>').format(
        Markup(_STYLE), notes, frame, static
    )
    return NotebookReport(html=html, output=str(output), left_out=tuple(left_out))


def _size(text: str) -> int:
    """Bytes in the saved notebook (UTF-8), which the cap is about."""
    return len(text.encode("utf-8"))


# --- the %tbreport magic ------------------------------------------------------------------


def _magic_command() -> click.Command:
    """``build``'s own parameters, the notebook-only options of the spec, and ``--logdir``
    (TensorBoard's magic's spelling of the logdir)."""
    notebook = spec_options("notebook")(lambda: None).__click_params__  # type: ignore[attr-defined]
    logdir = click.Option(["--logdir"], help="The logdir, as %tensorboard spells it.")
    params = [p for p in build_command.params if p.name != "as_json"]
    return click.Command(
        "%tbreport",
        params=[*params, *reversed(notebook), logdir],
        help="Show the report of the runs under RUNS_DIR (default: runs/) in the cell.",
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def parse_line(line: str) -> NotebookReport:
    """The report that ``%tbreport LINE`` shows (raises click's and tbreport's errors)."""
    command = _magic_command()
    try:
        args = shlex.split(line)
    except ValueError as err:  # an unclosed quote
        raise click.UsageError(f"{err} in the %tbreport line: {line}") from None
    with command.make_context("%tbreport", args) as ctx:
        params = dict(ctx.params)
    logdir, runs_dir = params.pop("logdir"), params.pop("runs_dir")
    if logdir is not None and runs_dir is not None and logdir != runs_dir:
        raise click.UsageError("Give the logdir once: RUNS_DIR or --logdir.")
    config_path = params.pop("config_path")
    return _show({**params, "runs_dir": logdir or runs_dir}, config_path)


def _tbreport_magic(line: str) -> None:
    from IPython.display import display

    try:
        report = parse_line(line)
    except click.exceptions.Exit:  # --help was printed
        return
    except click.ClickException as err:  # tbreport's errors and bad flags: the CLI's text
        click.echo(f"Error: {err.format_message()}", err=True)
        return
    display(report)


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext tbreport``: registers the ``%tbreport`` line magic."""
    ip.register_magic_function(_tbreport_magic, magic_kind="line", magic_name="tbreport")
