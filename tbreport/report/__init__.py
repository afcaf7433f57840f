"""Report stage: a Logdir and Options in, a Report (sections of elements per tag) out.

Selects runs and tags, gives runs their colours, asks every data kind (tbreport.kinds) for its
elements, groups them into sections by tag prefix and compares candidates with the baseline.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tbreport.formatting import format_number
from tbreport.kinds import KindContext
from tbreport.model import Chart, Comparison, Element, Logdir, Report, Run, RunInfo, Section
from tbreport.names import natural_key, section_of, slug, unique_slugs
from tbreport.options import Options
from tbreport.registry import get_kind, kind_names
from tbreport.report.baseline import BaselineError, with_baseline
from tbreport.report.colours import DISTINCT, rank_colors, run_colors
from tbreport.report.compare import compare_tag
from tbreport.report.coverage import not_shown, not_shown_notes
from tbreport.report.groups import find_groups, group_of, seed_note
from tbreport.report.trials import find_trials, trial_styles

__all__ = [
    "BaselineError",
    "build_report",
    "check_regressions",
    "post_slug",
    "select_runs",
    "with_baseline",
]


def check_regressions(report: Report) -> str | None:
    """What failed the regression gates, or None (also without a baseline)."""
    regressions = report.comparison.regressions if report.comparison is not None else ()
    if not regressions:
        return None
    lines = []
    for d in regressions:
        rel = "" if d.rel_delta is None else f", {d.rel_delta:+.1%}"
        lines.append(
            f"  - {d.tag}: {d.run} {format_number(d.last)} vs {d.reference} "
            f"{format_number(d.base_last)}{rel} (tolerance {d.tolerance:.1%})"
        )
    return f"{len(regressions)} gate(s) got worse than the baseline:\n" + "\n".join(lines)


def select_runs(runs: tuple[Run, ...], options: Options) -> list[Run]:
    keep = []
    for run in runs:
        if options.runs and not re.search(options.runs, run.name):
            continue
        if options.exclude_runs and re.search(options.exclude_runs, run.name):
            continue
        keep.append(run)
    return keep


def tag_selected(tag: str, options: Options) -> bool:
    if options.tags and not re.search(options.tags, tag):
        return False
    if options.exclude_tags and re.search(options.exclude_tags, tag):
        return False
    return True


def build_report(
    logdir: Logdir,
    options: Options,
    now: dt.datetime | None = None,
    baseline: frozenset[str] = frozenset(),
    pairs: Mapping[str, str] | None = None,
) -> Report:
    """Everything the templates and charts need, computed once.

    ``baseline`` names the baseline runs (drawn dashed); ``pairs`` maps a candidate run to
    its baseline run of the same name, when the baseline came from another logdir.
    """
    pairs = dict(pairs or {})
    selected_runs = select_runs(logdir.runs, options)
    found = find_trials(selected_runs)
    runs = [run for run in selected_runs if run.name not in found.folded]
    trial_of = {name: t.name for t in found.trials for name in t.runs}
    groups = find_groups(runs, options, found.trials)
    in_group = group_of(groups)
    # a trial's runs share the trial's colour (told apart by line style); a group's runs its
    # group's colour (the group is one line)
    keys = {
        run.name: in_group.get(run.name) or trial_of.get(run.name, run.name)
        for run in runs
        if run.name not in baseline
    }
    keys.update({key: key for key in groups})
    rank_styles: dict[str, str] = {}
    if len(set(keys.values())) > DISTINCT:
        # more lines than distinct colours: colour says how good a run (or group) is
        by_key, key_styles = rank_colors(_ranked(keys, runs, options))
        colors = {name: by_key[key] for name, key in keys.items()}
        rank_styles = {name: key_styles[key] for name, key in keys.items()}
    else:
        colors = _colors_by(keys)
    partner = {b: c for c, b in pairs.items()}
    own = run_colors(
        [run.name for run in runs if run.name in baseline and partner.get(run.name) not in colors]
    )
    for run in runs:
        if run.name in baseline:
            # a baseline run paired with a candidate shares its colour; the dashes tell them apart
            colors[run.name] = colors.get(partner.get(run.name, ""), own.get(run.name, "#777777"))
    for trial in found.trials:
        colors.setdefault(trial.name, colors.get(trial.session, "#777777"))
    tags = sorted(
        {tag for run in runs for tag in (*run.scalars, *run.tensors) if tag_selected(tag, options)},
        key=natural_key,
    )
    ctx = KindContext(
        runs=tuple(runs),
        tags=tuple(tags),
        slugs=dict(zip(tags, unique_slugs(tags), strict=True)),
        colors=colors,
        baseline=baseline,
        options=options,
        trials=found.trials,
        trial_of=trial_of,
        styles={**rank_styles, **trial_styles(found.trials, runs)},
        folded=tuple(run for run in selected_runs if run.name in found.folded),
        experiments=found.experiments,
        groups=groups,
    )
    by_section: dict[str, list[Element]] = {}
    plugins: set[str] = set()
    for name in kind_names():
        kind = get_kind(name)
        plugins.update(kind.plugins)
        for element in kind.elements(ctx):
            # an element may name its own section (a custom scalars category)
            section = getattr(element, "section", None) or section_of(element.tag)
            by_section.setdefault(section, []).append(element)
    for elements in by_section.values():  # tag order; a tag's elements in kind order (stable)
        elements.sort(key=lambda e: natural_key(e.tag))
    section_names = sorted(by_section, key=natural_key)
    section_slugs = dict(zip(section_names, unique_slugs(section_names), strict=True))
    sections = tuple(
        Section(name, "section-" + section_slugs[name], tuple(by_section[name]))
        for name in section_names
    )
    selected = {run.name for run in runs}
    left_out = tuple(not_shown(runs, tags, plugins))
    selected |= found.folded
    warnings = tuple(w for w in logdir.warnings if w.run is None or w.run in selected)
    warnings += found.warnings
    warnings += tuple(not_shown_notes(left_out))
    warnings += tuple(ctx.warnings)
    note = seed_note(runs, options)
    if note is not None:
        warnings += (note,)
    comparison = None
    if baseline:
        comparison = _compare(sections, runs, baseline, pairs, options)
    return Report(
        title=options.title or default_title(runs, logdir.path),
        date=options.date or (now or dt.datetime.now().astimezone()).replace(microsecond=0),
        logdir=logdir.path,
        runs=tuple(
            _run_info(run, colors[run.name], run.name in baseline, trial_of.get(run.name))
            for run in runs
        ),
        sections=sections,
        warnings=warnings,
        smoothing=options.smoothing,
        x_axis=options.x_axis,
        comparison=comparison,
        not_shown=left_out,
        groups=groups,
    )


def _compare(
    sections: tuple[Section, ...],
    runs: list[Run],
    baseline: frozenset[str],
    pairs: Mapping[str, str],
    options: Options,
) -> Comparison:
    candidates = [run.name for run in runs if run.name not in baseline]
    baselines = [run.name for run in runs if run.name in baseline]
    verdicts = []
    for section in sections:
        for chart in section.charts:
            if not isinstance(chart, Chart):
                continue  # baselines are judged on scalars
            summaries = {line.run: line.summary for line in chart.lines}
            verdict = compare_tag(
                chart.tag,
                chart.direction,
                summaries,
                candidates,
                baselines,
                pairs,  # type: ignore[arg-type]
                options.tolerance,
                options.gates,
            )
            if verdict is not None:
                verdicts.append(verdict)
    return Comparison(tuple(verdicts), options.tolerance)


def default_title(runs: list[Run], logdir: str) -> str:
    names = [run.name for run in runs]
    if not names:
        return f"TensorBoard report: {Path(logdir).name or logdir}"
    if len(names) <= 3:
        return (
            "Comparing " + ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
        )
    return f"Comparing {len(names)} runs in {Path(logdir).name or logdir}"


def post_slug(report: Report) -> str:
    return slug(report.title)


def _ranked(keys: Mapping[str, str], runs: list[Run], options: Options) -> list[str]:
    """Colour keys best first by the primary metric: the first tag (natural order) with a
    direction that the most runs hold, each key valued by the mean of its runs' last finite
    values; keys without a value last; name order without such a tag and between ties."""
    from tbreport.kinds.scalars.directions import MAX, MIN, direction_of

    overrides = dict(options.directions) if options.directions else None
    held: dict[str, int] = {}
    for run in runs:
        for tag in run.scalars:
            if tag_selected(tag, options) and direction_of(tag, overrides) in (MIN, MAX):
                held[tag] = held.get(tag, 0) + 1
    names = sorted(set(keys.values()), key=natural_key)
    if not held:
        return names
    primary = min(held, key=lambda tag: (-held[tag], natural_key(tag)))
    sign = 1.0 if direction_of(primary, overrides) == MIN else -1.0
    lasts: dict[str, list[float]] = {}
    for run in runs:
        series = run.scalars.get(primary)
        if run.name in keys and series is not None:
            finite = series.values[np.isfinite(series.values)]
            if finite.size:
                lasts.setdefault(keys[run.name], []).append(float(finite[-1]))
    value = {key: sign * float(np.mean(v)) for key, v in lasts.items()}
    return sorted(names, key=lambda k: (k not in value, value.get(k, 0.0), natural_key(k)))


def _colors_by(keys: Mapping[str, str]) -> dict[str, str]:
    """A colour per run from the colour of its key (its trial, or itself)."""
    by_key = run_colors(keys.values())
    return {name: by_key[key] for name, key in keys.items()}


def _run_info(run: Run, color: str, baseline: bool, trial: str | None) -> RunInfo:
    steps = [s for s in run.scalars.values() if len(s)]
    first, last = run.wall_time_span()
    return RunInfo(
        name=run.name,
        color=color,
        kind=run.kind,
        parent=run.parent,
        points=run.points,
        tags=len(run.scalars),
        first_step=min((int(s.steps.min()) for s in steps), default=None),
        last_step=max((int(s.steps.max()) for s in steps), default=None),
        start_time=first,
        duration=None if first is None or last is None else last - first,
        hparams=dict(sorted(run.hparams.items())),
        others=sum(c.count for c in run.others.values()),
        baseline=baseline,
        trial=trial,
    )
