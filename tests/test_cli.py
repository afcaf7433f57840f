"""The command line: exact messages and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main


def test_ls_table_lists_runs_tags_and_points():
    result = CliRunner().invoke(main, ["ls", str(fixture_logdir("quickstart"))])
    assert result.exit_code == 0, result.output
    assert "2 run(s), 400 scalar point(s)" in result.output
    assert "run_1" in result.output and "tutorial/poly" in result.output
    assert "0..99" in result.output


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
