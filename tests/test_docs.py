"""docs/json.md checked against what `tbreport build --json` really prints, so they cannot drift.

The "build --json" section documents each object of the output in a table whose first header
cell names it (`key` for the top level, `` `comparison.tags[]` key `` for the entries of that
list); its example must be what the build it describes prints.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.model import DataWarning

JSON_MD = Path(__file__).resolve().parent.parent / "docs" / "json.md"
# the tbreport.toml the example in docs/json.md was built with
EXAMPLE_CONFIG = '[directions]\n"tutorial/poly" = "max"\n\n[gates]\n"tutorial/poly" = 0.0\n'


def section(title: str) -> str:
    text = JSON_MD.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/json.md has no '## {title}' section"
    return match[1]


def tables(text: str) -> dict[str, set[str]]:
    """Each Markdown table's first header cell -> the `names` in the first cell of its rows."""
    found: dict[str, set[str]] = {}
    for block in re.findall(r"(?:^\|.*\n)+", text, re.M):
        rows = [
            [cell.strip() for cell in line.strip("|").split("|")] for line in block.splitlines()
        ]
        header, body = rows[0][0], rows[2:]
        assert header not in found, f"two tables headed {header!r}"
        found[header] = {name for row in body for name in re.findall(r"`([^`]+)`", row[0])}
    return found


def object_paths(value: Any, path: str = "") -> dict[str, set[str]]:
    """Every object in a JSON value by its path (`a.b`, `a.list[]` for a list's entries)."""
    paths: dict[str, set[str]] = {}
    if isinstance(value, dict):
        paths[path] = set(value)
        for key, item in value.items():
            paths.update(object_paths(item, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for item in value:
            paths.update(object_paths(item, f"{path}[]"))
    return paths


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`tbreport build runs --baseline run_1 --json` as the example in docs/json.md was made."""
    shutil.copytree(
        fixture_logdir("quickstart"), tmp_path / "runs", ignore=shutil.ignore_patterns("*.json")
    )
    (tmp_path / "tbreport.toml").write_text(EXAMPLE_CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "runs", "--baseline", "run_1", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_build_json_keys_are_the_documented_ones(built):
    documented = tables(section("build --json"))
    real = object_paths(built)
    assert built["comparison"]["regressions"], "the example should show a regression"
    # warning entries have the shape documented once, at the top
    assert not built["warnings"]
    headers = {("" if h == "key" else h.removesuffix(" key").strip("`")): h for h in documented}
    assert set(headers) == set(real), "a table per object of the output, and no other"
    for path, header in headers.items():
        assert documented[header] == real[path], f"keys of {path or 'the top level'}"


def test_build_json_example_is_what_that_build_prints(built):
    (example,) = re.findall(r"^```json\n(.*?)^```$", section("build --json"), re.M | re.S)
    assert json.loads(example) == built


def test_warning_keys_are_the_documented_ones():
    intro = JSON_MD.read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert tables(intro)["key"] == set(DataWarning("truncated", "message").to_dict())


def test_every_warning_kind_is_documented_and_no_other():
    from tbreport.model import WarningKind

    section = JSON_MD.read_text(encoding="utf-8").split("\n## Warning kinds\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z-]+)` \|", section, re.M)
    assert documented == [k.value for k in WarningKind]


def test_an_unknown_warning_kind_is_a_bug():
    with pytest.raises(ValueError):
        DataWarning("made-up", "message")


def test_ls_json_keys_are_the_documented_ones(tmp_path):
    logdir = shutil.copytree(fixture_logdir("torch"), tmp_path / "logs")
    result = CliRunner().invoke(main, ["ls", str(logdir), "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    documented = tables(section("ls --json"))
    run = next(r for r in got["runs"] if r["scalars"])
    assert documented["key"] == set(got)
    assert documented["`runs[]` key"] == set(run)
    assert documented["`runs[].scalars[]` key"] == set(run["scalars"][0])
