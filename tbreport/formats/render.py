"""Render stage: a Report (plus chart files) in, text of the HTML report or Jekyll post out.

Templates are Jinja2 files from the top-level ``templates/`` folder (shipped in the wheel as
``tbreport/templates``). A ``--templates DIR`` is searched first; ``default/NAME`` always names
the built-in template, so a user template can extend the one it replaces.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from tbreport.errors import TbreportError
from tbreport.formats import escape
from tbreport.formatting import (
    format_count,
    format_duration,
    format_hparam,
    format_number,
    format_percent,
    format_step_range,
    format_utc,
    sort_value,
    status_icon,
)
from tbreport.read.cache import CacheUnusable, cache_root, open_folder, read_checked, write_atomic


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

    def __init__(self, user_dir: str | None, cache: Path | None = None) -> None:
        if user_dir is not None and not Path(user_dir).is_dir():
            what = "is not a folder" if Path(user_dir).exists() else "does not exist"
            raise TemplateError(f"Templates folder '{user_dir}' {what}.")
        self.user_dir = user_dir
        #: where compiled templates are kept between processes (:func:`template_cache`)
        self.cache = cache

    @classmethod
    def of(cls, options: Any) -> Renderer:
        """The renderer of a build's options: ``--templates``, and the cache folder's compiled
        templates unless ``--no-cache``."""
        return cls(options.templates, template_cache(options.cache, options.no_cache))

    def environment(self, autoescape: bool) -> jinja2.Environment:
        # the folder as resolved now is part of the key: a relative one names another folder
        # after a chdir
        where = None if self.user_dir is None else str(Path(self.user_dir).resolve())
        return _environment(self.user_dir, where, autoescape, self.cache)

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


def template_cache(cache: str | None, no_cache: bool) -> Path | None:
    """The folder of compiled templates in the build cache (``--cache``; None with
    ``--no-cache`` or when the folder cannot be used: templates are then compiled anew)."""
    if no_cache:
        return None
    try:
        return open_folder(cache_root(cache), "templates")
    except CacheUnusable:
        return None  # the build reports the unusable cache folder once, from its read stage


class CheckedBytecode(jinja2.BytecodeCache):
    """Jinja's compiled templates kept in the cache folder, each file behind a SHA-256 of its
    bytes: a damaged or foreign file is ignored (and rewritten), never unmarshalled. The name
    holds Jinja's key (template name and path), the environment's escaping and the versions of
    Jinja and tbreport's render code; Jinja itself drops code compiled from another source."""

    MAGIC = b"TBRJINJA1\n"

    def __init__(self, folder: Path, autoescape: bool) -> None:
        self.folder = folder
        from tbreport.read.cache import code_version

        self.salt = f"{autoescape}|{jinja2.__version__}|{code_version('formats')}"

    def _name(self, bucket: jinja2.bccache.Bucket) -> str:
        return hashlib.sha256(f"{bucket.key}|{self.salt}".encode()).hexdigest() + ".jinja"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        body = read_checked(self.folder / self._name(bucket), self.MAGIC)
        if body is not None:
            bucket.bytecode_from_string(bytes(body))

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        payload = bucket.bytecode_to_string()
        write_atomic(
            self.folder, self._name(bucket), [self.MAGIC, hashlib.sha256(payload).digest(), payload]
        )


@functools.lru_cache(maxsize=16)
def _environment(
    user_dir: str | None, where: str | None, autoescape: bool, cache: Path | None = None
) -> jinja2.Environment:
    """One environment per templates folder, kept: its templates are compiled once per process
    (a notebook or ``tbreport serve`` renders again and again), and Jinja's auto_reload checks
    each file's modification time, so an edited template is compiled again. ``cache``: the
    folder compiled templates are kept in between processes."""
    return _make_environment(user_dir, autoescape, cache)


def _make_environment(
    user_dir: str | None, autoescape: bool, cache: Path | None = None
) -> jinja2.Environment:
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
        bytecode_cache=None if cache is None else CheckedBytecode(cache, autoescape),
    )
    env.globals.update(
        plain=lambda text: text,
        md=escape.md_text,
        gfm=escape.gfm_text,
        name=escape.html_name,
        run_name=escape.html_run_name,
        md_run_name=escape.md_run_name,
        md_lead_name=escape.md_lead_name,
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
        thousands=format_count,
        pct=format_percent,
        icon=status_icon,
        hparam=format_hparam,
        sort_value=sort_value,
    )
    return env
