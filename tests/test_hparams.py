"""The hparams kind: decoding (checked against TensorBoard's own hparams plugin and
EventAccumulator), trials, the HParams table and its charts, Lightning's hparams.yaml."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from tbreport.kinds.hparams.decode import decode_run, format_value
from tbreport.kinds.hparams.report import HParamsScatter, HParamsTable
from tbreport.model import Chart, FinalValues
from tbreport.options import make_options
from tbreport.read import read_logdir
from tbreport.report import build_report

FIXTURES = Path(__file__).parent / "fixtures" / "logdirs"
HP_FIXTURES = ["hparams_torch", "hparams_tbx", "hparams_tf", "hparams_keras", "hparams_lightning"]
NOW = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _report(logdir: Path, **kw):
    options = make_options({"runs_dir": str(logdir), "out": "unused", **kw}, {}, None)
    return build_report(read_logdir(str(logdir)), options, now=NOW)


def _elements(report, cls):
    return [e for s in report.sections for e in s.charts if isinstance(e, cls)]


def _tensorboard_view(run_dir: Path) -> dict:
    """What TensorBoard's own hparams plugin parses from the run's _hparams_ tags."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import api_pb2, metadata

    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    try:
        tags = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    except KeyError:  # no hparams in this run
        tags = {}
    out: dict = {}

    def content(tag: str) -> bytes:
        return tags[tag]

    if metadata.EXPERIMENT_TAG in tags:
        exp = metadata.parse_experiment_plugin_data(content(metadata.EXPERIMENT_TAG))
        out["experiment"] = (
            [h.name for h in exp.hparam_infos],
            [(m.name.group, m.name.tag, m.display_name) for m in exp.metric_infos],
        )
    if metadata.SESSION_START_INFO_TAG in tags:
        info = metadata.parse_session_start_info_plugin_data(
            content(metadata.SESSION_START_INFO_TAG)
        )
        values = {}
        for key, v in info.hparams.items():
            kind = v.WhichOneof("kind")
            values[key] = getattr(v, kind) if kind != "null_value" else None
        out["session"] = (values, info.group_name, info.start_time_secs or None)
    if metadata.SESSION_END_INFO_TAG in tags:
        end = metadata.parse_session_end_info_plugin_data(content(metadata.SESSION_END_INFO_TAG))
        out["status"] = api_pb2.Status.Name(end.status).removeprefix("STATUS_").lower()
    return out


@pytest.mark.parametrize("fixture", HP_FIXTURES)
def test_decoded_hparams_match_tensorboard(fixture):
    logdir = read_logdir(str(FIXTURES / fixture))
    sessions = 0
    for run in logdir.runs:
        decoded = decode_run(run)
        want = _tensorboard_view(Path(run.path))
        assert decoded.warnings == ()
        if "experiment" in want:
            assert decoded.experiment is not None
            names, metrics = want["experiment"]
            assert [h.name for h in decoded.experiment.hparams] == names
            assert [(m.group, m.tag, m.display_name) for m in decoded.experiment.metrics] == (
                metrics
            )
        else:
            assert decoded.experiment is None
        if "session" not in want:
            assert decoded.session is None
            continue
        sessions += 1
        values, group, start = want["session"]
        # every key TensorBoard shows, with its value and type (number, string, bool)
        shown = {k: decoded.session.hparams[k] for k in values}
        assert shown == values
        assert {k: type(v) for k, v in shown.items()} == {k: type(v) for k, v in values.items()}
        assert decoded.session.group == group
        assert decoded.session.start_time == start
        assert decoded.session.status == want.get("status")
    expected = json.loads((FIXTURES / fixture / "expected.json").read_text())
    assert sessions == sum(1 for r in expected["runs"].values() if "hparams_given" in r)


def _given(fixture: str) -> dict[str, dict]:
    expected = json.loads((FIXTURES / fixture / "expected.json").read_text())
    return {name: r for name, r in expected["runs"].items() if "hparams_given" in r}


