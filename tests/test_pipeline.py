"""The pipeline (tbreport build): the standalone HTML report and the Jekyll post, end to end,
and what build() does from Python (strict mode, regression gates, the chart pool)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build_options, fixture_logdir

from tbreport.cli import main
from tbreport.kinds.scalars.transform import smooth
from tbreport.pipeline import build
from tbreport.read import read_logdir

DATE = "2021-05-24 20:41:00 -0400"


def _options(tmp_path, **kw):
    return build_options(tmp_path / "site", **kw)


def _data_uris(html: str, mime: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(rf'"data:{re.escape(mime)};base64,([A-Za-z0-9+/=]+)"', html)
    ]


def test_html_report_is_one_self_contained_file(tmp_path):
    # --static: the script-free report (the default's scripts: tests/test_interactive.py)
    result = build(_options(tmp_path, static=True))
    out = tmp_path / "site"
    assert sorted(p.name for p in out.iterdir()) == [".tbreport-manifest.json", "index.html"]
    html = (out / "index.html").read_text()
    # no external resource of any kind, no script
    assert "<script" not in html.lower()
    for attr in re.findall(r'(?:src|href)="([^"#][^"]*)"', html):
        assert attr.startswith("data:"), attr
    pngs = _data_uris(html, "image/png")
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert result.main == "index.html" and len(result.report.charts) == 2


def test_csv_holds_raw_and_smoothed_values(tmp_path):
    build(_options(tmp_path, smoothing=0.9, static=True))
    html = (tmp_path / "site" / "index.html").read_text()
    first = _data_uris(html, "text/csv")[0].decode()
    rows = list(csv.DictReader(io.StringIO(first)))
    logdir = read_logdir(fixture_logdir("quickstart"))
    series = logdir.run("run_2").scalars["tutorial/line"]
    got = [r for r in rows if r["run"] == "run_2"]
    np.testing.assert_array_equal([float(r["value"]) for r in got], series.values)
    np.testing.assert_allclose(
        [float(r["smoothed"]) for r in got], smooth(series.values, 0.9), rtol=1e-15
    )
    assert [int(r["step"]) for r in got] == list(range(100))


def test_same_inputs_give_identical_bytes(tmp_path):
    build(_options(tmp_path / "a"))
    build(_options(tmp_path / "b"))
    build(_options(tmp_path / "c", format="jekyll"))
    build(_options(tmp_path / "d", format="jekyll"))
    for x, y in (("a", "b"), ("c", "d")):
        files_x = sorted(
            p.relative_to(tmp_path / x) for p in (tmp_path / x).rglob("*") if p.is_file()
        )
        files_y = sorted(
            p.relative_to(tmp_path / y) for p in (tmp_path / y).rglob("*") if p.is_file()
        )
        assert files_x == files_y
        for rel in files_x:
            assert (tmp_path / x / rel).read_bytes() == (tmp_path / y / rel).read_bytes(), rel


def test_jekyll_post_layout_and_front_matter(tmp_path):
    result = build(
        _options(
            tmp_path,
            format="jekyll",
            title="PyTorch + Tensorboard (quick-start)",
            categories="ml general",
            permalink="/:categories/:title:output_ext",
        )
    )
    out = tmp_path / "site"
    post = out / "_posts" / "2021-05-24-pytorch-tensorboard-quick-start.md"
    assert result.main == "_posts/2021-05-24-pytorch-tensorboard-quick-start.md"
    text = post.read_text()
    assert text.startswith('---\nlayout: "post"\ntitle: "PyTorch + Tensorboard (quick-start)"\n')
    assert "date: 2021-05-24 20:41:00 -0400\n" in text
    assert 'categories: "ml general"\n' in text
    assert 'permalink: "/:categories/:title:output_ext"\n' in text
    refs = re.findall(r"\{\{ '(/assets/images/[^']+)' \| relative_url \}\}", text)
    assert len(refs) == 4  # two charts, two CSV files
    for ref in refs:
        assert (out / ref.lstrip("/")).is_file(), ref
    assert re.search(r"^\*Fig 1\. tutorial/line: .*weight 0\.6", text, re.M)
    # a new site gets the scaffolding
    assert (out / "_config.yml").is_file() and (out / "index.md").is_file()


def test_existing_jekyll_site_files_are_left_alone(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "_config.yml").write_text("title: mine\n")
    (site / "about.md").write_text("mine\n")
    build(_options(tmp_path, format="jekyll"))
    assert (site / "_config.yml").read_text() == "title: mine\n"
    assert (site / "about.md").read_text() == "mine\n"
    assert not (site / "index.md").exists()


def test_rebuild_replaces_only_its_own_files(tmp_path):
    site = tmp_path / "site"
    build(_options(tmp_path, format="jekyll"))
    mine = site / "notes.txt"
    mine.write_text("keep me")
    images = sorted((site / "assets" / "images").rglob("*.png"))
    assert len(images) == 2
    build(_options(tmp_path, format="jekyll", tags="line"))
    assert mine.read_text() == "keep me"
    left = sorted((site / "assets" / "images").rglob("*.png"))
    assert [p.name for p in left] == ["tutorial-line.png"]  # the poly chart it wrote is gone


def test_never_overwrites_a_file_it_did_not_write(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("my own page")
    runner = CliRunner()
    result = runner.invoke(
        main, ["build", str(fixture_logdir("quickstart")), "--out", str(site), "-q", "--date", DATE]
    )
    assert result.exit_code == 2
    assert f"'{site / 'index.html'}' exists and was not written by tbreport" in result.output
    assert (site / "index.html").read_text() == "my own page"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]


def test_failed_build_leaves_previous_output_intact(tmp_path):
    build(_options(tmp_path))
    before = (tmp_path / "site" / "index.html").read_bytes()
    broken = tmp_path / "tpl"
    broken.mkdir()
    (broken / "report.html.j2").write_text("{{ no_such_value }}")
    with pytest.raises(Exception, match="undefined value"):
        build(_options(tmp_path, templates=str(broken), smoothing=0.3))
    assert (tmp_path / "site" / "index.html").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [
        ".tbreport-manifest.json",
        "index.html",
    ]


def test_smoothing_zero_draws_raw_only_and_says_so(tmp_path):
    build(_options(tmp_path, smoothing=0))
    html = (tmp_path / "site" / "index.html").read_text()
    assert "raw values, not smoothed" in html and "weight 0.6" not in html


def test_thinning_is_stated_in_the_caption(tmp_path, torch_writer):
    w = torch_writer("long")
    for s in range(5000):
        w.add_scalar("train/loss", float(np.sin(s / 50.0)), s)
    w.close()
    build(_options(tmp_path, runs_dir=str(tmp_path / "logs"), max_points=500))
    html = (tmp_path / "site" / "index.html").read_text()
    assert re.search(r"5,000 points, \d{3} drawn", html)
    # statistics use every point
    assert "lower is better" in html


def test_strict_fails_on_warnings(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(fixture_logdir("quickstart"), runs)
    (runs / "run_1" / "events.out.tfevents.9999999999.x").write_bytes(b"")
    result = CliRunner().invoke(
        main, ["build", str(runs), "--out", str(tmp_path / "site"), "--strict", "-q"]
    )
    assert result.exit_code == 2
    assert "--strict: reading produced 1 warning(s); nothing was built." in result.output
    assert "is empty (0 bytes)" in result.output
    assert not (tmp_path / "site").exists()


def test_future_date_is_refused_for_jekyll(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(fixture_logdir("quickstart")),
            "--format",
            "jekyll",
            "--out",
            str(tmp_path / "s"),
            "--date",
            "2999-01-01",
            "-q",
        ],
    )
    assert result.exit_code == 2 and "is in the future; Jekyll skips future posts" in result.output


def test_filters_and_no_match_error(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(fixture_logdir("quickstart")),
            "--out",
            str(tmp_path / "s"),
            "--tags",
            "nothing-like-this",
            "-q",
        ],
    )
    assert result.exit_code == 2 and "Nothing to report in" in result.output
    build(_options(tmp_path, exclude_runs="run_2"))
    html = (tmp_path / "site" / "index.html").read_text()
    assert "run_1" in html and "run_2" not in html


def test_demo_writes_quickstart_runs_and_builds(tmp_path):
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    logdir = read_logdir(tmp_path / "demo" / "runs")
    want = read_logdir(fixture_logdir("quickstart"))
    for run in want.runs:
        for tag, series in run.scalars.items():
            got = logdir.run(run.name).scalars[tag]
            np.testing.assert_array_equal(got.steps, series.steps)
            np.testing.assert_array_equal(got.values, series.values)
    assert not logdir.warnings  # every checksum holds
    # TensorBoard's own loader reads the files the demo frames itself
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "demo" / "runs" / "run_1"), size_guidance={"scalars": 0})
    acc.Reload()
    assert [e.value for e in acc.Scalars("tutorial/poly")] == [float(n * n) for n in range(100)]
    index = tmp_path / "demo" / "site" / "index.html"
    first = index.read_bytes()
    # the README's first command can be run again: same runs, same report
    again = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert again.exit_code == 0 and "Using the runs already in" in again.output
    assert index.read_bytes() == first
    # a folder with other event files in one run folder is not mixed into
    other = tmp_path / "other" / "runs" / "run_1"
    other.mkdir(parents=True)
    shutil.copy(next((fixture_logdir("quickstart") / "run_2").iterdir()), other)
    mixed = CliRunner().invoke(main, ["demo", str(tmp_path / "other")])
    assert mixed.exit_code == 2 and "already holds event files" in mixed.output


def test_wheel_ships_the_templates(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("tbreport-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in (root / "templates").rglob("*"):
        if template.is_file():
            assert (
                f"tbreport/templates/{template.relative_to(root / 'templates').as_posix()}" in names
            )


def test_x_axis_and_log_y_options(tmp_path):
    build(_options(tmp_path, x_axis="relative", log_y="poly$", smoothing=0, static=True))
    html = (tmp_path / "site" / "index.html").read_text()
    line_csv, poly_csv = (d.decode() for d in _data_uris(html, "text/csv"))
    rows = list(csv.DictReader(io.StringIO(line_csv)))
    assert rows[0].keys() == {"run", "relative", "value", "smoothed"}
    first = [float(r["relative"]) for r in rows if r["run"] == "run_1"]
    assert first[0] == 0.0 and first[-1] > 0  # seconds since the run's first point
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert "log scale" not in captions[0] and "log scale" in captions[1]
    build(_options(tmp_path / "w", x_axis="wall", static=True))
    html = (tmp_path / "w" / "site" / "index.html").read_text()
    rows = list(csv.DictReader(io.StringIO(_data_uris(html, "text/csv")[0].decode())))
    assert float(rows[0]["wall_time"]) > 1.6e9


def test_outlier_range_option_changes_the_chart(tmp_path, torch_writer):
    w = torch_writer("spiky")
    for s in range(200):
        w.add_scalar("loss", 1000.0 if s == 100 else 1.0 + s / 200, s)
    w.close()
    from tbreport.report import build_report

    logdir = read_logdir(tmp_path / "logs")
    robust = build_report(logdir, _options(tmp_path, smoothing=0)).charts[0]
    full = build_report(logdir, _options(tmp_path, smoothing=0, ignore_outliers=False)).charts[0]
    assert robust.y_range[1] < 10 < 1000 <= full.y_range[1]


def test_y_range_holds_every_smoothed_point_and_each_last_point(tmp_path, torch_writer):
    w = torch_writer("rising")
    for s in range(100):
        w.add_scalar("line", 2.0 * s, s)  # the quick-start run_1: its top used to leave the chart
    w.close()
    w = torch_writer("short")
    for s in range(10):
        w.add_scalar("short", float(s * s), s)
    w.close()
    from tbreport.report import build_report

    logdir = read_logdir(tmp_path / "logs")
    line, short = build_report(logdir, _options(tmp_path)).charts
    lo, hi = line.y_range
    assert lo <= 0.0 and hi >= 198.0 and line.clipped == 0
    (smoothed_line,) = line.lines
    assert lo <= smoothed_line.smoothed.min() and smoothed_line.smoothed.max() <= hi
    assert short.y_range[0] <= 0.0 and short.y_range[1] >= 81.0  # the final value stays on


def test_only_raw_outliers_leave_the_range_and_the_caption_counts_them(tmp_path, torch_writer):
    w = torch_writer("spiky")
    for s in range(200):
        spike = s in (50, 100, 150)
        w.add_scalar("loss", 1000.0 if spike else 1.0, s)
    w.close()
    from tbreport.report import build_report

    logdir = read_logdir(tmp_path / "logs")
    raw = build_report(logdir, _options(tmp_path, smoothing=0)).charts[0]
    assert raw.y_range[1] < 10 and raw.clipped == 3
    smoothed = build_report(logdir, _options(tmp_path)).charts[0]
    # the smoothed line rises after each spike: the range holds it, the spikes stay out
    assert 100 < smoothed.y_range[1] < 1000 and smoothed.clipped == 3
    assert smoothed.y_range[1] >= smoothed.lines[0].smoothed.max()
    full = build_report(logdir, _options(tmp_path, ignore_outliers=False)).charts[0]
    assert full.y_range[1] >= 1000 and full.clipped == 0
    build(_options(tmp_path, runs_dir=str(tmp_path / "logs")))
    html = (tmp_path / "site" / "index.html").read_text()
    assert "3 raw points outside the range" in html


def test_posts_of_one_blog_do_not_replace_each_other(tmp_path):
    site = tmp_path / "site"
    build(_options(tmp_path, format="jekyll", title="First report"))
    build(_options(tmp_path, format="jekyll", title="Second report"))
    posts = sorted(p.name for p in (site / "_posts").iterdir())
    assert posts == ["2021-05-24-first-report.md", "2021-05-24-second-report.md"]
    # rebuilding the first with one tag removes only its own stale chart
    build(_options(tmp_path, format="jekyll", title="First report", tags="line"))
    first = sorted(p.name for p in (site / "assets/images/first-report").iterdir())
    second = sorted(p.name for p in (site / "assets/images/second-report").iterdir())
    assert first == ["tutorial-line.csv", "tutorial-line.png"]
    assert len(second) == 4
    assert sorted(p.name for p in (site / "_posts").iterdir()) == posts


def test_manifest_of_an_earlier_version_is_still_read(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("old report")
    digest = hashlib.sha256(b"old report").hexdigest()  # 0.1 recorded sha256 too
    (site / ".tbreport-manifest.json").write_text(
        f'{{"tool": "tbreport", "files": {{"index.html": "{digest}"}}}}\n'
    )
    build(_options(tmp_path))  # index.html was tbreport's: replaced, not refused
    assert "tutorial/poly" in (site / "index.html").read_text()


def test_progress_on_stderr_unless_quiet(tmp_path, torch_writer):
    w = torch_writer("many")
    for s in range(3):
        for t in range(9):
            w.add_scalar(f"m/t{t}", s * t, s)
    w.close()
    args = ["build", str(tmp_path / "logs"), "--out", str(tmp_path / "o"), "--date", DATE]
    loud = CliRunner().invoke(main, args)
    assert loud.exit_code == 0, loud.output
    assert "Drawing charts" in loud.stderr and "Built 9 chart(s) for 1 run(s)" in loud.stderr
    quiet = CliRunner().invoke(main, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_build_from_python_raises_on_a_gated_regression(tmp_path):
    from tbreport.pipeline import RegressionError

    options = _options(
        tmp_path,
        baseline="run_1",
        fail_on_regression=True,
        gates={"tutorial/line": 0.0},
        directions={"tutorial/line": "max"},
    )
    with pytest.raises(RegressionError, match="1 gate\\(s\\) got worse than the baseline") as err:
        build(options)
    # the report is written before the gate fails, and the result rides on the error
    assert (tmp_path / "site" / "index.html").is_file()
    assert err.value.exit_code == 1 and err.value.result.report.comparison is not None
    # the same options without the gate build fine
    build(_options(tmp_path, baseline="run_1"))


def test_the_opening_names_at_most_eight_runs(tmp_path, torch_writer):
    # a sweep's opening sentence must not list every run (the runs table does)
    for r in range(12):
        w = torch_writer(f"run_{r:02d}")
        w.add_scalar("loss", 1.0 / (r + 1), 0)
        w.add_scalar("loss", 0.5 / (r + 1), 1)
        w.close()
    build(_options(tmp_path, runs_dir=str(tmp_path / "logs")))
    html = (tmp_path / "site" / "index.html").read_text()
    lead = re.search(r'<p class="lead">(.*?)</p>', html, re.S)[1]
    assert "run_07" in lead and "run_08" not in lead and "and 4 more, listed under Runs" in lead
    assert all(f"run_{r:02d}" in html for r in range(12))  # every run in the runs table
