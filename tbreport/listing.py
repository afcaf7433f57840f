"""Inventory of a read logdir, for ``tbreport ls``: a Logdir in, a text table or JSON out."""

from __future__ import annotations

import json
from typing import Any

from tbreport.formatting import format_duration
from tbreport.model import Logdir
from tbreport.registry import get_kind, kind_names
from tbreport.report.coverage import NOT_SHOWN_EVENTS


def kinds_by_plugin() -> dict[str, str]:
    """The kind that shows each TensorBoard plugin's data (the first registered wins)."""
    out: dict[str, str] = {}
    for name in kind_names():
        for plugin in get_kind(name).plugins:
            out.setdefault(plugin, name)
    return out


def _run_duration(first: float | None, last: float | None) -> float | None:
    return None if first is None or last is None else last - first


def inventory(logdir: Logdir) -> dict[str, Any]:
    """Everything ``ls`` shows, as plain JSON-ready data."""
    by_plugin = kinds_by_plugin()
    runs = []
    for run in logdir.runs:
        first, last = run.wall_time_span()
        tags = []
        for tag, series in run.scalars.items():
            tags.append(
                {
                    "tag": tag,
                    "points": len(series),
                    "records": series.records,
                    "dropped": series.dropped,
                    "first_step": int(series.steps.min()) if len(series) else None,
                    "last_step": int(series.steps.max()) if len(series) else None,
                    "nan": series.nan_count,
                    "inf": series.inf_count,
                    "encoding": series.encoding,
                    "kind": "scalars",
                }
            )
        runs.append(
            {
                "name": run.name,
                "kind": run.kind,
                "parent": run.parent,
                "files": len(run.files),
                "records": run.records,
                "points": run.points,
                "duration_seconds": _run_duration(first, last),
                "start_wall_time": first,
                "scalars": tags,
                "others": [
                    {
                        "tag": tag,
                        "plugin": c.plugin,
                        "count": c.count,
                        # the kind that shows it; null when the report leaves it out
                        "kind": by_plugin.get(c.plugin),
                    }
                    for tag, c in run.others.items()
                ],
                # records that are not summaries (graph_def, tagged_run_metadata, ...)
                "events": dict(run.events),
                "hparams": dict(run.hparams),
            }
        )
    warnings = [w.to_dict() for w in logdir.warnings]
    return {"logdir": logdir.path, "points": logdir.points, "runs": runs, "warnings": warnings}


def to_json(logdir: Logdir) -> str:
    return json.dumps(inventory(logdir), indent=2, sort_keys=True, allow_nan=False, default=str)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    right = [i > 0 and h not in ("tag", "others") for i, h in enumerate(header)]
    # one format for every row: the cells are padded in C, not one call per cell
    line = "  ".join(
        f"{{:{'>' if r else '<'}{w}}}" for w, r in zip(widths, right, strict=True)
    ).format
    return [line(*cells).rstrip() for cells in (header, ["-" * w for w in widths], *rows)]


def _printable(text: str) -> str:
    """Names come from folders and writers: keep control characters off the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def to_text(logdir: Logdir) -> str:
    info = inventory(logdir)
    lines = [f"{len(info['runs'])} run(s), {info['points']} scalar point(s) in {logdir.path}", ""]
    rows = []
    for run in info["runs"]:
        label = run["name"] if run["kind"] == "run" else f"{run['name']} ({run['kind']})"
        steps = [t for t in run["scalars"] if t["points"]]
        first = min((t["first_step"] for t in steps), default=None)
        last = max((t["last_step"] for t in steps), default=None)
        others = sum(o["count"] for o in run["others"])
        rows.append(
            [
                _printable(label),
                str(len(run["scalars"])),
                str(run["points"]),
                "-" if first is None else f"{first}..{last}",
                format_duration(run["duration_seconds"], compact=True),
                str(others),
            ]
        )
    lines += _table(["run", "tags", "points", "steps", "duration", "non-scalar"], rows)
    for run in info["runs"]:
        lines += ["", f"{_printable(run['name'])}:"]
        rows = []
        for t in run["scalars"]:
            notes = []
            if t["dropped"]:
                notes.append(f"{t['dropped']} replaced")
            odd = [f"{t[k]} {k}" for k in ("nan", "inf") if t[k]]  # only the counts there are
            if odd:
                notes.append(", ".join(odd))
            if t["encoding"] != "simple_value":
                notes.append(f"written as {t['encoding']}")
            rows.append(
                [
                    _printable(t["tag"]),
                    str(t["points"]),
                    "-" if t["first_step"] is None else f"{t['first_step']}..{t['last_step']}",
                    t["kind"],
                    ", ".join(notes),
                ]
            )
        for o in run["others"]:
            kind = o["kind"] or f"{o['plugin']} (not shown)"
            rows.append([_printable(o["tag"]), str(o["count"]), "", _printable(kind), ""])
        for event, count in run["events"].items():
            if event in NOT_SHOWN_EVENTS:
                rows.append([f"<{event}>", str(count), "", f"{event} (not shown)", ""])
        lines += ["  " + line for line in _table(["tag", "points", "steps", "kind", "notes"], rows)]
        if run["hparams"]:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(run["hparams"].items()))
            lines.append(f"  hparams: {_printable(pairs)}")
    if info["warnings"]:
        lines += ["", f"{len(info['warnings'])} data note(s) and warning(s):"]
        lines += [f"  {w['severity']}: {_printable(w['message'])}" for w in info["warnings"]]
    return "\n".join(lines) + "\n"