@pytest.mark.parametrize("fixture", ["hparams_torch", "hparams_tbx"])
def test_add_hparams_sub_runs_fold_into_their_parent(fixture):
    report = _report(FIXTURES / fixture)
    given = _given(fixture)
    # the timestamp sub-runs are neither runs nor charts: their metrics are in the table
    assert [r.name for r in report.runs] == ["trial0", "trial1", "trial2"]
    assert all(r.trial == r.name for r in report.runs)
    assert not any(c.tag.startswith("hparam/") for c in _elements(report, Chart))
    assert not _elements(report, FinalValues)
    (table,) = _elements(report, HParamsTable)
    assert [m.label for m in table.metrics] == ["hparam/accuracy", "hparam/loss"]
    assert table.common == (("epochs", "4"),)
    assert table.columns == ("dropout_on", "lr", "opt", "units")
    by_trial = {r["trial"]: r for r in given.values()}
    for row in table.rows:
        want = by_trial[row.name]
        assert row.metrics == tuple(want["metrics"][m.label] for m in table.metrics)
        assert row.values[1:] == tuple(want["hparams_given"][k] for k in ("lr", "opt", "units"))
    # accuracy is better higher: sorted that way
    accuracies = [row.metrics[0] for row in table.rows]
    assert accuracies == sorted(accuracies, reverse=True)
    assert table.parallel
    scatters = _elements(report, HParamsScatter)
    # torch stores booleans as numbers, tensorboardX as booleans
    numeric = ["dropout_on", "lr", "units"] if fixture == "hparams_torch" else ["lr", "units"]
    assert [s.hparam for s in scatters] == numeric
    lr = next(s for s in scatters if s.hparam == "lr")
    assert lr.log_x and len(lr.points) == 3


def test_keras_trial_shares_colour_with_line_styles():
    report = _report(FIXTURES / "hparams_keras")
    chart = next(c for c in _elements(report, Chart) if c.tag == "epoch_loss")
    lines = {line.run: line for line in chart.lines}
    for i in range(3):
        train, val = lines[f"run-{i}/train"], lines[f"run-{i}/validation"]
        assert train.color == val.color
        assert (train.style, val.style) == ("solid", "dashed")
        assert train.trial == val.trial == f"run-{i}"
    assert len({line.color for line in chart.lines}) == 3
    from tbreport.charts.figure import legend_lines

    assert [line.legend for line in legend_lines(chart.lines)] == ["run-0", "run-1", "run-2"]
    (table,) = _elements(report, HParamsTable)
    given = _given("hparams_keras")
    assert [m.label for m in table.metrics] == ["val loss", "train loss"]
    for row in table.rows:
        want = given[row.name]["metrics"]
        assert row.metrics == (want["validation/epoch_loss"], want["train/epoch_loss"])
        assert row.group == f"trial-{row.name[-1]}"
    losses = [row.metrics[0] for row in table.rows]
    assert losses == sorted(losses)  # a loss: lower is better


def test_tf_hparams_api_experiment_metric_and_values():
    report = _report(FIXTURES / "hparams_tf")
    (table,) = _elements(report, HParamsTable)
    assert [m.label for m in table.metrics] == ["Accuracy"]
    given = _given("hparams_tf")
    for row in table.rows:
        assert row.metrics == (given[row.name]["metrics"]["accuracy"],)
        full = dict(row.full)
        want = given[row.name]["hparams_given"]
        # TF keeps booleans as bool_value and integers as numbers
        assert full == {k: format_value(v) for k, v in want.items()}
        assert full["units"] in ("16", "32") and full["dropout_on"] in ("true", "false")


def test_format_value():
    assert format_value(16.0) == "16"
    assert format_value(16) == "16"
    assert format_value(0.001) == "0.001"
    assert format_value(True) == "true" and format_value(False) == "false"
    assert format_value(None) == "null"
    assert format_value(float("nan")) == "nan"
    assert format_value(2.0**60) == str(2.0**60)  # not exactly an integer any more
    assert format_value("<b>") == "<b>"  # the templates escape


def test_one_point_scalar_tag_is_a_table_not_a_chart(torch_writer, tmp_path):
    for name, final in (("a", 0.5), ("b", 0.75)):
        w = torch_writer(name)
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("test/accuracy", final, 7)
        w.close()
    report = _report(tmp_path / "logs")
    assert [c.tag for c in _elements(report, Chart)] == ["loss"]
    (final,) = _elements(report, FinalValues)
    assert final.tag == "test/accuracy"
    assert [(r.run, r.step, r.value) for r in final.rows] == [("a", 7, 0.5), ("b", 7, 0.75)]


