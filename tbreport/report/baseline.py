"""Report stage, baselines: the runs to compare against, from another logdir or by name."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from tbreport.errors import TbreportError
from tbreport.model import Logdir
from tbreport.options import Options, is_url
from tbreport.read import read_logdir


class BaselineError(TbreportError):
    """--baseline names neither a folder nor a regex matching some (not all) runs, or
    --fail-on-regression has no baseline or no gates to check."""


def with_baseline(
    logdir: Logdir, options: Options
) -> tuple[Logdir, frozenset[str], dict[str, str]]:
    """The logdir with the baseline runs added (read from another logdir) or picked (by
    regex), the baseline run names, and candidate -> baseline pairs by name."""
    if not options.baseline:
        if options.fail_on_regression:
            raise BaselineError("--fail-on-regression needs --baseline (a logdir or a run regex).")
        return logdir, frozenset(), {}
    if options.fail_on_regression and not options.gates:
        # nothing could ever fail: a CI step that looks guarded and is not
        raise BaselineError(
            "--fail-on-regression checks the tags of the config's [gates] table, and there is "
            "none: add one to tbreport.toml (or [tool.tbreport.gates] in pyproject.toml), e.g. "
            '[gates] "^val/loss$" = 0.02 (a 2% tolerance).'
        )
    if is_url(options.baseline) or Path(options.baseline).is_dir():
        base = read_logdir(options.baseline, restarts=options.restarts, executor=options.executor)
        rename = {run.name: _baseline_name(run.name) for run in base.runs}
        clash = sorted(set(rename.values()) & {run.name for run in logdir.runs})
        if clash:
            raise BaselineError(
                f"Run '{clash[0]}' exists in '{options.runs_dir}' and as a baseline run name; "
                "rename the folder or give the baseline as a regex."
            )
        runs = [replace(run, name=rename[run.name], parent=None) for run in base.runs]
        warnings = [replace(w, run=rename.get(w.run, w.run)) if w.run else w for w in base.warnings]
        pairs = {run.name: rename[run.name] for run in logdir.runs if run.name in rename}
        merged = Logdir(logdir.path, logdir.runs + tuple(runs), logdir.warnings + tuple(warnings))
        return merged, frozenset(rename.values()), pairs
    try:
        pattern = re.compile(options.baseline)
    except re.error as err:
        raise BaselineError(
            f"--baseline {options.baseline!r} is not a folder and not a valid regex ({err})."
        ) from None
    names = frozenset(run.name for run in logdir.runs if pattern.search(run.name))
    if not names:
        raise BaselineError(
            f"--baseline {options.baseline!r} is not a folder and matches no run in "
            f"'{options.runs_dir}'. Run `tbreport ls` to see the run names."
        )
    if len(names) == len(logdir.runs):
        raise BaselineError(
            f"--baseline {options.baseline!r} matches every run; nothing is left to compare."
        )
    return logdir, names, {}


def _baseline_name(name: str) -> str:
    return "baseline" if name == "." else f"baseline/{name}"
