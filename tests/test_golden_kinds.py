"""Golden files for one logdir holding every kind: the torch_kinds (text, PR curves, custom
scalars, graph), media (images, audio), torch_histograms and hparams_torch fixtures side by side.

Update with ``python -m pytest tests/test_golden_kinds.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from conftest import fixture_logdir
from test_golden import GOLDEN, _check, _strip_data_uris

from tbreport.cli import main

#: folder in the logdir -> fixture copied there (run names stay unique: media has a "torch" too)
PARTS = {
    "kinds": "torch_kinds",
    "media": "media",
    "histograms": "torch_histograms",
    "hparams": "hparams_torch",
}


def _build(tmp_path: Path, fmt: str, monkeypatch, *extra: str) -> Path:
    logs = tmp_path / "logs"
    for folder, fixture in PARTS.items():
        shutil.copytree(
            fixture_logdir(fixture), logs / folder, ignore=shutil.ignore_patterns("*.json")
        )
    # relative paths: the data notes name files, and the golden text must not hold tmp_path
    monkeypatch.chdir(tmp_path)
    args = ["build", "logs", "--format", fmt, "--out", "out", "--title", "Every kind",
            "--date", "2024-05-01 12:00:00 +0000", "--quiet", *extra]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def test_golden_every_kind_html(tmp_path, update_golden, monkeypatch):
    out = _build(tmp_path, "html", monkeypatch)
    html = _strip_data_uris((out / "index.html").read_text())
    for shown in ("Precision-recall curves of pr/class0", "Custom scalars chart band"):
        assert shown in html
    _check(GOLDEN / "every_kind.html", html, update_golden)


def test_every_kind_html_links_its_csv(tmp_path, monkeypatch):
    """The page's script makes the CSV of the charts it draws; every other element's CSV
    link is a data URI made at build (it was href="None", a link to a file named None)."""
    import re

    out = _build(tmp_path, "html", monkeypatch)
    links = re.findall(r'<a download="([^"]+)" href="([^"]*)"', (out / "index.html").read_text())
    assert links and not [name for name, href in links if not href.startswith("data:text/csv;")]
    names = {name for name, _ in links}
    for kind in ("hparams--table.csv", "pr-class0.csv"):
        assert kind in names


def test_fallback_none_keeps_the_images_the_script_does_not_draw(tmp_path, monkeypatch):
    """--fallback none leaves out the images of the charts the script draws; histograms, PR
    curves, custom scalars and the hparams charts have no other view (they were src="None")."""
    import re

    out = _build(tmp_path, "html", monkeypatch, "--fallback", "none")
    html = (out / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]*)" alt="([^"]*)"', html)
    assert sources and all(src.startswith("data:image/") for src, _ in sources)
    alts = " ".join(alt for _, alt in sources)
    for shown in ("Histograms of", "Precision-recall curves of", "Parallel coordinates"):
        assert shown in alts
    # no image of a chart the script draws
    assert "Chart of " not in alts and "allow JavaScript to see it" in html


def test_golden_every_kind_markdown(tmp_path, update_golden, monkeypatch):
    out = _build(tmp_path, "markdown", monkeypatch)
    _check(GOLDEN / "every_kind.md", (out / "report.md").read_text(), update_golden)