def _lightning_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "lit"
    shutil.copytree(FIXTURES / "hparams_lightning", dest)
    return dest


def test_lightning_yaml_adds_keys_the_events_lack(tmp_path):
    logdir = _lightning_copy(tmp_path)
    yaml_path = logdir / "lit" / "version_0" / "hparams.yaml"
    yaml_path.write_text(yaml_path.read_text() + "only_in_yaml:\n  depth: 3\n  unset: null\n")
    run = read_logdir(str(logdir)).run("lit/version_0")
    session = decode_run(run).session
    assert session is not None
    assert session.hparams["only_in_yaml/depth"] == 3.0
    assert session.hparams["only_in_yaml/unset"] is None
    # the events win where both have a key: what TensorBoard shows
    assert session.hparams["extra/k007"] == 7.0 and session.hparams["lr"] == 0.1


def test_lightning_yaml_python_tags_are_never_executed(tmp_path):
    logdir = _lightning_copy(tmp_path)
    marker = tmp_path / "executed"
    yaml_path = logdir / "lit" / "version_1" / "hparams.yaml"
    yaml_path.write_text(f'evil: !!python/object/apply:os.system ["touch {marker}"]\n')
    report = _report(logdir)
    assert not marker.exists()
    (warning,) = [w for w in report.warnings if w.kind == "hparams-yaml-unreadable"]
    assert warning.path == str(yaml_path) and warning.severity == "warning"
    assert warning.offset == 6 and "line 1, column 7" in warning.message
    (table,) = _elements(report, HParamsTable)
    assert "lit/version_1" in [r.name for r in table.rows]  # from the event files still


def test_300_hparams_stay_out_of_the_runs_table(tmp_path):
    from tbreport.pipeline import build

    options = make_options(
        {"runs_dir": str(FIXTURES / "hparams_lightning"), "out": str(tmp_path / "out"),
         "format": "html", "quiet": True}, {}, None,
    )  # fmt: skip
    result = build(options, now=NOW)
    page = (tmp_path / "out" / result.main).read_text()
    runs_table = page[
        page.index('<table class="runs"') : page.index(
            "</table>", page.index('<table class="runs"')
        )
    ]
    assert "k150" not in runs_table and runs_table.count("<tr>") == 3
    # every key is on the page once per trial, inside a collapsed details element
    details = page[page.index('class="stats hparams"') :]
    assert details.count("<details>") == 2 and details.count("extra/k150=150") == 0
    assert page.count("<code><bdi>extra/k150</bdi>=<bdi>150</bdi></code>") >= 1


HOSTILE_KEY = "<script>window.__pwned=1</script> {% raw %} {{ x }} | \u202eevil\u202c"
HOSTILE_VALUE = "{{ site.title }}|<img src=x onerror=window.__pwned=1>{% endraw %}\u2066"


@pytest.fixture
def hostile_trials(torch_writer, tmp_path):
    for i in range(3):
        w = torch_writer(f"t{i}")
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1 + i), step)
        w.add_hparams(
            {HOSTILE_KEY: HOSTILE_VALUE + str(i), "lr": 10.0**-i, "|": "{% raw %}"},
            {"hparam/accuracy": 0.5 + 0.1 * i},
        )
        w.close()
    return tmp_path / "logs"


def _hostile_build(logdir: Path, out: Path, fmt: str):
    from tbreport.pipeline import build

    options = make_options(
        {"runs_dir": str(logdir), "out": str(out), "format": fmt, "quiet": True,
         "date": "2021-05-24 20:41:00 -0400"}, {}, None,
    )  # fmt: skip
    return build(options)


def test_hostile_hparams_in_chromium(tmp_path, hostile_trials):
    import sitecheck

    if not sitecheck.have_chromium():
        pytest.skip("chromium is not installed")
    result = _hostile_build(hostile_trials, tmp_path / "html", "html")
    page = sitecheck.open_in_chromium((tmp_path / "html" / result.main).resolve().as_uri())
    assert not page.problems, page.problems
    assert not page.pwned
    assert "<script>window.__pwned=1</script> {% raw %} {{ x }} | evil" in page.isolated
    assert any(t.startswith("{{ site.title }}|<img src=x") for t in page.isolated)
    assert "\u202e" not in page.text


