"""HParams kind, decoding: a run's ``_hparams_/*`` records (and Lightning's hparams.yaml) in,
its experiment (hparam and metric infos) and session (values, group, times, status) out.

Parsed as TensorBoard's ``plugins/hparams/metadata.py`` does: the plugin data content of each
tag's metadata is an ``HParamsPluginData``; values are ``google.protobuf.Value`` (number,
string, bool). Records are read on demand from where the read stage found them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tbreport.model import NOTE, DataWarning, Run

EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_TAG = "_hparams_/session_start_info"
SESSION_END_TAG = "_hparams_/session_end_info"
#: Lightning's TensorBoardLogger saves the hyperparameters here, beside the event files
LIGHTNING_YAML = "hparams.yaml"

#: a hyperparameter's value: what a google.protobuf.Value holds (null as None)
HValue = float | str | bool | None


@dataclass(frozen=True)
class MetricInfo:
    tag: str
    #: the sub-run holding the metric, relative to the session's run ("" for the run itself)
    group: str = ""
    display_name: str = ""

    @property
    def label(self) -> str:
        if self.display_name:
            return self.display_name
        return f"{self.group}/{self.tag}" if self.group else self.tag


@dataclass(frozen=True)
class HParamInfo:
    name: str
    display_name: str = ""
    #: api.proto DataType name: DATA_TYPE_FLOAT64, DATA_TYPE_STRING, DATA_TYPE_BOOL, ...
    type: str = "DATA_TYPE_UNSET"


@dataclass(frozen=True)
class Experiment:
    hparams: tuple[HParamInfo, ...] = ()
    metrics: tuple[MetricInfo, ...] = ()


@dataclass(frozen=True)
class Session:
    """One training session: what ``session_start_info`` and ``session_end_info`` say."""

    hparams: Mapping[str, HValue] = field(default_factory=dict)
    group: str = ""
    start_time: float | None = None
    #: "success", "failure", "running", "unknown", or None without a session_end_info
    status: str | None = None
    end_time: float | None = None


@dataclass(frozen=True)
class Decoded:
    experiment: Experiment | None
    session: Session | None
    warnings: tuple[DataWarning, ...] = ()


def _value(value: Any) -> HValue:  # google.protobuf.Value
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind is None or kind == "null_value":
        return None
    # struct/list values: TensorBoard shows them as text too
    from google.protobuf import json_format

    return json_format.MessageToJson(value, indent=None)


def _records(run: Run, tag: str) -> list[tuple[str, int, Any]]:
    """(path, offset, plugin data) of each record of a tag, in file order."""
    from tbreport.read.events import load_values

    records = run.tensors.get(tag)
    if records is None:
        return []
    out: list[tuple[str, int, Any]] = []
    for file_no in sorted(set(records.files.tolist())):
        mask = records.files == file_no
        path = run.files[file_no]
        offsets = records.offsets[mask].tolist()
        values = load_values(path, offsets, records.values[mask].tolist())
        out.extend(
            (path, offset, v.metadata.plugin_data)
            for offset, (_, _, v) in zip(offsets, values, strict=True)
        )
    return out


def decode_run(run: Run) -> Decoded:
    """The run's experiment and session; the last record of each tag wins, as in TensorBoard."""
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    warnings: list[DataWarning] = []

    def parse(tag: str) -> Any:
        last = None
        for path, offset, plugin_data in _records(run, tag):
            try:
                last = plugin_data_pb2.HParamsPluginData.FromString(plugin_data.content)
            except DecodeError as err:
                warnings.append(
                    DataWarning(
                        "hparams-undecodable",
                        f"Event file '{path}': the {tag} record at byte offset {offset} is not "
                        f"valid hparams plugin data ({err}); it was skipped. Rewrite the "
                        "hyperparameters with the writer (hp.hparams or add_hparams).",
                        path=path,
                        offset=offset,
                        run=run.name,
                        tag=tag,
                    )
                )
        return last

    experiment = None
    data = parse(EXPERIMENT_TAG)
    if data is not None and data.HasField("experiment"):
        exp = data.experiment
        experiment = Experiment(
            hparams=tuple(
                HParamInfo(h.name, h.display_name, api_pb2.DataType.Name(h.type))
                for h in exp.hparam_infos
            ),
            metrics=tuple(
                MetricInfo(m.name.tag, m.name.group, m.display_name) for m in exp.metric_infos
            ),
        )
    session = None
    start = parse(SESSION_START_TAG)
    if start is not None and start.HasField("session_start_info"):
        info = start.session_start_info
        end = parse(SESSION_END_TAG)
        status = end_time = None
        if end is not None and end.HasField("session_end_info"):
            status = api_pb2.Status.Name(end.session_end_info.status)
            status = status.removeprefix("STATUS_").lower()
            end_time = end.session_end_info.end_time_secs or None
        session = Session(
            hparams={key: _value(v) for key, v in sorted(info.hparams.items())},
            group=info.group_name,
            start_time=info.start_time_secs or None,
            status=status,
            end_time=end_time,
        )
    yaml_values, yaml_warnings = read_lightning_yaml(run)
    warnings.extend(yaml_warnings)
    if yaml_values:
        # the events hold what TensorBoard shows; the YAML adds what torch's hparams() drops
        # (None values) for a session of Lightning's, or is the only record of the hparams
        base = dict(session.hparams) if session is not None else {}
        merged = {**{k: v for k, v in yaml_values.items() if k not in base}, **base}
        session = Session(
            hparams=dict(sorted(merged.items())),
            group=session.group if session else "",
            start_time=session.start_time if session else None,
            status=session.status if session else None,
            end_time=session.end_time if session else None,
        )
    return Decoded(experiment, session, tuple(warnings))


def read_lightning_yaml(run: Run) -> tuple[dict[str, HValue], list[DataWarning]]:
    """Lightning's hparams.yaml beside the run's event files, flattened with "/" as Lightning
    does for the events. Read with a safe loader only: tags like ``!!python/object`` are
    refused, never constructed."""
    path = os.path.join(run.path, LIGHTNING_YAML)
    if not os.path.isfile(path):
        return {}, []
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return {}, [
            DataWarning(
                "hparams-yaml-skipped",
                f"'{path}' (Lightning's hyperparameters) was not read: PyYAML is not "
                "installed. Run `pip install pyyaml` to show the keys the event files lack.",
                path=path,
                run=run.name,
                severity=NOTE,
            )
        ]
    try:
        with open(path, "rb") as fh:
            loaded = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(err, "problem", None) or getattr(err, "strerror", None) or str(err)
        return {}, [
            DataWarning(
                "hparams-yaml-unreadable",
                f"'{path}' (Lightning's hyperparameters) cannot be read safely{where}: "
                f"{reason}. Only plain YAML is read (no !!python tags); the hyperparameters "
                "in the event files are shown. Save plain values (numbers, strings, lists).",
                path=path,
                offset=getattr(mark, "index", None),
                run=run.name,
            )
        ]
    if not isinstance(loaded, dict):
        return {}, []
    return flatten(loaded), []


def flatten(tree: Mapping[Any, Any], prefix: str = "") -> dict[str, HValue]:
    out: dict[str, HValue] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "/"))
        elif value is None or isinstance(value, bool | str):
            out[name] = value
        elif isinstance(value, int | float):
            out[name] = float(value)
        else:
            out[name] = str(value)
    return out


def format_value(value: object) -> str:
    """A hyperparameter as text: integers as integers (16, not 16.0), booleans true/false,
    strings as they are (the templates escape them), null as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)
