"""Report stage, groups: the selected runs and the grouping options in, groups of runs (seeds
of one setting) out, plus a note when run names look like seeds and no grouping is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tbreport.errors import TbreportError
from tbreport.model import NOTE, DataWarning, Run, Trial, WarningKind
from tbreport.names import natural_key
from tbreport.options import Options

#: a seed-like part of a run name: `_seed3`, `-seed=3`, `seed_3`, `/seed3`
SEED_PART = re.compile(r"[_\-./]?seed[_=\-]?\d+", re.IGNORECASE)


class GroupByError(TbreportError):
    """--group-by names a hyperparameter no trial has."""


def group_key(name: str, pattern: re.Pattern[str]) -> str:
    """The group of a run name: the named group ``key`` when the regex has one (a name it does
    not match is its own group), else the name with every match removed."""
    if "key" in pattern.groupindex:
        match = pattern.search(name)
        key = match.group("key") if match is not None else None
        return key if key else name
    return pattern.sub("", name) or name


#: what a baseline group's key starts with when its runs' key is also a candidate group's
BASELINE_PREFIX = "baseline/"


def find_groups(
    runs: Sequence[Run],
    options: Options,
    trials: Sequence[Trial] = (),
    baseline: frozenset[str] = frozenset(),
) -> dict[str, tuple[str, ...]]:
    """Member run names per group key, keys and members in natural order; empty without
    ``--group``/``--group-by``. With ``--group-by`` a trial's runs go to the group of its
    hyperparameter values (``lr=0.1, batch=32``); runs of no trial stay their own group.

    Baseline runs never share a group with candidates: a baseline run whose key is also a
    candidate's goes to the group ``baseline/KEY``."""
    names = [run.name for run in runs]
    keys: dict[str, str] = {}
    if options.group:
        pattern = re.compile(options.group)
        keys = {name: group_key(name, pattern) for name in names}
    elif options.group_by:
        trial_of = {run: trial for trial in trials for run in trial.runs}
        held = {hp for name in names if (t := trial_of.get(name)) is not None for hp in t.hparams}
        missing = [hp for hp in options.group_by if hp not in held]
        if missing:  # a typo would put every trial into one group, its value '–'
            known = ", ".join(sorted(held, key=natural_key)) or "none"
            raise GroupByError(
                f"--group-by {', '.join(map(repr, missing))}: no run has that hyperparameter "
                f"(the runs' hyperparameters: {known}). Run `tbreport ls` to see each run's "
                "hparams."
            )
        for name in names:
            trial = trial_of.get(name)
            if trial is None:
                keys[name] = name
                continue
            key = ", ".join(f"{hp}={trial.hparams.get(hp, '–')}" for hp in options.group_by)
            # a trial's train and validation runs stay apart: the suffix after the trial name
            suffix = name[len(trial.name) :] if name.startswith(trial.name) else ""
            keys[name] = key + suffix
    else:
        return {}
    taken = {keys[name] for name in names if name not in baseline}
    for name in names:
        if name in baseline and keys[name] in taken:
            keys[name] = BASELINE_PREFIX + keys[name]
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(keys[name], []).append(name)
    return {
        key: tuple(sorted(groups[key], key=natural_key)) for key in sorted(groups, key=natural_key)
    }


def seed_note(runs: Sequence[Run], options: Options) -> DataWarning | None:
    """A note suggesting ``--group`` when two or more run names differ only by a seed part."""
    if options.group or options.group_by:
        return None
    by_rest: dict[str, list[str]] = {}
    for run in runs:
        if SEED_PART.search(run.name):
            by_rest.setdefault(SEED_PART.sub("", run.name), []).append(run.name)
    seeded = {rest: members for rest, members in by_rest.items() if len(members) > 1}
    if not seeded:
        return None
    rest, members = min(seeded.items(), key=lambda kv: natural_key(kv[0]))
    return DataWarning(
        WarningKind.UNGROUPED_SEEDS.value,
        f"{sum(map(len, seeded.values()))} runs differ only by a seed "
        f"(e.g. {members[0]!r} and {members[1]!r}): `--group '[_-]?seed\\d+'` draws each setting "
        "as one mean line with a band",
        severity=NOTE,
    )


def group_of(groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The group key of each member run."""
    return {name: key for key, members in groups.items() for name in members}


def group_pairs(
    groups: Mapping[str, tuple[str, ...]], baseline: frozenset[str], baseline_option: str | None
) -> dict[str, str]:
    """Candidate group key -> the baseline group of the same key: ``baseline/KEY`` (a baseline
    logdir's runs are named ``baseline/<run>``), or for a ``--baseline`` regex the baseline
    group whose key without the regex's match is KEY (``main_lr0.1`` for ``lr0.1`` with
    ``^main_``). Candidate groups without one are compared with the best baseline group."""
    base = [key for key, members in groups.items() if members and set(members) <= baseline]
    pattern = None
    if baseline_option:
        try:
            pattern = re.compile(baseline_option)
        except re.error:
            pattern = None  # a folder name, not a regex
    plain: dict[str, str] = {}
    for key in base:  # natural order: the first baseline group of a key wins
        names = [key[len(BASELINE_PREFIX) :]] if key.startswith(BASELINE_PREFIX) else []
        if pattern is not None:
            names.append(pattern.sub("", key))
        for name in names:
            plain.setdefault(name, key)
    return {
        key: plain[key]
        for key, members in groups.items()
        if key in plain and not set(members) & baseline
    }
