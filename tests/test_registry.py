"""Registry: formats and kinds of other packages, found through entry points.

The example plugin of docs/extending.md (tests/plugins/tbreport-plaintext) and one that cannot
be imported (tests/plugins/tbreport-broken) are really installed with pip into a virtual
environment of their own, made once per test session.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tbreport.cli import main
from tbreport.registry import PluginError, get_format

ROOT = Path(__file__).parent.parent
PLUGINS = Path(__file__).parent / "plugins"


def _run(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH: the venv imports this checkout's tbreport, as the main interpreter does
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, check=check, timeout=300
    )


def _venv_with(tmp_path_factory: pytest.TempPathFactory, *packages: str) -> Path:
    """The python of a venv that sees tbreport and its dependencies, with ``packages``
    (folders of tests/plugins) installed."""
    venv = tmp_path_factory.mktemp("plugin-venv")
    # no pip of its own: the main interpreter's pip, seen through the system site-packages,
    # installs into the venv it runs in (no ensurepip, no network)
    _run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    python = venv / "bin" / "python"
    if sys.prefix != sys.base_prefix:
        # run from a venv, --system-site-packages sees the base interpreter's, not this one's
        where = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
        outer = "\n".join(site.getsitepackages())
        Path(where.stdout.strip(), "_tbreport_test_outer.pth").write_text(outer + "\n")
    _run(
        python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        *(PLUGINS / p for p in packages),
    )  # fmt: skip
    return python


@pytest.fixture(scope="session")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the example format and a format that cannot be imported."""
    return _venv_with(tmp_path_factory, "tbreport-plaintext", "tbreport-broken")


@pytest.fixture(scope="session")
def broken_kind_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with a data kind that cannot be imported: every build uses every kind."""
    return _venv_with(tmp_path_factory, "tbreport-broken-kind")


#: (run, tag) -> values; names hold line breaks and terminal escapes, as directory names can
HOSTILE_RUN = "evil\n\x1b[31mrun"
HOSTILE_TAG = "eval/acc\r\nforged: line"
DATA = {
    ("base", "loss"): [1.0, 0.5, 0.25],
    (HOSTILE_RUN, "loss"): [2.0, 1.5],
    ("base", HOSTILE_TAG): [0.5, 0.75],
    (HOSTILE_RUN, HOSTILE_TAG): [0.625],
}


@pytest.fixture
def logdir(torch_writer, tmp_path: Path) -> Path:
    writers = {run: torch_writer(run) for run, _ in DATA}
    for (run, tag), values in DATA.items():
        for step, value in enumerate(values):
            writers[run].add_scalar(tag, value, step)
    for writer in writers.values():
        writer.flush()
    return tmp_path / "logs"


def test_installed_format_builds_with_the_names_made_inert(
    venv_python: Path, logdir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["build", str(logdir), "--format", "plaintext", "--out", str(out), "-q"]
    args += ["--title", "Sweep\n\x1b]0;pwned\x07"]
    # `tbreport build ...`, then which modules it imported
    done = _run(venv_python, "-c", _CLI_THEN_MODULES, repr(args))
    lines = (out / "report.txt").read_text(encoding="utf-8").split("\n")
    assert lines[:2] == ["Sweep \u241b]0;pwned\u2407", ""] and lines[-1] == ""
    # one line per tag, each run's last value; the report orders the tags
    run = "evil \u241b[31mrun"
    assert sorted(lines[2:-1]) == sorted(
        ["loss: base=0.25, " + run + "=1.5", "eval/acc forged: line: base=0.75, " + run + "=0.625"]
    )
    assert sorted(p.name for p in out.iterdir()) == [".tbreport-manifest.json", "report.txt"]
    # a text-only format draws nothing, and the broken plugin beside it was never imported
    imported = set(done.stdout.split())
    assert "tbreport_plaintext" in imported
    assert not imported & {"matplotlib", "tbreport_broken"}


_CLI_THEN_MODULES = """
import ast, sys
from tbreport.cli import main
main(ast.literal_eval(sys.argv[1]), standalone_mode=False)
print(*sys.modules)
"""


def test_help_lists_installed_formats(venv_python: Path) -> None:
    help_text = _run(venv_python, "-m", "tbreport", "build", "--help").stdout
    choices = re.search(r"--format \[([^\]]+)\]", help_text)
    assert choices is not None, help_text
    assert re.sub(r"\s", "", choices.group(1)).split("|") == [
        "html", "jekyll", "markdown", "broken", "plaintext",
    ]  # fmt: skip


def test_format_not_installed_here_is_unknown(logdir: Path, tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"^No output format named 'plaintext'\. Known: html, "):
        get_format("plaintext")
    result = CliRunner().invoke(
        main, ["build", str(logdir), "--format", "plaintext", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--format': 'plaintext' is not one of 'html'" in result.output
    assert not (tmp_path / "out").exists()


def test_entry_point_that_fails_to_import_names_it_and_the_fix(
    venv_python: Path, logdir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = _run(
        venv_python, "-m", "tbreport", "build", logdir, "--format", "broken", "--out", out,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "Error: The output format 'broken' (entry point 'tbreport_broken:FORMAT' of group "
        "'tbreport.formats', from the package 'tbreport-broken') cannot be loaded: No module "
        "named 'tbreport_broken_dependency'. Install what it needs (`pip install "
        "tbreport-broken`) or uninstall it (`pip uninstall tbreport-broken`)."
    ), done.stderr
    assert not out.exists()


def test_a_kind_that_fails_to_import_fails_the_build_clearly(
    broken_kind_python: Path, logdir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = _run(broken_kind_python, "-m", "tbreport", "build", logdir, "--out", out, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "Error: The data kind 'broken' (entry point 'tbreport_broken_kind:KIND' of group "
        "'tbreport.kinds', from the package 'tbreport-broken-kind') cannot be loaded: "
    ), done.stderr
    assert not out.exists()
    names = _run(
        broken_kind_python, "-c", "from tbreport.registry import kind_names\nprint(kind_names())"
    )
    assert names.stdout.strip() == "('scalars', 'histograms', 'broken')"


def test_docs_example_is_the_installed_package() -> None:
    """Each ``<!-- file: PATH -->`` block of docs/extending.md is that file, verbatim."""
    docs = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```$", docs, re.M | re.S)
    paths = [path for path, _ in blocks]
    assert "tests/plugins/tbreport-plaintext/tbreport_plaintext.py" in paths
    assert "tests/plugins/tbreport-plaintext/pyproject.toml" in paths
    for path, code in blocks:
        assert code == (ROOT / path).read_text(encoding="utf-8"), f"docs/extending.md: {path}"
