"""Report stage: a Logdir and Options in, a Report (sections of elements per tag) out.

Selects runs and tags, gives runs their colours, asks every data kind (tbreport.kinds) for its
elements, groups them into sections by tag prefix and compares candidates with the baseline.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from tbreport.errors import TbreportError
from tbreport.formatting import format_number
from tbreport.kinds import KindContext
from tbreport.model import (
    Chart,
    Comparison,
    DataWarning,
    Element,
    Logdir,
    Report,
    Run,
    RunInfo,
    Section,
    WarningKind,
)
from tbreport.names import did_you_mean, natural_key, section_of, slug, unique_slugs
from tbreport.options import Options, report_date
from tbreport.registry import get_kind, kind_names
from tbreport.report.baseline import BaselineError, with_baseline
from tbreport.report.colours import (
    DISTINCT,
    rank_colors,
    run_colors,
    run_styles,
    scale_colors,
)
from tbreport.report.compare import compare_tag
from tbreport.report.coverage import not_shown, not_shown_notes
from tbreport.report.groups import find_groups, group_of, group_pairs, seed_note
from tbreport.report.primary import Primary, primary_metric
from tbreport.report.trials import find_trials, trial_styles


class ColourByError(TbreportError):
    """--colour-by names a hyperparameter no run has a number for."""


__all__ = [
    "BaselineError",
    "ColourByError",
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
        last, base = format_number(d.last), format_number(d.base_last)
        if d.spread is not None and d.base_spread is not None:
            # a group: its centre, spread and runs, so the reader sees it is beyond the noise
            last = f"{_spread_text(d.spread, d.symmetric)} (n={d.n})"
            base = f"{_spread_text(d.base_spread, d.symmetric)} (n={d.base_n})"
        lines.append(
            f"  - {d.tag}: {d.run} {last} vs {d.reference} {base}{rel} "
            f"(tolerance {d.tolerance:.1%})"
        )
    return f"{len(regressions)} gate(s) got worse than the baseline:\n" + "\n".join(lines)


def _spread_text(v: tuple[float, float, float], symmetric: bool) -> str:
    if symmetric:
        half = v[2] - v[0] if math.isfinite(v[2] - v[0]) else None
        return f"{format_number(v[0])} ± {format_number(half)}"
    return f"{format_number(v[0])} [{format_number(v[1])}, {format_number(v[2])}]"


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
    groups = find_groups(runs, options, found.trials, baseline)
    in_group = group_of(groups)
    # a baseline group is compared with (and coloured as) the candidate group of its key
    paired_groups = group_pairs(groups, baseline, options.baseline) if baseline else {}
    group_partner = {b: c for c, b in paired_groups.items()}
    # a trial's runs share the trial's colour (told apart by line style); a group's runs its
    # group's colour (the group is one line)
    keys = {
        run.name: in_group.get(run.name) or trial_of.get(run.name, run.name)
        for run in runs
        if run.name not in baseline
    }
    keys.update({key: group_partner.get(key, key) for key in groups})
    primary = primary_metric(runs, options, lambda tag: tag_selected(tag, options))
    rank_styles: dict[str, str] = {}
    trial_hparams = {t.name: t.hparams for t in found.trials}
    hparams = {
        run.name: {**run.hparams, **trial_hparams.get(trial_of.get(run.name, ""), {})}
        for run in runs
    }
    color_scale = None
    if options.colour_by:
        # colour says the hyperparameter's value: a key's is its runs' (their mean)
        values = _key_values(keys, hparams, options.colour_by)
        order = sorted(set(keys.values()), key=natural_key)
        by_key, key_styles, color_scale = scale_colors(values, order, options.colour_by)
        colors = {name: by_key[key] for name, key in keys.items()}
        rank_styles = {name: key_styles[key] for name, key in keys.items()}
    elif len(set(keys.values())) > DISTINCT:
        # more lines than distinct colours: colour says how good a run (or group) is
        by_key, key_styles = _rank_colors(keys, primary)
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
        color_scale=color_scale,
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
    # tags only counted while reading (single numbers of a non-scalar plugin) are selected too
    counted = {tag for run in runs for tag in run.others if tag_selected(tag, options)}
    left_out = tuple(not_shown(runs, counted.union(tags), plugins))
    selected |= found.folded
    warnings = tuple(w for w in logdir.warnings if w.run is None or w.run in selected)
    warnings += found.warnings
    warnings += tuple(not_shown_notes(left_out))
    warnings += tuple(ctx.warnings)
    note = seed_note(runs, options)
    if note is not None:
        warnings += (note,)
    warnings += tuple(_idle_gates(sections, options.gates))
    comparison = None
    if baseline:
        comparison = _compare(sections, runs, baseline, pairs, options, groups, paired_groups)
    infos = tuple(
        _run_info(
            run,
            colors[run.name],
            run.name in baseline,
            trial_of.get(run.name),
            hparams[run.name],
            None if primary is None else primary.last.get(run.name),
        )
        for run in runs
    )
    latest = max((t for t in (run.last_wall_time for run in runs) if t is not None), default=None)
    return Report(
        title=options.title or default_title(runs, logdir.path),
        date=report_date(options, latest, now),
        latest=latest,
        logdir=logdir.path,
        runs=infos,
        sections=sections,
        warnings=warnings,
        smoothing=options.smoothing,
        x_axis=options.x_axis,
        comparison=comparison,
        not_shown=left_out,
        groups=groups,
        primary=None if primary is None else primary.tag,
        primary_direction=None if primary is None else primary.direction,
        hparam_columns=differing_hparams(infos),
        color_scale=color_scale,
    )


def differing_hparams(runs: tuple[RunInfo, ...]) -> tuple[str, ...]:
    """The hyperparameters whose values are not the same in every run (a run without one
    differs from a run with it), in name order: the only ones worth a column."""
    names = sorted({name for run in runs for name in run.hparams}, key=natural_key)
    missing = object()
    return tuple(
        name for name in names if len({repr(run.hparams.get(name, missing)) for run in runs}) > 1
    )


def _compare(
    sections: tuple[Section, ...],
    runs: list[Run],
    baseline: frozenset[str],
    pairs: Mapping[str, str],
    options: Options,
    groups: Mapping[str, tuple[str, ...]],
    group_pairs: Mapping[str, str],
) -> Comparison:
    candidates = [run.name for run in runs if run.name not in baseline]
    baselines = [run.name for run in runs if run.name in baseline]
    # groups: each group is one line, judged on the centre of its runs' last values
    base_groups = [k for k, members in groups.items() if set(members) <= baseline]
    cand_groups = [k for k, members in groups.items() if not set(members) & baseline]
    verdicts = []
    for section in sections:
        for chart in section.charts:
            if not isinstance(chart, Chart):
                continue  # baselines are judged on scalars
            if chart.center is not None:
                centres = [line for line in chart.lines if line.group is not None]
                spreads = {line.run: line.group for line in centres if line.group is not None}
                summaries = {
                    line.run: replace(line.summary, last_value=spreads[line.run].last[0])
                    for line in centres
                }
                verdict = compare_tag(
                    chart.tag, chart.direction, summaries, cand_groups, base_groups,
                    group_pairs, options.tolerance, options.gates, spreads, chart.band,
                    options.group_verdict == "spread",
                )  # fmt: skip
            else:
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


def _idle_gates(
    sections: tuple[Section, ...], gates: tuple[tuple[str, float], ...]
) -> list[DataWarning]:
    """A ``[gates]`` regex that matches no scalar tag of the report gates nothing (and picks no
    primary metric): said, so a CI step that fails on regressions does not look guarded when it
    is not (a typo, a renamed tag)."""
    tags = sorted(
        {c.tag for s in sections for c in s.charts if isinstance(c, Chart)}, key=natural_key
    )
    out = []
    for pattern, _ in gates:
        if any(re.search(pattern, tag) for tag in tags):
            continue
        hint = did_you_mean(pattern.strip("^$"), tags)
        out.append(
            DataWarning(
                WarningKind.GATE_NO_MATCH.value,
                f"[gates] {pattern!r} matches no scalar tag of the report{hint}, so it gates "
                "nothing: fix the regex in the config, or see the tags with `tbreport ls`.",
            )
        )
    return out


def post_slug(report: Report) -> str:
    return slug(report.title)


def _ranked(keys: Mapping[str, str], primary: Primary | None) -> list[str]:
    """Colour keys best first by the primary metric (tbreport.report.primary), each key valued
    by the mean of its runs' last finite values; keys without a value last; name order without
    a primary metric and between ties."""
    names = sorted(set(keys.values()), key=natural_key)
    if primary is None:
        return names
    lasts: dict[str, list[float]] = {}
    for name, key in keys.items():
        if name in primary.last:
            lasts.setdefault(key, []).append(primary.last[name])
    value = {key: float(np.mean(v)) for key, v in lasts.items()}
    return sorted(names, key=lambda k: (*primary.rank_key(value.get(k)), natural_key(k)))


def _rank_colors(
    keys: Mapping[str, str], primary: Primary | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Colour keys by rank (``_ranked``). Keys with no value of the primary metric have no
    rank: placed last on the ramp they would share its light end, so charts of those runs
    alone (other tags) drew every line nearly the same colour; while the palette holds them
    they take its colours instead."""
    order = _ranked(keys, primary)
    valued = {key for name, key in keys.items() if primary is not None and name in primary.last}
    rest = [key for key in order if key not in valued]
    if not valued or not rest or len(rest) > DISTINCT:
        return rank_colors(order)
    colors, styles = rank_colors([key for key in order if key in valued])
    colors.update(run_colors(rest))
    styles.update(run_styles(rest))
    return colors, styles


