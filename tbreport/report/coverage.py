"""Report stage, coverage: the selected runs and the kinds' plugins in, what no kind shows out
(graphs, run metadata, meshes, unknown plugins), each with a data note saying why.

The data notes promise "every file was read completely" only when nothing was left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tbreport.model import NOTE, DataWarning, NotShown, Run

#: events that are not summaries, and why a static report leaves them out; other fields
#: (file_version, session_log) are bookkeeping, not data
NOT_SHOWN_EVENTS = {
    "graph_def": "a model graph (tbreport draws no graphs: open TensorBoard's Graphs tab)",
    "meta_graph_def": "a meta graph (tbreport draws no graphs: open TensorBoard's Graphs tab)",
    "tagged_run_metadata": (
        "run metadata, step timings and memory (open TensorBoard's Graphs tab)"
    ),
}
#: summary plugins with no tbreport view, and why
_PLUGINS = {
    "graphs": "a Keras model graph (tbreport draws no graphs: open TensorBoard's Graphs tab)",
    "projector": "embeddings (interactive: open TensorBoard's Projector tab)",
    "mesh": "3-D meshes or point clouds (interactive: open TensorBoard's Mesh tab)",
    "profile": "a profile (open TensorBoard's Profile tab, tensorboard-plugin-profile)",
}
#: plugins shown outside the kinds' elements: hyperparameters sit in the runs table
_SHOWN_ELSEWHERE = frozenset({"scalars", "hparams"})


def not_shown(runs: Sequence[Run], tags: Iterable[str], plugins: Iterable[str]) -> list[NotShown]:
    """What the selected runs hold (selected ``tags`` only) that none of ``plugins`` shows."""
    shown = _SHOWN_ELSEWHERE | set(plugins)
    selected = set(tags)
    out = []
    for run in runs:
        for field, count in run.events.items():
            if field in NOT_SHOWN_EVENTS:
                reason = NOT_SHOWN_EVENTS[field]
                out.append(NotShown(run.name, field, field, count, reason, run.path, event=True))
        for tag, counted in run.others.items():
            if tag not in selected:
                continue
            if counted.plugin not in shown:
                reason = _PLUGINS.get(
                    counted.plugin,
                    f"data of the plugin {counted.plugin!r}, which tbreport has no view for",
                )
                out.append(NotShown(run.name, tag, counted.plugin, counted.count, reason, run.path))
                continue
            # the read stage keeps a shown plugin's records for its kind, but for single
            # numbers (rank-0 numeric tensors, a scalar's encoding): those it only counts
            kept = len(run.tensors[tag]) if tag in run.tensors else 0
            if counted.plugin not in _SHOWN_ELSEWHERE and counted.count > kept:
                reason = (
                    f"single numbers (rank-0 numeric tensors) where the {counted.plugin!r} "
                    "plugin writes strings or arrays, which its view cannot read"
                )
                out.append(
                    NotShown(run.name, tag, counted.plugin, counted.count - kept, reason, run.path)
                )
    return out


def not_shown_notes(items: Sequence[NotShown]) -> list[DataWarning]:
    """One note per run and tag: informational, ``--strict`` does not fail on them."""
    notes = []
    for item in items:
        what = "record" if item.records == 1 else "records"
        where = f"event field {item.tag!r}" if item.event else f"tag {item.tag!r}"
        notes.append(
            DataWarning(
                "not-shown",
                f"Run {item.run!r}: {item.records} {what} of {where} not shown: {item.reason}.",
                path=item.path,
                run=item.run,
                tag=item.tag,
                severity=NOTE,
            )
        )
    return notes
