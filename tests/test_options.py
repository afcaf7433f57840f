"""Options: the one spec, the click options and config keys made from it, and the README's
table, which must equal what the spec says."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.options import ConfigError, Options, make_options, readme_table, specs

ROOT = Path(__file__).resolve().parent.parent
DATE = "2021-05-24 20:41:00 -0400"


def test_readme_option_table_is_the_spec(update_golden):
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"<!-- options: made from .*?-->\n(.*?)<!-- options: end -->", text, re.S)
    assert match, "README.md lost its option table markers"
    if update_golden:
        readme.write_text(text.replace(match[1], readme_table()), encoding="utf-8")
    assert match[1] == readme_table(), "README option table is stale: pytest --update-golden"


def test_every_spec_flag_is_a_build_option_and_nothing_else():
    build = main.commands["build"]
    flags = {o for p in build.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
    declared = {spec.flag for _, spec in specs() if spec.flag} | {
        f"--no-{spec.flag[2:]}" for _, spec in specs() if spec.type == "switch"
    }
    # the command's own flags, not build options
    assert flags - declared == {"--config", "--json"}
    assert declared <= flags


def test_every_option_is_a_config_key(tmp_path, monkeypatch):
    # each spec'd field can be set from tbreport.toml under its dashed name
    for field, spec in specs():
        if field.name in ("directions", "gates"):
            continue
        value = {"flag": True, "switch": False, "float": 0.5, "int": 7, "choice": None}.get(
            spec.type, "x"
        )
        if spec.type == "choice":
            value = spec.allowed()[-1]
        try:
            options = make_options({}, {field.name.replace("_", "-"): value}, "tbreport.toml")
        except ConfigError:
            continue  # a value this option's check refuses (e.g. a URL): checked below
        assert getattr(options, field.name) is not None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("smoothing", 1.5, "smoothing 1.5 is out of range"),
        ("x-axis", "epoch", "x-axis must be one of step, relative, wall"),
        ("max-points", 2, "max-points must be at least 4"),
        ("tags", "(", "is not a valid regular expression"),
        ("marker-id", "a b", "may use only letters"),
        ("strict", "yes", "strict must be true or false"),
        ("date", "yesterday", "cannot read date"),
        ("image-base-url", "ftp://x", "must be an http(s) URL"),
    ],
)
def test_bad_values_name_the_setting_and_the_fix(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_options({}, {key: value}, "tbreport.toml")


def test_cli_wins_over_the_config_file():
    options = make_options({"smoothing": 0.2}, {"smoothing": 0.8, "x-axis": "wall"}, "t.toml")
    assert (options.smoothing, options.x_axis) == (0.2, "wall")
    assert dataclasses.replace(Options(), smoothing=0.2, x_axis="wall") == options


def test_config_file_and_flags(tmp_path, monkeypatch):
    (tmp_path / "tbreport.toml").write_text(
        f'out = "{tmp_path / "from-config"}"\nsmoothing = 0.25\ndate = "{DATE}"\nquiet = true\n'
        '[directions]\n"line" = "max"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", str(fixture_logdir("quickstart"))])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "from-config" / "index.html").read_text()
    assert "weight 0.25" in html and "higher is better" in html
    result = CliRunner().invoke(
        main, ["build", str(fixture_logdir("quickstart")), "--smoothing", "0.5"]
    )
    assert "weight 0.5" in (tmp_path / "from-config" / "index.html").read_text()
    (tmp_path / "tbreport.toml").write_text("smoothin = 0.3\n")
    result = CliRunner().invoke(main, ["build", str(fixture_logdir("quickstart"))])
    assert result.exit_code == 2
    assert "unknown setting 'smoothin' (did you mean 'smoothing'?)." in result.output
    # nothing near: every setting is listed
    (tmp_path / "tbreport.toml").write_text("colour_scheme = 1\n")
    result = CliRunner().invoke(main, ["build", str(fixture_logdir("quickstart"))])
    assert result.exit_code == 2 and "Known settings: " in result.output
    assert "smoothing" in result.output.split("Known settings: ")[1]


def test_pyproject_tool_table_is_read(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.tbreport]\nformat = "jekyll"\nout = "{tmp_path / "blog"}"\nquiet = true\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", str(fixture_logdir("quickstart")), "--date", DATE])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "blog" / "_posts").iterdir())


def test_a_config_file_that_is_not_utf8_or_not_a_file_is_a_clear_error(tmp_path):
    from tbreport.options import find_config

    binary = tmp_path / "tbreport.toml"
    binary.write_bytes(b'smoothing = 0.5\ntitle = "\xff"\n')
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 25\); save it as UTF-8"):
        find_config(str(binary))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        find_config(None, cwd=tmp_path)  # found in the working directory alike
    with pytest.raises(ConfigError, match=f"Config file '{tmp_path}' is not a file"):
        find_config(str(tmp_path))