def test_hostile_hparams_in_jekyll(tmp_path, hostile_trials):
    import sitecheck

    if not sitecheck.have_jekyll():
        pytest.skip("Debian's jekyll is not installed")
    site = tmp_path / "site"
    result = _hostile_build(hostile_trials, site, "jekyll")
    built = sitecheck.jekyll_build(site, dest=tmp_path / "_site", baseurl="")
    assert built.ok, built
    (page,) = [p for p in (tmp_path / "_site").rglob("*.html") if "hparams" in p.read_text()]
    text = page.read_text()
    assert "<script>window.__pwned" not in text and "<img src=x" not in text
    import html as html_lib

    plain = html_lib.unescape(re_tags.sub("", text))
    assert "{% raw %} {{ x }} | evil" in plain  # Liquid printed it, never ran it
    assert "{{ site.title }}|<img src=x onerror=window.__pwned=1>{% endraw %}0" in plain
    assert result.report.runs and all(r.trial for r in result.report.runs)


import re as _re  # noqa: E402

re_tags = _re.compile(r"<[^>]+>")


def test_no_scatter_where_the_metric_s_trials_do_not_vary_the_hyperparameter(
    torch_writer, tmp_path
):
    """Two experiments in one logdir: trials that log ``best`` vary ``lr``; trials that log
    ``final`` vary ``seed`` as well. The first metric, ``best``, has no point with a seed:
    its scatter against seed was an empty chart; and one with a NaN metric is no point."""
    for i, lr in enumerate((0.1, 0.01)):
        w = torch_writer(f"a{i}")
        w.add_hparams({"lr": lr}, {"hparam/best": 0.5 + i}, run_name=".")
        w.close()
    for seed in range(3):
        w = torch_writer(f"b{seed}")
        w.add_hparams(
            {"lr": 0.3, "seed": seed}, {"hparam/final": 0.1 * seed, "hparam/best": float("nan")},
            run_name=".",
        )  # fmt: skip
        w.close()
    report = _report(tmp_path / "logs")
    (table,) = _elements(report, HParamsTable)
    assert table.metrics[0].label == "hparam/best" and "seed" in table.columns
    scatters = {s.hparam: s for s in _elements(report, HParamsScatter)}
    assert list(scatters) == ["lr"]
    assert sorted(p[2] for p in scatters["lr"].points) == [0.01, 0.1]


@pytest.mark.parametrize("fmt", ["html", "markdown", "jekyll"])
def test_the_hparams_section_is_named_as_tensorboard_names_it(tmp_path, fmt):
    """Not by TensorBoard's reserved tag prefix ``_hparams_``, in the heading or the contents."""
    from conftest import build_options, fixture_logdir

    from tbreport.pipeline import build

    result = build(build_options(tmp_path / "out", fixture_logdir("hparams_keras"), format=fmt))
    sections = [s.name for s in result.report.sections]
    assert "HParams" in sections and "_hparams_" not in sections
    text = "".join(
        p.read_text(encoding="utf-8")
        for p in (tmp_path / "out").rglob("*")
        if p.suffix in (".html", ".md")
    )
    assert "HParams" in text and "_hparams_" not in text


def test_declared_metrics_sort_the_table_before_a_trial_s_scalars(torch_writer, tmp_path):
    # the first trial (by name) declares no metric, so its scalars stand in as metrics; they
    # became the table's first metric and sorted it, the declared hp/acc trials last by name
    w = torch_writer("a-no-metrics")
    w.add_hparams({"lr": 0.3}, {}, run_name=".")
    w.add_scalar("train/loss", 0.5, 0)
    w.flush()
    for name, acc in (("b", 0.2), ("c", 0.9), ("d", 0.5)):
        w = torch_writer(name)
        w.add_hparams({"lr": acc / 10}, {"hp/acc": acc}, run_name=".")
        w.add_scalar("train/loss", 1.0 - acc, 0)
        w.flush()
    report = _report(tmp_path / "logs")
    (table,) = _elements(report, HParamsTable)
    assert [m.label for m in table.metrics] == ["hp/acc", "train/loss"]
    assert table.metrics[0].direction == "max"
    assert [r.name for r in table.rows] == ["c", "d", "b", "a-no-metrics"]
    assert table.rows[-1].metrics == (None, 0.5)  # its scalars are still shown
    scatters = _elements(report, HParamsScatter)
    assert scatters and all(s.metric.label == "hp/acc" for s in scatters)
