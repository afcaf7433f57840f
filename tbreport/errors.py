"""The one error family: problems a user can fix, printed by the CLI with the fix."""

from __future__ import annotations

import click


class TbreportError(click.ClickException):
    """Base of every error tbreport raises for bad input or environment."""

    exit_code = 2

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of the traceback (``tbreport.show(...)`` in a notebook):
        the message the CLI prints. A bug, any other exception, keeps its traceback."""
        return [f"Error: {self.format_message()}"]


class NoEventFilesError(TbreportError):
    """The logdir holds no TensorBoard event files."""


class LogdirNotFoundError(TbreportError):
    """The logdir does not exist or is not a directory."""


class StrictModeError(TbreportError):
    """--strict was given and reading produced warnings."""


class SourceError(TbreportError):
    """A ``--source`` post is wrong: the message names its file and line, and the fix."""
