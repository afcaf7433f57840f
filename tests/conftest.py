"""Shared test helpers: fixture logdirs written by real writers, and event-file crafting."""

from __future__ import annotations

import gc
import itertools
import json
import math
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

# Each xdist worker and each interpreter a test starts would otherwise compile the test modules
# (with pytest's assertion rewriting) and tbreport's own from source every run: 3-5 s a
# worker when PYTHONDONTWRITEBYTECODE is set. The __pycache__ folders are gitignored, and
# Python checks each file against its source's mtime and size before it uses it.
sys.dont_write_bytecode = False

FIXTURES = Path(__file__).parent / "fixtures" / "logdirs"


def fixture_logdir(name: str) -> Path:
    return FIXTURES / name


def expected(name: str) -> dict:
    return json.loads((FIXTURES / name / "expected.json").read_text())


def as_floats(values: list) -> np.ndarray:
    table = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    return np.array([table[v] if isinstance(v, str) else v for v in values], dtype=np.float64)


def frame_record(data: bytes) -> bytes:
    """TFRecord framing exactly as writers do it (uses tensorboard's own masked CRC)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


class _SessionCaches:
    """Per test process: matplotlib's config folder (its font list is built once, not again in
    every fresh interpreter a test starts), every built-in template compiled by Jinja as a
    build keeps them in its cache folder's ``templates/``, and fresh cache folders."""

    def __init__(self, base: Path) -> None:
        import jinja2

        from tbreport.formats.render import Renderer

        self.base = base
        self.matplotlib = base / "matplotlib"
        self.templates = base / "templates"
        self.templates.mkdir(mode=0o700)
        renderer = Renderer(None, self.templates)
        for autoescape in (True, False):
            env = renderer.environment(autoescape)
            for name in env.list_templates():
                try:
                    env.get_template(name)
                except (jinja2.TemplateError, UnicodeDecodeError):
                    pass  # not kept: the build that uses it compiles it and reports the error
        self._count = itertools.count()

    def new_home(self) -> Path:
        """A new $XDG_CACHE_HOME whose tbreport cache folder has the compiled templates
        (numbered here: pytest's mktemp lists the whole base folder each time)."""
        home = self.base / f"xdg-{next(self._count)}"
        root = home / "tbreport"
        root.mkdir(mode=0o700, parents=True)
        # a link to the one folder, not 100 files per test (pytest deletes old runs' folders)
        (root / "templates").symlink_to(self.templates, target_is_directory=True)
        return home


@pytest.fixture(scope="session")
def _session_caches(tmp_path_factory) -> _SessionCaches:
    return _SessionCaches(tmp_path_factory.mktemp("session-caches"))


def _point_caches(monkeypatch: pytest.MonkeyPatch, caches: _SessionCaches) -> None:
    monkeypatch.setenv("MPLCONFIGDIR", str(caches.matplotlib))
    monkeypatch.setenv("XDG_CACHE_HOME", str(caches.new_home()))
    # the fixtures' event files are tiny: the cache keeps them all, as it keeps real ones
    monkeypatch.setenv("TBREPORT_CACHE_MIN_SIZE", "0")


@pytest.fixture(autouse=True)
def _own_cache_folder(monkeypatch, _session_caches):
    """Each test builds with a cache folder of its own, never the user's ~/.cache/tbreport:
    its decode and chart caches cold, as in a first build; its compiled templates there as
    any earlier build leaves them (Jinja compiles a template again if its source changed;
    compiling and loading them is tested in test_cache.py, with --cache). Tests of the
    cache pass --cache or set XDG_CACHE_HOME."""
    _point_caches(monkeypatch, _session_caches)


@pytest.fixture(scope="module", autouse=True)
def _module_cache_folder(_session_caches):
    """The same for a module's fixtures, which are made before any test's own fixtures
    (autouse ones first): a build there never uses the user's cache either."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _point_caches(monkeypatch, _session_caches)
        yield


_MODULES_FROZEN = [0]


@pytest.fixture(autouse=True)
def _fewer_full_collections():
    """Each of Python's full garbage collections walks every object, and with torch,
    matplotlib and tensorboard imported that took 3-5 s a worker. After a test that imported
    many modules, what is left (modules, their tables, long-lived fixtures) moves to the
    permanent generation: the test's garbage is collected first, and later garbage as ever."""
    yield
    if len(sys.modules) > _MODULES_FROZEN[0] + 100:
        gc.collect()
        gc.freeze()
        _MODULES_FROZEN[0] = len(sys.modules)


@pytest.fixture(scope="module")
def browser():
    """Playwright driving Debian's Chromium, one per test module (skipped without them)."""
    import sitecheck

    if not sitecheck.have_chromium():
        pytest.skip("needs Debian's chromium and PyPI playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=sitecheck.chromium_path(), args=sitecheck.CHROMIUM_ARGS
        )
        yield b
        b.close()


@pytest.fixture
def torch_writer(tmp_path):
    """Factory for real torch SummaryWriters under tmp_path."""
    from torch.utils.tensorboard import SummaryWriter

    writers = []

    def make(run: str = "run", **kwargs):
        w = SummaryWriter(log_dir=str(tmp_path / "logs" / run), **kwargs)
        writers.append(w)
        return w

    yield make
    for w in writers:
        w.close()


def event_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.iterdir() if "tfevents" in p.name)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``-n`` and no ``--dist``: xdist's work stealing, where an idle worker takes tests
    queued on a busy one (the default "load" leaves them queued: with -n 2 one worker ran
    13 s after the other had finished)."""
    given = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    if config.getvalue("dist") != "load" or any(
        a in ("-d", "--distload", "--dist") or a.startswith("--dist=") for a in given
    ):
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite golden files (tests/golden) and the example site (site/) from the code.",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


# Tests that run real outside tools (Jekyll, Chromium, git remotes, pip into a venv, an S3
# server, a Dask cluster, a notebook kernel, fresh
# interpreters): `pytest -m "not real_tools"` is the quick loop without them.
REAL_TOOL_MODULES = {
    "test_real_tools", "test_action", "test_publish", "test_registry",
    "test_remote", "test_executor", "test_layout", "test_notebook", "test_serve_live",
}  # fmt: skip
REAL_TOOL_FIXTURES = {"browser", "built_site", "site_builds"}
REAL_TOOL_WORDS = ("jekyll", "chromium", "sitecheck", "seo_tag", "wheel", "cold_caches")


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__ if item.module else ""
        if (
            module in REAL_TOOL_MODULES
            or REAL_TOOL_FIXTURES & set(getattr(item, "fixturenames", ()))
            or any(word in item.name for word in REAL_TOOL_WORDS)
        ):
            item.add_marker(pytest.mark.real_tools)


#: the quick-start article's post date, used by every build test
DATE = "2021-05-24 20:41:00 -0400"


def build_options(out: Path, runs_dir: Path | str | None = None, **kw):
    """Options as the CLI makes them: the quick-start runs into ``out``, quiet, dated like the
    article; ``kw`` as command-line values (e.g. ``format="markdown"``)."""
    from tbreport.options import make_options

    cli = {
        "runs_dir": str(runs_dir or fixture_logdir("quickstart")),
        "out": str(out),
        "date": DATE,
        "quiet": True,
        **kw,
    }
    return make_options(cli, {}, None)
