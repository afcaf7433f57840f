"""Render stage: a Report (plus chart files) in, text of the HTML report or Jekyll post out.

Templates are Jinja2 files from the top-level ``templates/`` folder (shipped in the wheel as
``tbreport/templates``). A ``--templates DIR`` is searched first; ``default/NAME`` always names
the built-in template, so a user template can extend the one it replaces.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from tbreport.errors import TbreportError
from tbreport.formats import escape
from tbreport.formatting import (
    format_duration,
    format_hparam,
    format_number,
    format_percent,
    format_step_range,
    format_utc,
    sort_value,
    status_icon,
)


class TemplateError(TbreportError):
    """A template is missing or fails to render."""


def builtin_templates() -> Path:
    package = Path(__file__).resolve().parent.parent  # tbreport/
    packaged = package / "templates"
    if packaged.is_dir():
        return packaged
    source_tree = package.parent / "templates"  # editable installs, checkouts
    if source_tree.is_dir():
        return source_tree
    raise TemplateError("tbreport's built-in templates are missing; reinstall tbreport.")


class Renderer:
    """Renders templates from ``--templates DIR`` (searched first) and the built-in ones.

    One per build: its two Jinja environments (HTML autoescaping on and off) are made once.
    """

    def __init__(self, user_dir: str | None) -> None:
        if user_dir is not None and not Path(user_dir).is_dir():
            raise TemplateError(f"Templates folder '{user_dir}' does not exist.")
        self.user_dir = user_dir

    def environment(self, autoescape: bool) -> jinja2.Environment:
        # the folder as resolved now is part of the key: a relative one names another folder
        # after a chdir
        where = None if self.user_dir is None else str(Path(self.user_dir).resolve())
        return _environment(self.user_dir, where, autoescape)

    def render(self, template: str, context: Mapping[str, Any], autoescape: bool) -> str:
        try:
            return self.environment(autoescape).get_template(template).render(**context)
        except jinja2.TemplateNotFound as err:
            raise TemplateError(
                f"Template '{err.name}' not found (looked in --templates and the built-in ones)."
            ) from None
        except jinja2.UndefinedError as err:
            raise TemplateError(
                f"Template '{template}' uses an undefined value: {err.message}."
            ) from None
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"Template '{err.filename or err.name}' line {err.lineno}: {err.message}."
            ) from None


@functools.lru_cache(maxsize=16)
def _environment(user_dir: str | None, where: str | None, autoescape: bool) -> jinja2.Environment:
    """One environment per templates folder, kept: its templates are compiled once per process
    (a notebook or ``tbreport serve`` renders again and again), and Jinja's auto_reload checks
    each file's modification time, so an edited template is compiled again."""
    return _make_environment(user_dir, autoescape)


def _make_environment(user_dir: str | None, autoescape: bool) -> jinja2.Environment:
    builtin = jinja2.FileSystemLoader(str(builtin_templates()))
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.append(jinja2.PrefixLoader({"default": builtin}))
    loaders.append(builtin)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        plain=lambda text: text,
        md=escape.md_text,
        gfm=escape.gfm_text,
        name=escape.html_name,
        run_name=escape.html_run_name,
        md_run_name=escape.md_run_name,
    )
    env.filters.update(
        md=escape.md_text,
        gfm=escape.gfm_text,
        name=escape.html_name,
        text=escape.plain_text,
        md_cell=escape.md_cell,
        yaml=escape.yaml_str,
        liquid=escape.liquid,
        html_liquid=escape.html_liquid,
        gfm_fence=escape.gfm_fence,
        fence=escape.code_fence,
        num=format_number,
        duration=format_duration,
        utc=format_utc,
        step_range=format_step_range,
        pct=format_percent,
        icon=status_icon,
        hparam=format_hparam,
        sort_value=sort_value,
    )
    return env
