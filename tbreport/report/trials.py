"""Report stage, trials: the selected runs in, their hparams trials out.

A trial is a session (a run with ``session_start_info`` or Lightning's hparams.yaml) with its
sub-runs: torch/tensorboardX ``add_hparams`` timestamp sub-runs fold into their parent run
(which names the trial), and a Keras/TF ``run-N`` owns ``run-N/train`` and ``run-N/validation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tbreport.kinds.hparams.decode import Experiment, decode_run
from tbreport.model import DataWarning, Run, Trial
from tbreport.names import natural_key

#: line styles of a trial's runs, in run order: train (solid) before validation (dashed)
TRIAL_STYLES: tuple[str, ...] = ("solid", "dashed", "dotted", "dashdot")


@dataclass(frozen=True)
class Trials:
    trials: tuple[Trial, ...]
    #: the experiments found (hparam and metric infos), by the run holding them
    experiments: dict[str, Experiment]
    #: runs folded into their trial's run: not shown as runs or charted on their own
    folded: frozenset[str]
    warnings: tuple[DataWarning, ...]


def _inside(name: str, owner: str) -> bool:
    return owner == "." or name.startswith(owner + "/")


def find_trials(runs: Sequence[Run]) -> Trials:
    names = {run.name for run in runs}
    decoded = {run.name: decode_run(run) for run in runs if _may_hold_hparams(run)}
    warnings = [w for d in decoded.values() for w in d.warnings]
    experiments = {n: d.experiment for n, d in decoded.items() if d.experiment is not None}
    sessions = {n: d.session for n, d in decoded.items() if d.session is not None}
    folded = set()
    owner_of: dict[str, str] = {}  # session run -> the run naming its trial
    for name in sessions:
        run = next(r for r in runs if r.name == name)
        if run.kind == "add_hparams" and run.parent in names:
            owner_of[name] = run.parent
            folded.add(name)
        else:
            owner_of[name] = name
    trial_names = set(owner_of.values())
    trials = []
    for session_run, trial in sorted(owner_of.items(), key=lambda kv: natural_key(kv[1])):
        # members: the trial's run and the runs under it that no deeper trial owns
        members = [
            run.name
            for run in runs
            if run.name == trial
            or run.name == session_run
            or (
                _inside(run.name, trial)
                and run.name not in sessions
                and not any(
                    t != trial and _inside(t, trial) and _inside(run.name, t) for t in trial_names
                )
            )
        ]
        session = sessions[session_run]
        trials.append(
            Trial(
                name=trial,
                session=session_run,
                runs=tuple(sorted(members, key=natural_key)),
                hparams=dict(session.hparams),
                group=session.group,
                start_time=session.start_time,
                status=session.status,
            )
        )
    return Trials(tuple(trials), experiments, frozenset(folded), tuple(warnings))


def _may_hold_hparams(run: Run) -> bool:
    import os

    from tbreport.kinds.hparams.decode import LIGHTNING_YAML

    return any(tag.startswith("_hparams_/") for tag in run.tensors) or os.path.isfile(
        os.path.join(run.path, LIGHTNING_YAML)
    )


def trial_styles(trials: Sequence[Trial], runs: Sequence[Run]) -> dict[str, str]:
    """A line style per run of a trial with scalars: its runs in name order get solid, dashed,
    dotted, dash-dot (Keras: train solid, validation dashed). A trial of one charted run has
    none: its line style is free to tell it apart from runs of the same colour."""
    with_scalars = {run.name for run in runs if run.scalars}
    styles = {}
    for trial in trials:
        charted = [name for name in trial.runs if name in with_scalars]
        if len(charted) < 2:
            continue
        for i, name in enumerate(charted):
            styles[name] = TRIAL_STYLES[i % len(TRIAL_STYLES)]
    return styles
