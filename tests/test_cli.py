"""The command line: exact messages and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main


def test_ls_table_lists_runs_tags_and_points():
    result = CliRunner().invoke(main, ["ls", str(fixture_logdir("quickstart"))])
    assert result.exit_code == 0, result.output
    assert "2 run(s), 400 scalar point(s)" in result.output
    assert "run_1" in result.output and "tutorial/poly" in result.output
    assert "0..99" in result.output


def test_ls_counts_only_the_non_finite_values_there_are(tmp_path, torch_writer):
    w = torch_writer("a")
    for step, value in enumerate([1.0, float("nan"), 2.0]):
        w.add_scalar("loss", value, step)
    w.add_scalar("acc", float("inf"), 0)
    w.close()
    result = CliRunner().invoke(main, ["ls", str(tmp_path / "logs")])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ")}
    assert rows["loss"].rstrip().endswith("1 nan") and "inf" not in rows["loss"]
    assert rows["acc"].rstrip().endswith("1 inf") and "nan" not in rows["acc"]


def test_ls_json_for_machines():
    result = CliRunner().invoke(main, ["ls", "--json", str(fixture_logdir("torch"))])
    assert result.exit_code == 0
    data = json.loads(result.output)
    runs = {r["name"]: r for r in data["runs"]}
    restart = runs["restart"]["scalars"][0]
    assert (restart["points"], restart["records"], restart["dropped"]) == (150, 200, 50)
    assert {o["tag"]: o["plugin"] for o in runs["nonscalar"]["others"]} == {
        "hist/w": "histograms",
        "img": "images",
        "note/text_summary": "text",
    }
    assert any(w["kind"] == "restart" for w in data["warnings"])
    keep_all = CliRunner().invoke(
        main, ["ls", "--json", "--restarts", "keep-all", str(fixture_logdir("torch"))]
    )
    runs = {r["name"]: r for r in json.loads(keep_all.output)["runs"]}
    assert runs["restart"]["scalars"][0]["points"] == 200


def test_ls_defaults_to_runs_folder(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(main, ["ls"])
    assert result.exit_code == 2
    assert "Error: Log directory 'runs' does not exist." in result.output


def test_ls_no_event_files_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["ls", str(tmp_path)])
    assert result.exit_code == 2
    assert f"No TensorBoard event files under '{tmp_path}'" in result.output
    assert "events.out.tfevents.*" in result.output


def test_python_dash_m_works():
    out = subprocess.run(
        [sys.executable, "-m", "tbreport", "--version"], capture_output=True, text=True, check=True
    )
    assert "tbreport, version" in out.stdout


HEAVY = ("numpy", "matplotlib", "jinja2", "tensorboard", "google.protobuf")


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from tbreport.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split("\n"))


def test_help_imports_nothing_heavy():
    # `tbreport --help` must be instant: no numpy (250 ms), matplotlib, jinja2 or protobufs
    for args in (["--help"], ["ls", "--help"], ["build", "--help"], ["publish", "--help"]):
        loaded = _modules_after(args)
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
        assert not heavy, f"tbreport {' '.join(args)} imported {heavy[:5]}"
    # the check can fail: a real command imports them
    assert "numpy" in _modules_after(["ls", str(fixture_logdir("quickstart"))])


def test_the_import_layers_hold():
    # the contracts in pyproject.toml: one pipeline in one direction, a model importing nothing
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()", "--no-cache"],
        capture_output=True, text=True, cwd=root, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_an_out_named_like_a_file_is_refused_unless_that_folder_exists(tmp_path):
    """`--out report.html` made a folder report.html holding index.html, without a word."""
    runs = str(fixture_logdir("quickstart"))
    result = CliRunner().invoke(main, ["build", runs, "--out", str(tmp_path / "report.html")])
    assert result.exit_code == 2, result.output
    assert "looks like a file name, but the output is a folder" in result.output
    assert not (tmp_path / "report.html").exists()
    (tmp_path / "notes.md").mkdir()  # a folder of that name: the user's own choice
    result = CliRunner().invoke(
        main, ["build", runs, "--out", str(tmp_path / "notes.md"), "-q", "--format", "markdown"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.md" / "report.md").is_file()


@pytest.mark.parametrize(
    "command", [["build", "--out", "s3://bucket/site"], ["export", "--out", "gs://b/points.csv"]]
)
def test_an_out_that_is_a_url_is_refused(tmp_path, monkeypatch, command):
    """`--out s3://bucket/site` wrote a local folder `s3:/bucket/site` and said it was done."""
    monkeypatch.chdir(tmp_path)
    runs = str(fixture_logdir("quickstart"))
    name, flag, url = command
    result = CliRunner().invoke(main, [name, runs, flag, url])
    assert result.exit_code == 2, result.output
    assert f"--out: '{url}' is a URL, but tbreport writes the " in result.output
    assert "Give a local path, then copy it" in result.output
    assert list(tmp_path.iterdir()) == []