def _key_values(
    keys: Mapping[str, str], hparams: Mapping[str, Mapping[str, object]], name: str
) -> dict[str, float | None]:
    """The numeric value of hyperparameter ``name`` per colour key: the mean over its runs
    that have one (a group's seeds share it), None for a key none of whose runs has one."""
    found: dict[str, list[float]] = {key: [] for key in keys.values()}
    for run, key in keys.items():
        value = hparams.get(run, {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[key].append(float(value))
    if not any(found.values()):
        raise ColourByError(
            f"--colour-by {name!r}: no run has a numeric value of that hyperparameter. "
            "Run `tbreport ls` to see each run's hparams."
        )
    return {key: float(np.mean(v)) if v else None for key, v in found.items()}


def _colors_by(keys: Mapping[str, str]) -> dict[str, str]:
    """A colour per run from the colour of its key (its trial, or itself)."""
    by_key = run_colors(keys.values())
    return {name: by_key[key] for name, key in keys.items()}


def _run_info(
    run: Run,
    color: str,
    baseline: bool,
    trial: str | None,
    hparams: Mapping[str, object],
    primary: float | None,
) -> RunInfo:
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
        hparams=dict(sorted(hparams.items())),
        others=sum(c.count for c in run.others.values()),
        baseline=baseline,
        trial=trial,
        primary=primary,
    )
